"""Bridge converter: raw trees, out.npy, RLDS TFRecords (both layouts), bad inputs."""
import os
from pathlib import Path
import pickle
import struct

import data_fixtures as F
import numpy as np
import pytest

from vptr_training.cli import main
from vptr_training.data import bridge
from vptr_training.data.restricted_pickle import load_pickle, loads_pickle
from vptr_training.data.store import EpisodeStore
from vptr_training.data.tfrecord import (crc32c, crc32c_python, masked_crc32c,
                                         parse_example, read_records)
from vptr_training.errors import DataError
from vptr_training.robot.conventions import relabel_actions_from_states
from vptr_training.robot.image import squash_resize

SIZE = 16
os.environ['VPTR_NO_PROGRESS'] = '1'


def convert(src, dst, *extra):
    return main(['data', 'bridge', str(src), str(dst), '--size', str(SIZE), *extra])


def by_source(store):
    return {Path(e.source.split('#')[0]).name if '#' in e.source else e.source: i
            for i, e in enumerate(store.episodes)}


def expected_images(files):
    return np.stack([squash_resize(F.decoded_jpeg(p), SIZE) for p in files])


def test_raw_tree_round_trip_latency_language_tasks(tmp_path, monkeypatch):
    made = F.make_raw_tree(tmp_path / 'src')
    opened = []

    def recording_load(path):
        opened.append(Path(path).name)
        return load_pickle(path)

    monkeypatch.setattr(bridge, 'load_pickle', recording_load)
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 0
    # agent_data.pkl (ROS 1 message classes) is never opened
    assert sorted(set(opened)) == ['obs_dict.pkl', 'policy_out.pkl'] and len(opened) == 8
    store = EpisodeStore(tmp_path / 'dst')
    assert store.meta['kind'] == 'robot' and store.image_size == SIZE
    assert store.tasks == ['put_corn_in_pot', 'sweep_beans']
    index = {str(made[k]['dir']): k for k in made}
    seen = set()
    for i, info in enumerate(store.episodes):
        key = index[info.source]
        seen.add(key)
        m, ep = made[key], store.episode(i)
        images = sorted((m['dir'] / 'images0').glob('im_*.jpg'),
                        key=lambda p: int(p.stem[3:]))
        if key == 'old0':
            # dated 2021-06-10, before 2021-07-23: drop the first obs and the last action
            np.testing.assert_array_equal(ep['images'], expected_images(images[1:]))
            np.testing.assert_allclose(ep['states'], m['states'][1:], rtol=1e-6)
            np.testing.assert_allclose(ep['actions'], m['actions'][:-1], rtol=1e-6)
            np.testing.assert_allclose(ep['timestamps'], 1.6e9 + np.arange(1, 6) * 0.2)
        else:
            np.testing.assert_array_equal(ep['images'], expected_images(images))
            np.testing.assert_allclose(ep['states'], m['states'], rtol=1e-6)
            np.testing.assert_allclose(ep['actions'], m['actions'], rtol=1e-6)
        assert info.success and not np.any(ep['rewards'])
    assert seen == set(made)
    langs = {index[e.source]: e.language for e in store.episodes}
    # the 'confidence' metadata line of new0's lang.txt is not the instruction
    assert langs == {'new0': 'pick up corn', 'new1': 'put the corn in the pot', 'old0': '',
                     'nolevel': 'pick up corn'}
    tasks = {index[e.source]: e.task for e in store.episodes}
    assert tasks['nolevel'] == 'sweep_beans' and tasks['old0'] == 'put_corn_in_pot'


def test_split_is_per_dated_folder_and_deterministic(tmp_path):
    F.make_raw_tree(tmp_path / 'src')
    units = bridge.find_units(tmp_path / 'src', val_fraction=0.5)
    again = bridge.find_units(tmp_path / 'src', val_fraction=0.5)
    assert [(u.path, u.split) for u in units] == [(u.path, u.split) for u in again]
    dated = [u for u in units if '2021-08-02' in u.path]
    assert len(dated) == 2 and dated[0].split == dated[1].split
    expected = bridge.hashed_split(
        str(Path('toykitchen1/put_corn_in_pot/00/2021-08-02_10-00-00')), 0.5)
    assert dated[0].split == expected
    assert {u.split for u in bridge.find_units(tmp_path / 'src', 0.0)} == {'train'}
    assert {u.split for u in bridge.find_units(tmp_path / 'src', 0.9999999)} == {'val'}
    latency = {Path(u.path).parts[-4]: u.latency_shift for u in units}
    assert latency == {'2021-08-02_10-00-00': False, '2021-06-10_09-00-00': True,
                       '2022-01-05_12-00-00': False}


def test_flat_layout_task_from_lang_or_option(tmp_path):
    F.make_raw_traj(tmp_path / 'flat' / 'data' / 'traj0', 3, lang='wipe the table',
                    confidence=True)
    assert convert(tmp_path / 'flat', tmp_path / 'a') == 0
    assert EpisodeStore(tmp_path / 'a').tasks == ['wipe the table']
    F.make_raw_traj(tmp_path / 'bare' / 'data' / 'traj0', 3, lang=None)
    assert convert(tmp_path / 'bare', tmp_path / 'b') == 2
    assert not (tmp_path / 'b').exists()
    assert convert(tmp_path / 'bare', tmp_path / 'b', '--task', 'wipe') == 0
    assert EpisodeStore(tmp_path / 'b').tasks == ['wipe']


def test_camera_option_picks_the_view(tmp_path):
    traj = tmp_path / 'raw' / 'wipe' / 'traj0'
    F.make_raw_traj(traj, 3, cameras=2)
    assert convert(tmp_path / 'raw', tmp_path / 'cam1', '--camera', '1') == 0
    files = [traj / 'images1' / f'im_{t}.jpg' for t in range(4)]
    np.testing.assert_array_equal(EpisodeStore(tmp_path / 'cam1').episode(0)['images'],
                                  expected_images(files))
    assert convert(tmp_path / 'raw', tmp_path / 'cam0') == 0      # default: images0
    first = EpisodeStore(tmp_path / 'cam0').episode(0)['images']
    np.testing.assert_array_equal(first, expected_images(
        [traj / 'images0' / f'im_{t}.jpg' for t in range(4)]))
    assert not np.array_equal(first, EpisodeStore(tmp_path / 'cam1').episode(0)['images'])
    # a camera the trajectory does not have is a clear error naming the folder
    assert convert(tmp_path / 'raw', tmp_path / 'cam2', '--camera', '2') == 2
    assert not (tmp_path / 'cam2').exists()
    # RLDS: --camera K reads steps/observation/image_K (all black in this fixture)
    example = F.rlds_bridge_dataset_example(3, 1)
    F.write_tfrecord(tmp_path / 'rlds' / 'bridge_dataset-train.tfrecord-00000-of-00001',
                     [example[0]])
    assert convert(tmp_path / 'rlds', tmp_path / 'rlds1', '--camera', '1') == 0
    assert EpisodeStore(tmp_path / 'rlds1').episode(0)['images'].max() == 0
    assert convert(tmp_path / 'rlds', tmp_path / 'rlds0') == 0
    assert EpisodeStore(tmp_path / 'rlds0').episode(0)['images'].max() > 0


def test_relabel_actions(tmp_path):
    made = F.make_raw_traj(tmp_path / 'src' / 'data' / 'traj0', 4)
    assert convert(tmp_path / 'src', tmp_path / 'dst', '--relabel-actions') == 0
    ep = EpisodeStore(tmp_path / 'dst').episode(0)
    np.testing.assert_allclose(ep['actions'], relabel_actions_from_states(made['states']),
                               rtol=1e-5, atol=1e-7)


def test_out_npy_round_trip(tmp_path):
    path = tmp_path / 'src' / 'stack_blocks' / '01' / 'val' / 'out.npy'
    trajs = F.make_out_npy(path, [3, 5])
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 0
    store = EpisodeStore(tmp_path / 'dst')
    assert len(store) == 2 and store.tasks == ['stack_blocks']
    for i, traj in enumerate(trajs):
        ep, info = store.episode(i), store.episodes[i]
        assert info.split == 'val' and info.language == 'stack the blocks'
        frames = [o['images0'] for o in traj['observations']] + \
            [traj['next_observations'][-1]['images0']]
        np.testing.assert_array_equal(ep['images'],
                                      np.stack([squash_resize(f, SIZE) for f in frames]))
        states = [o['state'] for o in traj['observations']] + \
            [traj['next_observations'][-1]['state']]
        np.testing.assert_array_equal(ep['states'], np.stack(states))
        np.testing.assert_array_equal(ep['actions'], traj['actions'])
        # terminals[t] flags transition t -> t+1, i.e. observation t+1
        np.testing.assert_array_equal(ep['is_terminal'][1:], traj['terminals'])
        assert not ep['is_terminal'][0]


def test_rlds_both_layouts(tmp_path):
    a = F.rlds_bridge_dataset_example(4, 1, file_path='/nfs/bridge_data_v2/tk2/open_drawer'
                                      '/02/train/out.npy')
    b = F.rlds_bridge_dataset_example(3, 2, is_last=False)     # truncated episode: kept
    c = F.rlds_oxe_example(5, 3)
    F.write_tfrecord(tmp_path / 'src' / 'bridge_dataset-train.tfrecord-00000-of-00002',
                     [a[0], b[0]])
    F.write_tfrecord(tmp_path / 'src' / 'oxe' / 'bridge-val.tfrecord-00000-of-00001', [c[0]])
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 0
    store = EpisodeStore(tmp_path / 'dst')
    assert len(store) == 3
    for i, (ex, split, language, task) in enumerate([
            (a, 'train', 'open the drawer', 'open_drawer'),
            (b, 'train', 'open the drawer', 'open the drawer'),
            (c, 'val', 'put the spoon on the towel', 'put the spoon on the towel')]):
        _, frames, states, actions = ex
        ep, info = store.episode(i), store.episodes[i]
        assert (info.split, info.language, info.task) == (split, language, task)
        want = np.stack([squash_resize(F.decoded_jpeg(F.jpeg_bytes(f)), SIZE) for f in frames])
        np.testing.assert_array_equal(ep['images'], want)
        np.testing.assert_array_equal(ep['states'], states)
        np.testing.assert_array_equal(ep['actions'], actions[:-1])
        # steps/is_terminal as recorded: the truncated episode b never reached one
        assert ep['is_terminal'].tolist() == [False] * (len(frames) - 1) + [i != 1]


def test_tfrecord_framing_and_proto():
    data = b'123456789'
    assert crc32c(data) == crc32c_python(data) == 0xE3069283     # the CRC-32C check value
    assert masked_crc32c(b'') == ((0 >> 15 | 0 << 17) + 0xA282EAD8) & 0xFFFFFFFF
    ex = F.rlds_oxe_example(3, 0)[0]
    feats = parse_example(ex, 'x')
    assert feats['steps/action/open_gripper'].dtype == np.int64
    assert len(feats['steps/observation/image']) == 3
    assert feats['steps/observation/state'].shape == (21,)


@pytest.mark.parametrize('cut', ['crc', 'length_crc', 'truncated', 'header'])
def test_bad_tfrecords(tmp_path, cut):
    path = tmp_path / 'src' / 'bridge_dataset-train.tfrecord-00000-of-00001'
    F.write_tfrecord(path, [F.rlds_bridge_dataset_example(3, 0)[0]])
    raw = bytearray(path.read_bytes())
    if cut == 'crc':
        raw[-10] ^= 0xFF                     # flip a data byte
    elif cut == 'length_crc':
        raw[9] ^= 0x01
    elif cut == 'truncated':
        raw = raw[:len(raw) // 2]
    else:
        raw = raw + struct.pack('<Q', 5)[:6]  # a second record cut inside its header
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match='TFRecord') as info:
        list(read_records(path))
    assert info.value.path == str(path)
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 2
    assert not (tmp_path / 'dst').exists()


class Evil:
    def __reduce__(self):
        return (os.system, ('touch pwned',))


def test_restricted_unpickler(tmp_path):
    ok = {'a': np.arange(3, dtype=np.float32), 'b': [np.float64(2.0), (1, 'x')],
          'c': {1, 2}, 'd': np.array(['u', 'v'])}
    for proto in (2, 3, 4, 5):
        got = loads_pickle(pickle.dumps(ok, protocol=proto))
        np.testing.assert_array_equal(got['a'], ok['a'])
        assert got['b'][0] == 2.0 and got['c'] == {1, 2}
    # numpy 1.x spells its globals numpy.core.multiarray (protocol 2: text GLOBAL lines)
    old_style = pickle.dumps(ok, protocol=2).replace(b'numpy._core.', b'numpy.core.')
    assert b'numpy.core.multiarray' in old_style
    np.testing.assert_array_equal(loads_pickle(old_style)['a'], ok['a'])
    (tmp_path / 'evil.pkl').write_bytes(pickle.dumps({'x': Evil()}))
    with pytest.raises(DataError, match='pickle tries to build posix.system; refusing'):
        load_pickle(tmp_path / 'evil.pkl')
    assert not (tmp_path / 'pwned').exists() and not Path('pwned').exists()
    with pytest.raises(DataError, match='truncated'):
        loads_pickle(pickle.dumps(ok)[:40], 'cut.pkl')


def corrupt_jpeg(m):
    (m['dir'] / 'images0' / 'im_2.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')


def truncated_jpeg(m):
    p = m['dir'] / 'images0' / 'im_1.jpg'
    p.write_bytes(p.read_bytes()[:200])


def missing_key(m):
    obs = pickle.loads((m['dir'] / 'obs_dict.pkl').read_bytes())
    del obs['full_state'], obs['state']
    (m['dir'] / 'obs_dict.pkl').write_bytes(pickle.dumps(obs))


def missing_actions_key(m):
    (m['dir'] / 'policy_out.pkl').write_bytes(pickle.dumps([{'act': np.zeros(7)}] * 4))


def mismatched(m):
    (m['dir'] / 'images0' / 'im_4.jpg').unlink()


def evil_pickle(m):
    (m['dir'] / 'obs_dict.pkl').write_bytes(pickle.dumps({'full_state': Evil()}))


def empty_folder(m):
    for p in sorted(m['dir'].rglob('*'), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()


@pytest.mark.parametrize('damage,match', [
    (corrupt_jpeg, 'im_2.jpg: truncated JPEG|im_2.jpg: corrupt'),
    (truncated_jpeg, 'im_1.jpg: truncated JPEG'),
    (missing_key, "obs_dict.pkl: missing key 'full_state'"),
    (missing_actions_key, "policy_out.pkl: step 0 lacks key 'actions'"),
    (mismatched, 'traj1: mismatched lengths: 4 images, 5 states, 4 actions'),
    (evil_pickle, 'obs_dict.pkl: pickle tries to build posix.system; refusing'),
    (empty_folder, 'traj1: no obs_dict.pkl in trajectory folder \\(folder is empty\\)'),
])
def test_bad_raw_inputs_and_skip_bad(tmp_path, capsys, damage, match):
    root = tmp_path / 'src' / 'task' / '00' / '2022-01-01_00-00-00' / 'raw' / 'traj_group0'
    F.make_raw_traj(root / 'traj0', 3, seed=1)
    bad = F.make_raw_traj(root / 'traj1', 4, seed=2)
    damage(bad)
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 2
    err = capsys.readouterr().err
    assert __import__('re').search(match, err), err
    assert not (tmp_path / 'dst').exists()
    assert not list(tmp_path.glob('dst*'))          # no temp folder left behind either
    assert convert(tmp_path / 'src', tmp_path / 'dst', '--skip-bad') == 0
    out = capsys.readouterr().out
    assert 'skipped 1' in out and f'skipped {bad["dir"]}' in out
    store = EpisodeStore(tmp_path / 'dst')
    assert len(store) == 1 and store.episodes[0].source.endswith('traj0')
    assert not (tmp_path / 'pwned').exists()


def test_bad_out_npy(tmp_path, capsys):
    path = tmp_path / 'src' / 'stack' / 'train' / 'out.npy'
    trajs = F.make_out_npy(path, [3])
    del trajs[0]['next_observations']
    np.save(path, np.array(trajs, dtype=object), allow_pickle=True)
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 2
    assert "out.npy#0: missing key 'next_observations'" in capsys.readouterr().err
    np.save(path, np.array([{'x': Evil()}], dtype=object), allow_pickle=True)
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 2
    assert 'refusing' in capsys.readouterr().err
    assert not (tmp_path / 'dst').exists()


def test_empty_source(tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    assert convert(tmp_path / 'empty', tmp_path / 'dst') == 2
    assert 'no Bridge data found' in capsys.readouterr().err
