"""Episode store: round trips, gather, append, statistics, atomicity, validation."""
import json
import pickle

import numpy as np
import pytest

from vptr_training.data.store import (EpisodeData, EpisodeStore, FORMAT_VERSION,
                                      StoreWriter)
from vptr_training.errors import DataError

SIZE = 8


def robot_episode(rng, n, task='pick', source='src', split='train'):
    return EpisodeData(
        images=rng.integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8), task=task,
        source=source, states=rng.normal(size=(n, 7)).astype(np.float32),
        actions=rng.normal(size=(n - 1, 7)).astype(np.float32),
        rewards=rng.normal(size=n - 1).astype(np.float32), success=bool(n % 2),
        language=f'{task} it', timestamps=np.arange(n) * 0.2 + 100.0, split=split)


def write(path, episodes, kind='robot', **kw):
    with StoreWriter(path, kind=kind, image_size=SIZE, control_hz=5.0, **kw) as writer:
        for ep in episodes:
            writer.add(ep)


def test_round_trip_small_shards(tmp_path):
    rng = np.random.default_rng(0)
    eps = [robot_episode(rng, n, task=t) for n, t in [(5, 'b'), (3, 'a'), (7, 'b'), (2, 'c')]]
    # 10 images per shard: forces several shards, episodes never split
    write(tmp_path / 's', eps, shard_bytes=SIZE * SIZE * 3 * 10)
    store = EpisodeStore(tmp_path / 's')
    assert store.num_shards == 2     # [5, 3] and [7, 2]
    assert len(store) == 4 and store.tasks == ['a', 'b', 'c']
    assert store.meta['format_version'] == FORMAT_VERSION
    assert store.meta['num_steps'] == 17 and store.meta['kind'] == 'robot'
    np.testing.assert_array_equal(store.episode_starts, [0, 5, 8, 15])
    np.testing.assert_array_equal(store.episode_lengths, [5, 3, 7, 2])
    for i, ep in enumerate(eps):
        got = store.episode(i)
        assert isinstance(got['images'], np.memmap)
        np.testing.assert_array_equal(got['images'], ep.images)
        np.testing.assert_array_equal(got['states'], ep.states)
        np.testing.assert_array_equal(got['actions'], ep.actions)
        np.testing.assert_array_equal(got['rewards'], ep.rewards)
        np.testing.assert_array_equal(got['timestamps'], ep.timestamps)
        info = store.episodes[i]
        assert (info.task, info.language, info.success, info.length) == (
            ep.task, ep.language, ep.success, len(ep.images))
    # gather in arbitrary order across shards
    idx = np.array([[16, 0], [9, 5]])
    all_images = np.concatenate([e.images for e in eps])
    np.testing.assert_array_equal(store.gather('images', idx), all_images[idx])
    all_states = np.concatenate([e.states for e in eps])
    np.testing.assert_array_equal(store.gather('states', [15, 3, 3]), all_states[[15, 3, 3]])
    # action AT an observation: obs 9 is step 1 of episode 2
    np.testing.assert_array_equal(store.gather_actions([9, 0]),
                                  np.stack([eps[2].actions[1], eps[0].actions[0]]))
    with pytest.raises(IndexError):
        store.gather_actions([4])         # last obs of episode 0 has no action
    with pytest.raises(IndexError):
        store.gather('images', [17])
    np.testing.assert_array_equal(store.episode_of([0, 4, 5, 16]), [0, 0, 1, 3])
    first = store.gather('is_first', np.arange(17))
    np.testing.assert_array_equal(np.nonzero(first)[0], store.episode_starts)


def test_stats_match_numpy_and_update_on_append(tmp_path):
    rng = np.random.default_rng(1)
    eps = [robot_episode(rng, n) for n in (4, 6)]
    write(tmp_path / 's', eps[:1])
    write(tmp_path / 's', eps[1:], append=True)
    store = EpisodeStore(tmp_path / 's')
    assert len(store) == 2 and store.meta['num_steps'] == 10
    states = np.concatenate([e.states for e in eps]).astype(np.float64)
    actions = np.concatenate([e.actions for e in eps]).astype(np.float64)
    np.testing.assert_allclose(store.meta['state_stats']['mean'], states.mean(0), atol=1e-9)
    np.testing.assert_allclose(store.meta['state_stats']['std'], states.std(0), atol=1e-9)
    np.testing.assert_allclose(store.meta['action_stats']['mean'], actions.mean(0), atol=1e-9)
    np.testing.assert_allclose(store.meta['action_stats']['max'], actions.max(0))
    assert store.meta['action_stats']['count'] == 8     # padded rows not counted
    np.testing.assert_array_equal(store.episode(1)['images'], eps[1].images)
    assert store.episodes[1].start == 4 and store.episodes[1].index == 1


def test_append_refuses_mismatched_store(tmp_path):
    rng = np.random.default_rng(2)
    write(tmp_path / 's', [robot_episode(rng, 3)])
    with pytest.raises(DataError, match='kind'):
        StoreWriter(tmp_path / 's', kind='video', image_size=SIZE, append=True)
    with pytest.raises(DataError, match='image_size'):
        StoreWriter(tmp_path / 's', kind='robot', image_size=16, append=True)


def test_terminal_flags_default_explicit_and_format_1_stores(tmp_path):
    rng = np.random.default_rng(7)
    done, timed_out, explicit = (robot_episode(rng, 3), robot_episode(rng, 4),
                                 robot_episode(rng, 3))
    assert done.success and not timed_out.success
    explicit.terminals = np.array([False, True, False])
    write(tmp_path / 's', [done, timed_out, explicit])
    store = EpisodeStore(tmp_path / 's')
    # default: the last observation is terminal exactly when the episode succeeded
    assert store.episode(0)['is_terminal'].tolist() == [False, False, True]
    assert not store.episode(1)['is_terminal'].any()
    assert store.episode(2)['is_terminal'].tolist() == [False, True, False]
    bad = robot_episode(rng, 3)
    bad.terminals = np.zeros(2, bool)
    with pytest.raises(DataError, match=r'terminals have shape \(2,\), expected \(3,\)'):
        write(tmp_path / 'bad', [bad])
    # A format-1 store (before is_terminal) is still read, but not appended to.
    meta = json.loads((tmp_path / 's' / 'meta.json').read_text())
    meta['format_version'] = 1
    (tmp_path / 's' / 'meta.json').write_text(json.dumps(meta))
    for npy in (tmp_path / 's').rglob('is_terminal.npy'):
        npy.unlink()
    old = EpisodeStore(tmp_path / 's')
    assert not old.has('is_terminal') and 'is_terminal' not in old.episode(0)
    np.testing.assert_array_equal(old.episode(1)['images'], timed_out.images)
    with pytest.raises(DataError, match='cannot append to a format-1 store'):
        StoreWriter(tmp_path / 's', kind='robot', image_size=SIZE, append=True)
    meta['format_version'] = 99
    (tmp_path / 's' / 'meta.json').write_text(json.dumps(meta))
    with pytest.raises(DataError, match='format version 99'):
        EpisodeStore(tmp_path / 's')


def test_existing_destination_needs_flag(tmp_path):
    rng = np.random.default_rng(3)
    write(tmp_path / 's', [robot_episode(rng, 3, task='old')])
    with pytest.raises(DataError, match='already exists'):
        write(tmp_path / 's', [robot_episode(rng, 3)])
    write(tmp_path / 's', [robot_episode(rng, 4, task='new')], overwrite=True)
    store = EpisodeStore(tmp_path / 's')
    assert store.tasks == ['new'] and store.meta['num_steps'] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ['s']


@pytest.mark.parametrize('exc', [RuntimeError, KeyboardInterrupt])
def test_crash_leaves_nothing_that_looks_complete(tmp_path, exc):
    rng = np.random.default_rng(4)
    with pytest.raises(exc):
        with StoreWriter(tmp_path / 's', kind='robot', image_size=SIZE) as writer:
            writer.add(robot_episode(rng, 3))
            raise exc('simulated crash')
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match='no such episode store'):
        EpisodeStore(tmp_path / 's')


def test_crash_during_append_keeps_old_store(tmp_path):
    rng = np.random.default_rng(5)
    first = robot_episode(rng, 3)
    write(tmp_path / 's', [first])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*'))
    with pytest.raises(RuntimeError):
        with StoreWriter(tmp_path / 's', kind='robot', image_size=SIZE,
                         append=True, shard_bytes=1) as writer:
            writer.add(robot_episode(rng, 3))
            writer.add(robot_episode(rng, 3))
            raise RuntimeError('simulated crash')
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*')) == before
    store = EpisodeStore(tmp_path / 's')
    assert len(store) == 1
    np.testing.assert_array_equal(store.episode(0)['images'], first.images)


def test_incomplete_store_detected(tmp_path):
    rng = np.random.default_rng(6)
    write(tmp_path / 's', [robot_episode(rng, 3)])
    meta = json.loads((tmp_path / 's' / 'meta.json').read_text())
    meta['format_version'] = 999
    (tmp_path / 's' / 'meta.json').write_text(json.dumps(meta))
    with pytest.raises(DataError, match='version'):
        EpisodeStore(tmp_path / 's')
    (tmp_path / 's' / 'meta.json').unlink()
    with pytest.raises(DataError, match='not a complete episode store'):
        EpisodeStore(tmp_path / 's')


def test_video_store(tmp_path):
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8)
    write(tmp_path / 'v', [EpisodeData(images=images, task='kitchen', source='a.mp4')],
          kind='video')
    store = EpisodeStore(tmp_path / 'v')
    assert store.meta['kind'] == 'video' and not store.has('states')
    assert store.meta['state_stats'] is None
    np.testing.assert_array_equal(store.gather('images', [5, 0]), images[[5, 0]])
    np.testing.assert_allclose(store.gather('timestamps', [5]), [1.0])
    with pytest.raises(KeyError):
        store.gather('states', [0])
    # a pickled store reopens its memmaps in the other process
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.gather('images', [3]), images[[3]])


def bad(rng, **changes):
    ep = robot_episode(rng, 4, source='/data/traj7')
    for k, v in changes.items():
        setattr(ep, k, v)
    return ep


@pytest.mark.parametrize('changes,match', [
    (dict(states=np.full((4, 7), np.nan, np.float32)), 'states contain NaN'),
    (dict(actions=np.full((3, 7), np.inf, np.float32)), 'actions contain NaN/inf'),
    (dict(actions=np.zeros((4, 7), np.float32)), r'actions have shape \(4, 7\)'),
    (dict(states=np.zeros((3, 7), np.float32)), 'states have shape'),
    (dict(images=np.zeros((4, SIZE, SIZE, 3), np.float32)), 'uint8'),
    (dict(images=np.zeros((4, SIZE + 1, SIZE, 3), np.uint8)), 'images have shape'),
    (dict(images=np.zeros((1, SIZE, SIZE, 3), np.uint8), states=np.zeros((1, 7)),
          actions=np.zeros((0, 7)), rewards=None, timestamps=None), 'at least 2'),
    (dict(task=''), 'no task'),
    (dict(timestamps=np.array([0, 1, np.nan, 3.0])), 'timestamps contain'),
    (dict(actions=None), 'need states and actions'),
    (dict(states=np.full((4, 7), 1e300)), 'overflow'),
])
def test_add_validates(tmp_path, changes, match):
    rng = np.random.default_rng(8)
    with pytest.raises(DataError, match=match) as info:
        with StoreWriter(tmp_path / 's', kind='robot', image_size=SIZE) as writer:
            writer.add(bad(rng, **changes))
    assert info.value.path == '/data/traj7'
    assert not (tmp_path / 's').exists()
