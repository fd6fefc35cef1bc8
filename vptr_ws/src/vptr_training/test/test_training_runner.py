"""The training loop: exact resume, phase hand-over, eval hooks, logs, frozen encoders."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file
import torch

from training_fixtures import make_robot_store, make_video_store
from vptr_training.algos import make_agent
from vptr_training.cli import main as cli_main
from vptr_training.errors import CheckpointError, ConfigError
from vptr_training.training import checkpoint as ck
from vptr_training.training import runner
from vptr_training.training.config import load_config, TrainConfig

TINY = ['image_size=16', 'batch_size=8', 'num_workers=0', 'progress=false', 'log_every=1',
        'agent.latent_dim=32']
TINY_CQL = TINY + ['agent.critic_hidden_dims=[32,32]', 'agent.actor_hidden_dims=[32,32]']


@pytest.fixture(scope='module')
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp('stores')
    make_video_store(root / 'video', [12, 15, 9])
    make_robot_store(root / 'prior', [('put_a', 10, True), ('put_b', 12, False),
                                      ('put_a', 8, True)])
    make_robot_store(root / 'target', [('target', 7, True), ('target', 6, False)], seed=1)
    return root


@pytest.fixture(scope='module')
def pretrained(stores, tmp_path_factory):
    out = tmp_path_factory.mktemp('runs') / 'pretrain'
    config = load_config('demo_pretrain', TINY + [
        'agent.hidden_dims=[32,32]', 'steps=3', f'data.video={stores / "video"}',
        f'out_dir={out}'])
    runner.train(config)
    return out


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def _cql_overrides(stores: Path, out: Path, *extra: str) -> list[str]:
    return TINY_CQL + [f'data.prior={stores / "prior"}', f'data.target={stores / "target"}',
                       'data.target_weight=0.3', 'encoder.init_from=', f'out_dir={out}', *extra]


def test_killed_and_resumed_run_matches_uninterrupted(stores, tmp_path):
    calls = {'kill_at': None}

    def hook(ctx):
        if ctx.step == calls['kill_at']:
            raise KeyboardInterrupt     # the run dies between two checkpoints
        return {'hook_step': float(ctx.step)}
    runner.register_eval_hook('test-killer', hook)
    # log_every does not divide save_every: the resumed run must restore the partial window
    common = ['steps=8', 'save_every=4', 'log_every=3', 'eval_every=1',
              'eval.hook=test-killer', 'seed=5']
    runner.train(load_config('demo_train', _cql_overrides(stores, tmp_path / 'a', *common)))
    calls['kill_at'] = 6
    with pytest.raises(KeyboardInterrupt):
        overrides = _cql_overrides(stores, tmp_path / 'b', *common)
        runner.train(load_config('demo_train', overrides))
    assert [r['step'] for r in _read_csv(tmp_path / 'b' / 'metrics.csv')][-1] == '6'
    assert ck.latest_checkpoint(tmp_path / 'b').name == 'step_00000004'
    calls['kill_at'] = None
    # resumed with a worker process this time: the data order does not depend on it
    runner.load_and_train(None, ['num_workers=1'], 'train', out_dir=str(tmp_path / 'b'),
                          resume=True)
    rows_a = _read_csv(tmp_path / 'a' / 'metrics.csv')
    rows_b = _read_csv(tmp_path / 'b' / 'metrics.csv')
    assert [r['step'] for r in rows_b] == ['3', '6', '8']
    timing = {'steps_per_s', 'data_wait_frac'}
    for row_a, row_b in zip(rows_a, rows_b):
        assert {k: v for k, v in row_a.items() if k not in timing} == \
            {k: v for k, v in row_b.items() if k not in timing}
    assert 'critic_loss' in rows_a[0] and 'actor_loss' in rows_a[0]
    final_a = load_file(str(tmp_path / 'a' / 'checkpoints' / 'step_00000008' /
                            'model.safetensors'))
    final_b = load_file(str(tmp_path / 'b' / 'checkpoints' / 'step_00000008' /
                            'model.safetensors'))
    assert final_a.keys() == final_b.keys()
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)
    for row in rows_a:
        assert 0.0 <= float(row['data_wait_frac']) <= 1.0 and float(row['steps_per_s']) > 0
    assert [r['hook_step'] for r in _read_csv(tmp_path / 'b' / 'eval.csv')] == \
        [f'{float(s)!r}' for s in range(1, 9)]
    assert list((tmp_path / 'a' / 'tb').glob('events.out.tfevents.*'))


def _encoders(agent: torch.nn.Module) -> dict[str, dict[str, torch.Tensor]]:
    return {name: module.state_dict() for name, module in agent.named_modules()
            if name.split('.')[-1] == 'encoder'}


def test_phase_hand_over_is_bit_exact(stores, pretrained, tmp_path):
    phase1 = ck.load_checkpoint(pretrained)
    assert phase1.spec['algo'] == 'icvf' and phase1.step == 3
    icvf_encoder = {k[len('value_net.encoder.'):]: v for k, v in phase1.model_state.items()
                    if k.startswith('value_net.encoder.')}
    assert icvf_encoder.keys() == phase1.encoder_state.keys()
    assert all(torch.equal(icvf_encoder[k], v) for k, v in phase1.encoder_state.items())
    # phase 2: every encoder of the CQL agent (critic, actor, targets) starts from phase 1
    config = load_config('demo_train', _cql_overrides(
        stores, tmp_path / 'train', f'encoder.init_from={pretrained}', 'steps=3'))
    data = runner.build_data(config)
    agent = make_agent(config, len(data.task_names))
    runner.init_from_previous_phases(config, agent, data)
    encoders = _encoders(agent)
    assert len(encoders) >= 2
    for name, state in encoders.items():
        assert state.keys() == phase1.encoder_state.keys(), name
        assert all(torch.equal(state[k], phase1.encoder_state[k]) for k in state), name
    assert data.task_names == ['put_a', 'put_b', 'target']
    # phase 2 through the command line, then phase 3 continues the whole agent
    args = ['train', '--config', 'demo_train', '--out', str(tmp_path / 'train')]
    assert cli_main(args + [o for o in config_overrides(config)]) == 0
    phase2 = ck.load_checkpoint(tmp_path / 'train')
    assert phase2.step == 3 and phase2.spec['task_names'] == ['put_a', 'put_b', 'target']
    finetune = load_config('demo_finetune', _cql_overrides(
        stores, tmp_path / 'finetune', f'init_from={tmp_path / "train"}', 'steps=2',
        'data.target_weight=0.1'))
    data3 = runner.build_data(finetune, task_names=phase2.spec['task_names'])
    agent3 = make_agent(finetune, len(data3.task_names))
    runner.init_from_previous_phases(finetune, agent3, data3)
    state3 = agent3.state_dict()
    assert state3.keys() == phase2.model_state.keys()
    assert all(torch.equal(state3[k], phase2.model_state[k]) for k in state3)
    for name, optimizer in agent3.optimizers().items():
        saved = phase2.optimizer_states[name]['state']
        assert saved.keys() == optimizer.state_dict()['state'].keys()
        for pid, values in optimizer.state_dict()['state'].items():
            assert all(torch.equal(values[k], saved[pid][k]) for k in values)
    summary = runner.train(finetune)
    assert summary['step'] == 2 and ck.load_checkpoint(tmp_path / 'finetune').step == 2


def config_overrides(config: TrainConfig) -> list[str]:
    keys = ('image_size', 'batch_size', 'num_workers', 'progress', 'log_every', 'steps')
    out = [f'{k}={getattr(config, k)}' for k in keys]
    out += [f'data.{k}={getattr(config.data, k)}' for k in ('prior', 'target', 'target_weight')]
    out += [f'encoder.init_from={config.encoder.init_from}', 'agent.latent_dim=32',
            'agent.critic_hidden_dims=[32,32]', 'agent.actor_hidden_dims=[32,32]']
    return out


def test_mismatched_init_checkpoint_is_refused(stores, pretrained, tmp_path):
    config = load_config('demo_train', _cql_overrides(
        stores, tmp_path / 'x', f'encoder.init_from={pretrained}', 'encoder.name=identity'))
    with pytest.raises(CheckpointError, match="encoder is 'small' in the checkpoint, "
                                              "expected 'identity'"):
        runner.train(config)
    config = load_config('demo_finetune', _cql_overrides(stores, tmp_path / 'y',
                                                         f'init_from={pretrained}'))
    with pytest.raises(CheckpointError, match='icvf'):
        runner.train(config)


def test_frozen_encoder_stays_at_phase_one_weights(stores, pretrained, tmp_path):
    config = load_config('bc_finetune', TINY + [
        'agent.actor_hidden_dims=[32,32]', f'data.prior={stores / "prior"}',
        f'data.target={stores / "target"}', f'out_dir={tmp_path / "bc"}', 'steps=3',
        f'encoder.init_from={pretrained}', 'encoder.freeze=true'])
    assert config.encoder.freeze is True
    agent = runner.train(config)['agent']
    phase1 = ck.load_checkpoint(pretrained).encoder_state
    encoders = _encoders(agent)
    assert encoders
    for state in encoders.values():
        assert all(torch.equal(state[k], phase1[k]) for k in phase1)
    rows = _read_csv(tmp_path / 'bc' / 'metrics.csv')
    assert len(rows) == 3 and 'bc_loss' in rows[0]


def test_eval_hook_registry(stores, tmp_path):
    seen = []

    def hook(ctx):
        seen.append((ctx.step, ctx.spec['algo'], ctx.args.get('k'), ctx.agent.training))
        return {'score': 1.5}
    runner.register_eval_hook('test-recorder', hook)
    config = load_config('demo_pretrain', TINY + [
        'agent.hidden_dims=[16,16]', 'steps=4', 'eval_every=2', 'eval.hook=test-recorder',
        'eval.args.k=7', f'data.video={stores / "video"}', f'out_dir={tmp_path / "p"}'])
    runner.train(config)
    assert seen == [(2, 'icvf', 7, False), (4, 'icvf', 7, False)]
    assert [r['score'] for r in _read_csv(tmp_path / 'p' / 'eval.csv')] == ['1.5', '1.5']
    with pytest.raises(ConfigError, match='not registered'):
        runner.get_eval_hook('no-such-hook')
    assert runner.get_eval_hook('vptr_training.diagnostics:value_separation_hook')
    assert runner.get_eval_hook('value-separation')


def test_store_of_another_image_size_is_refused(stores, tmp_path):
    config = load_config('demo_pretrain', [f'data.video={stores / "video"}', 'image_size=32',
                                           f'out_dir={tmp_path / "z"}'])
    with pytest.raises(ConfigError, match='16x16 images but image_size=32'):
        runner.train(config)


def test_icvf_resume_is_exact_too(stores, tmp_path):
    def overrides(out):
        return TINY + ['agent.hidden_dims=[16,16]', 'steps=4', 'save_every=2', 'seed=3',
                       f'data.video={stores / "video"}', f'out_dir={out}']
    runner.train(load_config('demo_pretrain', overrides(tmp_path / 'a')))
    runner.train(load_config('demo_pretrain', overrides(tmp_path / 'b') + ['steps=2']))
    runner.load_and_train('demo_pretrain', overrides(tmp_path / 'b'), 'pretrain',
                          resume=True)
    timing = {'steps_per_s', 'data_wait_frac'}
    rows_a = [{k: v for k, v in r.items() if k not in timing}
              for r in _read_csv(tmp_path / 'a' / 'metrics.csv')]
    rows_b = [{k: v for k, v in r.items() if k not in timing}
              for r in _read_csv(tmp_path / 'b' / 'metrics.csv')]
    assert len(rows_a) == 4 and rows_a == rows_b


def test_vip_encoder_initialises_cql(stores, tmp_path):
    runner.train(load_config('vip_pretrain', TINY + [
        'steps=2', f'data.video={stores / "video"}', f'out_dir={tmp_path / "vip"}']))
    vip = ck.load_checkpoint(tmp_path / 'vip')
    assert vip.spec['algo'] == 'vip' and vip.encoder_state
    config = load_config('demo_train', _cql_overrides(
        stores, tmp_path / 'train', f'encoder.init_from={tmp_path / "vip"}'))
    data = runner.build_data(config)
    agent = make_agent(config, len(data.task_names))
    runner.init_from_previous_phases(config, agent, data)
    for state in _encoders(agent).values():
        assert all(torch.equal(state[k], vip.encoder_state[k]) for k in vip.encoder_state)


def test_fresh_run_does_not_mix_with_an_old_one(stores, pretrained, tmp_path):
    import shutil
    run = tmp_path / 'old'
    shutil.copytree(pretrained, run)
    overrides = TINY + ['agent.hidden_dims=[32,32]', 'steps=2', f'out_dir={run}',
                        f'data.video={stores / "video"}']
    with pytest.raises(ConfigError, match='already holds a run.*--resume.*overwrite=true'):
        runner.train(load_config('demo_pretrain', overrides))
    runner.train(load_config('demo_pretrain', overrides + ['overwrite=true']))
    assert [p.name for p in ck.list_checkpoints(run)] == ['step_00000002']
    assert [r['step'] for r in _read_csv(run / 'metrics.csv')] == ['1', '2']


def test_stores_of_different_control_rates_are_refused(stores, tmp_path):
    make_robot_store(tmp_path / 'target10hz', [('target', 7, True)], control_hz=10.0)
    config = load_config('demo_train', _cql_overrides(stores, tmp_path / 'run') + [
        f'data.target={tmp_path / "target10hz"}'])
    with pytest.raises(ConfigError, match='different control rates'):
        runner.train(config)


def test_a_fresh_robot_agent_standardises_the_state_and_keeps_it(stores, tmp_path):
    """Phase 2 sets the actor's state statistics from the stores' meta.json (the mixture as
    sampled); phase 3 keeps phase 2's; a state dict from before the buffers loads as the
    identity (it was trained on raw states)."""
    import json
    from vptr_training.algos.common import pooled_state_stats
    train = tmp_path / 'train'
    config = load_config('demo_train', _cql_overrides(stores, train, 'steps=2'))
    runner.train(config)
    phase2 = ck.load_checkpoint(train)
    prior = json.loads((stores / 'prior' / 'meta.json').read_text())['state_stats']
    target = json.loads((stores / 'target' / 'meta.json').read_text())['state_stats']
    mean, std = pooled_state_stats([(prior, 1.0), (target, 0.3)])
    assert torch.allclose(phase2.model_state['actor.state_mean'], torch.tensor(mean))
    assert torch.allclose(phase2.model_state['actor.state_std'], torch.tensor(std))
    assert not torch.allclose(torch.tensor(mean), torch.zeros(7))
    # the pooled moments are those of the concatenated data when weighted by size
    a, b = np.random.default_rng(0).normal(1, 2, (50, 7)), np.random.default_rng(1).normal(
        -1, 0.5, (150, 7))
    pooled = pooled_state_stats([({'mean': a.mean(0), 'std': a.std(0)}, 50),
                                 ({'mean': b.mean(0), 'std': b.std(0)}, 150)])
    both = np.concatenate([a, b])
    assert np.allclose(pooled[0], both.mean(0)) and np.allclose(pooled[1], both.std(0))
    # phase 3 continues the agent: its statistics are phase 2's, not its own mixture's
    finetune = tmp_path / 'finetune'
    config3 = load_config('demo_finetune', _cql_overrides(
        stores, finetune, f'init_from={train}', 'steps=1', 'data.target_weight=1.0',
        'data.prior_weight=0.0'))
    runner.train(config3)
    phase3 = ck.load_checkpoint(finetune)
    assert torch.equal(phase3.model_state['actor.state_mean'],
                       phase2.model_state['actor.state_mean'])
    # an old checkpoint's state dict (no buffers): raw states, as it was trained
    agent = make_agent(config, len(phase2.spec['task_names']))
    old = {k: v for k, v in phase2.model_state.items()
           if not k.endswith(('state_mean', 'state_std'))}
    agent.load_state_dict(old)
    assert torch.equal(agent.actor.state_mean, torch.zeros(7))
    assert torch.equal(agent.actor.state_std, torch.ones(7))
