"""Policy runtime (load_policy / act / value) and value diagnostics."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from training_fixtures import make_robot_store, make_video_store
from vptr_training import diagnostics
from vptr_training.errors import CheckpointError, VptrError
from vptr_training.policy import load_policy
from vptr_training.robot.conventions import ACTION_HIGH, ACTION_LOW
from vptr_training.training import runner
from vptr_training.training.config import load_config

TINY = ['image_size=16', 'batch_size=8', 'num_workers=0', 'progress=false', 'log_every=2',
        'agent.latent_dim=32', 'encoder.init_from=']


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('policy')
    make_robot_store(root / 'prior', [('put_a', 9, True), ('put_b', 8, False)])
    make_robot_store(root / 'target', [('target', 8, True), ('target', 7, False),
                                       ('target', 9, True), ('target', 6, False)],
                     seed=2, val_tasks=('target',))
    make_video_store(root / 'video', [8, 9])
    data = [f'data.prior={root / "prior"}', f'data.target={root / "target"}']
    runner.train(load_config('demo_train', TINY + data + [
        'steps=3', 'agent.critic_hidden_dims=[32,32]', 'agent.actor_hidden_dims=[32,32]',
        f'out_dir={root / "cql"}']))
    runner.train(load_config('bc_finetune', TINY + data + [
        'steps=2', 'agent.actor_hidden_dims=[32,32]', 'encoder.freeze=false',
        'data.target_weight=0',
        f'out_dir={root / "bc"}']))
    runner.train(load_config('demo_pretrain', TINY + [
        'steps=2', 'agent.hidden_dims=[16,16]', f'data.video={root / "video"}',
        f'out_dir={root / "icvf"}']))
    return root


def test_act_shape_range_and_any_image_size(runs):
    policy = load_policy(runs / 'cql')
    assert policy.spec['image_size'] == 16
    assert policy.task_names == ['put_a', 'put_b', 'target']
    rng = np.random.default_rng(0)
    state = np.array([0.3, 0.0, 0.1, 0.0, 0.0, 0.0, 1.0], np.float32)
    for shape in ((480, 640, 3), (16, 16, 3), (31, 17, 3)):
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        action = policy.act(image, state, 'target')
        assert action.shape == (7,) and action.dtype == np.float32
        assert np.all(action >= ACTION_LOW - 1e-6) and np.all(action <= ACTION_HIGH + 1e-6)
        assert np.array_equal(action, policy.act(image, state, 'target'))  # deterministic
    value = policy.value(image, state, 'put_a')
    assert isinstance(value, float) and np.isfinite(value)
    rerank = load_policy(runs / 'cql', mode='q-rerank')
    action = rerank.act(image, state, 'put_b')
    assert action.shape == (7,) and np.all(action <= ACTION_HIGH + 1e-6)
    assert all(not p.requires_grad or p.grad is None for p in policy.agent.parameters())


def test_bad_inputs(runs):
    policy = load_policy(runs / 'cql')
    image = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(VptrError, match=r"unknown task 'fly'; .*put_a, put_b, target"):
        policy.act(image, np.zeros(7), 'fly')
    with pytest.raises(VptrError, match='7 finite numbers'):
        policy.act(image, np.zeros(6), 'put_a')
    with pytest.raises(VptrError, match='uint8'):
        policy.act(image.astype(np.float32), np.zeros(7), 'put_a')
    with pytest.raises(VptrError, match='mode'):
        load_policy(runs / 'cql', mode='greedy')


def test_bc_and_pretrain_checkpoints(runs):
    bc = load_policy(runs / 'bc')
    assert bc.act(np.zeros((20, 20, 3), np.uint8), np.zeros(7), 'target').shape == (7,)
    with pytest.raises(CheckpointError, match='q-rerank needs a critic'):
        load_policy(runs / 'bc', mode='q-rerank')
    with pytest.raises(CheckpointError, match="'icvf' checkpoint has no policy"):
        load_policy(runs / 'icvf')
    with pytest.raises(CheckpointError, match='image_size is 16 in the checkpoint, '
                                              'expected 128'):
        load_policy(runs / 'cql', expect={'image_size': 128})


def test_loading_a_policy_never_unpickles(runs, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError('pickle used while loading a policy')
    for name in ('load', 'loads', 'Unpickler'):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(torch, 'load', forbidden)
    policy = load_policy(runs / 'cql')
    assert policy.act(np.zeros((16, 16, 3), np.uint8), np.zeros(7), 'put_a').shape == (7,)


def test_auroc():
    assert diagnostics.auroc([3, 4], [1, 2]) == 1.0
    assert diagnostics.auroc([1, 2], [3, 4]) == 0.0
    assert diagnostics.auroc([1, 3], [2, 2]) == 0.5
    assert diagnostics.auroc([2], [2]) == 0.5
    assert np.isnan(diagnostics.auroc([], [1]))


def test_value_diagnostics(runs, tmp_path):
    from vptr_training.data.store import EpisodeStore
    policy = load_policy(runs / 'cql')
    store = EpisodeStore(runs / 'target')
    values = diagnostics.episode_values(policy, store, 0)
    assert values.shape == (8,) and np.all(np.isfinite(values))
    # batched values agree with one-at-a-time values
    episode = store.episode(0)
    single = policy.value(np.asarray(episode['images'][3]), episode['states'][3], 'target')
    assert abs(single - float(values[3])) < 1e-4
    png = diagnostics.plot_episode_values({'success': values}, tmp_path / 'v.png')
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    result = diagnostics.value_separation(policy, store)        # the held-out (val) split
    assert (result.num_success, result.num_failure) == (2, 2)
    assert 0.0 <= result.auroc <= 1.0
    assert result.mean_gap == pytest.approx(result.success_mean - result.failure_mean)
    expected = np.mean([values.mean(), diagnostics.episode_values(policy, store, 2).mean()])
    assert result.success_mean == pytest.approx(expected, abs=1e-5)
    png = diagnostics.plot_value_separation(result, tmp_path / 'sep.png')
    assert png.stat().st_size > 1000
    stats = result.as_dict()
    assert set(stats) >= {'value_auroc', 'value_gap'}


def test_actions_are_unscaled_with_the_checkpoints_own_action_box(runs):
    """The spec's action box, not the code's current constants, maps [-1, 1] to raw units."""
    from vptr_training.policy import Policy
    policy = load_policy(runs / 'cql')
    spec = dict(policy.spec)
    spec['action_low'] = [2 * x for x in spec['action_low'][:6]] + [spec['action_low'][6]]
    spec['action_high'] = [2 * x for x in spec['action_high'][:6]] + [spec['action_high'][6]]
    wider = Policy(policy.agent, spec)
    image = np.full((16, 16, 3), 90, np.uint8)
    state = np.array([0.3, 0.0, 0.1, 0.0, 0.0, 0.0, 1.0], np.float32)
    np.testing.assert_allclose(wider.act(image, state, 'target')[:6],
                               2 * policy.act(image, state, 'target')[:6], rtol=1e-5)
