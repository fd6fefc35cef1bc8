"""Samplers: ICVF goal/intent mixture, CQL mixture and PTR rewards, sharding and resume."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training_fixtures import frame_ids, make_robot_store, make_video_store
from vptr_training.data.samplers import CQLSampler, ICVFSampler, make_loader
from vptr_training.errors import ConfigError
from vptr_training.robot.conventions import scale_action

CLIPS = [30, 40, 50, 2]


@pytest.fixture(scope='module')
def video_store(tmp_path_factory):
    return make_video_store(tmp_path_factory.mktemp('v') / 'video', CLIPS)


@pytest.fixture(scope='module')
def robot_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp('r')
    prior = make_robot_store(root / 'prior', [('put_a', 10, True), ('put_b', 12, False),
                                              ('put_a', 8, True), ('put_b', 9, True),
                                              ('held_out', 7, True)],
                             val_tasks=('held_out',))
    target = make_robot_store(root / 'target', [('target_task', 6, True),
                                                ('target_task', 5, False)], seed=1)
    return prior, target


def _clip_bounds(store, idx):
    episode = store.episode_of(idx)
    first = store.episode_starts[episode]
    return first, first + store.episode_lengths[episode] - 1


def test_icvf_indices_and_goal_mixture(video_store):
    sampler = ICVFSampler(video_store, batch_size=40000, seed=3)
    ind = sampler.sample_indices(0)
    idx, goal, intent = ind['idx'], ind['goal'], ind['intent']
    first, last = _clip_bounds(video_store, idx)
    assert np.all(idx < last)                       # never a final frame
    assert np.array_equal(ind['next_idx'], idx + 1)
    # s uniform over the non-final frames: 29 + 39 + 49 + 1 of them
    counts = np.bincount(video_store.episode_of(idx), minlength=4) / len(idx)
    np.testing.assert_allclose(counts, np.array([29, 39, 49, 1]) / 118, atol=0.01)
    # the intent comes from the same clip: s itself with p_curr, else its strict future
    assert np.all((intent >= idx) & (intent <= last))
    assert abs(np.mean(intent == idx) - 0.1) < 0.01
    # goal = intent half of the time
    is_intent = ind['goal_is_intent']
    assert abs(is_intent.mean() - 0.5) < 0.01
    assert np.array_equal(goal[is_intent], intent[is_intent])
    # the other half: p_curr itself / p_traj strict future / p_random anywhere
    g, i, la = goal[~is_intent], idx[~is_intent], last[~is_intent]
    same = g == i
    future = (g > i) & (g <= la)
    elsewhere = ~(same | future)
    # a random frame lands on s or its future with the probability of those frames
    p_future_random = np.mean((la - i) / 122.0)
    assert abs(same.mean() - (0.1 + 0.1 / 122)) < 0.01
    assert abs(future.mean() - (0.8 + 0.1 * p_future_random)) < 0.01
    assert abs(elsewhere.mean() - 0.1 * (1 - p_future_random - 1 / 122)) < 0.01
    assert np.all((g[elsewhere] >= 0) & (g[elsewhere] < 122))


def test_icvf_trajectory_goals_are_uniform_in_future(video_store):
    sampler = ICVFSampler(video_store, 50000, p_random=0.0, p_traj=1.0, p_curr=0.0,
                          p_goal_is_intent=0.0, seed=1)
    ind = sampler.sample_indices(0)
    idx, goal = ind['idx'], ind['goal']
    _, last = _clip_bounds(video_store, idx)
    assert np.all((goal > idx) & (goal <= last))
    # from the first frame of the 50-frame clip (global 70) goals spread over 71..119
    from_first = goal[idx == 70] - 71
    assert len(from_first) > 200
    hist = np.bincount(from_first, minlength=49)
    assert hist.min() > 0 and abs(from_first.mean() - 24.0) < 2.0


def test_icvf_random_goals_cover_corpus(video_store):
    sampler = ICVFSampler(video_store, 50000, p_random=1.0, p_traj=0.0, p_curr=0.0,
                          p_goal_is_intent=0.0, seed=2)
    goal = sampler.sample_indices(0)['goal']
    share = np.bincount(video_store.episode_of(goal), minlength=4) / len(goal)
    np.testing.assert_allclose(share, np.array(CLIPS) / 122, atol=0.01)


def test_icvf_batch_contents_and_rewards(video_store):
    sampler = ICVFSampler(video_store, 256, seed=5)
    ind = sampler.sample_indices(7)
    batch = sampler.sample_batch(7)
    assert set(batch) == {'observations', 'next_observations', 'goals', 'intents', 'rewards',
                          'masks', 'intent_rewards', 'intent_masks'}
    for key in ('observations', 'next_observations', 'goals', 'intents'):
        assert batch[key].dtype == np.uint8 and batch[key].shape == (256, 16, 16, 3)
    assert np.array_equal(frame_ids(batch['observations']), ind['idx'])
    assert np.array_equal(frame_ids(batch['next_observations']), ind['idx'] + 1)
    assert np.array_equal(frame_ids(batch['goals']), ind['goal'])
    assert np.array_equal(frame_ids(batch['intents']), ind['intent'])
    reached = ind['goal'] == ind['idx']
    assert reached.any() and (~reached).any()
    assert np.array_equal(batch['rewards'], np.where(reached, 0.0, -1.0).astype(np.float32))
    assert np.array_equal(batch['masks'], np.where(reached, 0.0, 1.0).astype(np.float32))
    intent_reached = ind['intent'] == ind['idx']
    assert np.array_equal(batch['intent_rewards'], intent_reached.astype(np.float32) - 1)
    assert np.array_equal(batch['intent_masks'], 1 - intent_reached.astype(np.float32))
    assert batch['rewards'].dtype == np.float32


def test_icvf_rejects_bad_mixture(video_store):
    with pytest.raises(ConfigError, match='sum to 1'):
        ICVFSampler(video_store, 8, p_random=0.5, p_traj=0.8, p_curr=0.1)


def test_determinism_ranks_and_resume(video_store):
    a = ICVFSampler(video_store, 32, seed=11)
    b = ICVFSampler(video_store, 32, seed=11)
    other_rank = ICVFSampler(video_store, 32, seed=11, rank=1, world_size=2)
    first = [a.sample()['observations'] for _ in range(3)]
    assert all(np.array_equal(x, b.sample()['observations']) for x in first)
    assert not np.array_equal(first[0], other_rank.sample()['observations'])
    # resume: a fresh sampler loaded with the state continues the same stream
    state = a.state_dict()
    c = ICVFSampler(video_store, 32, seed=11)
    c.load_state_dict(state)
    assert np.array_equal(c.sample()['goals'], a.sample()['goals'])
    with pytest.raises(ConfigError, match='seed'):
        ICVFSampler(video_store, 32, seed=12).load_state_dict(state)


def test_loader_workers_give_same_stream_and_resume(video_store):
    reference = ICVFSampler(video_store, 16, seed=4)
    expected = [reference.sample_batch(k) for k in range(6)]
    loader = make_loader(ICVFSampler(video_store, 16, seed=4), num_workers=2, prefetch=2)
    got = [next(loader) for _ in range(3)]
    state = loader.state_dict()
    loader.close()
    assert state['next_batch'] == 3
    for k, batch in enumerate(got):
        assert isinstance(batch['observations'], torch.Tensor)
        assert not batch['observations'].is_pinned()
        assert np.array_equal(batch['goals'].numpy(), expected[k]['goals'])
        assert np.array_equal(batch['rewards'].numpy(), expected[k]['rewards'])
    resumed = make_loader(ICVFSampler(video_store, 16, seed=4), num_workers=0)
    resumed.load_state_dict(state)
    for k in range(3, 6):
        batch = next(resumed)
        assert np.array_equal(batch['intents'].numpy(), expected[k]['intents'])


def _episode_position(store, idx):
    episode = store.episode_of(idx)
    transitions = store.episode_lengths[episode] - 1
    return episode, idx - store.episode_starts[episode], transitions


def test_cql_mixture_rewards_actions_tasks(robot_stores):
    prior, target = robot_stores
    tasks = sorted(set(prior.tasks) | set(target.tasks))
    sampler = CQLSampler([(prior, 0.9), (target, 0.1)], tasks, batch_size=20000, seed=0)
    which, idx = sampler.sample_indices(0)
    assert abs(np.mean(which == 1) - 0.1) < 0.01
    batch = sampler.sample_batch(0)
    target_id = tasks.index('target_task')
    assert abs(np.mean(batch['task_ids'] == target_id) - 0.1) < 0.01
    assert batch['actions'].dtype == np.float32 and np.abs(batch['actions']).max() <= 1.0
    for s, store in enumerate((prior, target)):
        sel = which == s
        i = idx[sel]
        episode, pos, transitions = _episode_position(store, i)
        assert np.all(pos < transitions)            # a transition, never the last frame
        success = np.array([store.episodes[e].success for e in episode])
        terminal = success & (pos >= transitions - 3)
        assert np.array_equal(batch['rewards'][sel], np.where(terminal, 10.0, -1.0))
        assert np.array_equal(batch['masks'][sel], np.where(terminal, 0.0, 1.0))
        assert np.array_equal(frame_ids(batch['observations'][sel]), i)
        assert np.array_equal(frame_ids(batch['next_observations'][sel]), i + 1)
        np.testing.assert_array_equal(batch['actions'][sel],
                                      scale_action(store.gather_actions(i)))
        np.testing.assert_array_equal(batch['states'][sel], store.gather('states', i))
        np.testing.assert_array_equal(batch['next_states'][sel], store.gather('states', i + 1))
        names = [store.episodes[e].task for e in episode]
        assert [tasks[t] for t in batch['task_ids'][sel]] == names
        # held-out (val) episodes are never sampled
        assert 'held_out' not in names
    assert (batch['rewards'] == 10.0).any() and (batch['rewards'] == -1.0).any()


def test_cql_zero_weight_store_only_adds_tasks(robot_stores):
    prior, target = robot_stores
    tasks = sorted(set(prior.tasks) | set(target.tasks))
    sampler = CQLSampler([(prior, 1.0), (target, 0.0)], tasks, batch_size=2000, seed=0)
    which, _ = sampler.sample_indices(3)
    assert np.all(which == 0)
    with pytest.raises(ConfigError, match='target_task'):
        CQLSampler([(prior, 1.0), (target, 0.0)], sorted(prior.tasks), 8)


def test_cql_loader_with_worker_matches(robot_stores):
    prior, target = robot_stores
    tasks = sorted(set(prior.tasks) | set(target.tasks))
    reference = CQLSampler([(prior, 0.5), (target, 0.5)], tasks, 8, seed=9, rank=1,
                           world_size=2)
    loader = make_loader(CQLSampler([(prior, 0.5), (target, 0.5)], tasks, 8, seed=9, rank=1,
                                    world_size=2), num_workers=1)
    for k in range(3):
        batch = next(loader)
        expected = reference.sample_batch(k)
        for key, value in expected.items():
            assert np.array_equal(batch[key].numpy(), value), key
    loader.close()
