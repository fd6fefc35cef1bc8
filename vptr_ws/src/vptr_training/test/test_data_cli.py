"""`vptr data ...` commands: exit codes, info/validate, overwrite/append, interruption,
worker processes."""
import json
import os

import data_fixtures as F
import numpy as np

from vptr_training.cli import main
from vptr_training.data import bridge
from vptr_training.data.store import EpisodeStore

os.environ['VPTR_NO_PROGRESS'] = '1'


def bridge_store(tmp_path, name='dst', *extra):
    if not (tmp_path / 'src').exists():
        F.make_raw_tree(tmp_path / 'src')
    assert main(['data', 'bridge', str(tmp_path / 'src'), str(tmp_path / name),
                 '--size', '16', *extra]) == 0
    return tmp_path / name


def test_info_json_and_text(tmp_path, capsys):
    dst = bridge_store(tmp_path)
    capsys.readouterr()
    assert main(['data', 'info', str(dst), '--json']) == 0
    info = json.loads(capsys.readouterr().out)
    assert info['episodes'] == 4 and info['steps'] == 5 + 4 + 5 + 4
    assert info['tasks'] == ['put_corn_in_pot', 'sweep_beans']
    assert info['image_shape'] == [16, 16, 3] and info['kind'] == 'robot'
    assert info['bytes'] > 18 * 16 * 16 * 3
    assert info['episodes_per_task'] == {'put_corn_in_pot': 3, 'sweep_beans': 1}
    assert len(info['stats']['action']['mean']) == 7 and info['stats']['action']['count'] == 14
    assert main(['data', 'info', str(dst)]) == 0
    text = capsys.readouterr().out
    assert 'episodes 4, steps 18' in text and 'put_corn_in_pot: 3 episodes' in text


def test_validate_clean_and_damaged(tmp_path, capsys):
    dst = bridge_store(tmp_path)
    assert main(['data', 'validate', str(dst)]) == 0
    assert 'ok (4 episodes, 18 steps' in capsys.readouterr().out
    shard = dst / 'shards' / 'shard_00000'
    states = np.load(shard / 'states.npy', mmap_mode='r+')
    states[7, 2] = np.nan
    states.flush()
    del states
    flags = np.load(shard / 'is_last.npy', mmap_mode='r+')
    flags[0] = True
    flags.flush()
    del flags
    assert main(['data', 'validate', str(dst)]) == 1
    out = capsys.readouterr().out
    assert 'shards/shard_00000/states.npy: NaN/inf at row 7' in out
    assert 'is_last.npy: episode boundaries disagree' in out
    images = shard / 'images.npy'
    images.write_bytes(images.read_bytes()[:1000])
    assert main(['data', 'validate', str(dst)]) == 1
    assert 'images.npy: unreadable shard file' in capsys.readouterr().out
    assert main(['data', 'validate', str(tmp_path / 'nothing')]) == 2
    assert 'no such episode store' in capsys.readouterr().err


def test_overwrite_append_and_existing_destination(tmp_path, capsys):
    dst = bridge_store(tmp_path)
    assert main(['data', 'bridge', str(tmp_path / 'src'), str(dst), '--size', '16']) == 2
    assert 'already exists; pass --overwrite' in capsys.readouterr().err
    F.make_out_npy(tmp_path / 'more' / 'stack' / '00' / 'train' / 'out.npy', [3, 3])
    assert main(['data', 'bridge', str(tmp_path / 'more'), str(dst), '--size', '16',
                 '--append']) == 0
    store = EpisodeStore(dst)
    assert len(store) == 6 and 'stack' in store.tasks
    assert store.episodes[4].start == 18
    assert main(['data', 'validate', str(dst)]) == 0
    # appending other image sizes or kinds is refused, the store is untouched
    assert main(['data', 'bridge', str(tmp_path / 'more'), str(dst), '--size', '32',
                 '--append']) == 2
    F.write_video(tmp_path / 'vid' / 'a' / 'v.avi', 10, 5.0, fourcc='MJPG')
    assert main(['data', 'video', str(tmp_path / 'vid'), str(dst), '--size', '16',
                 '--append']) == 2
    assert len(EpisodeStore(dst)) == 6
    assert main(['data', 'bridge', str(tmp_path / 'more'), str(dst), '--size', '16',
                 '--overwrite']) == 0
    assert len(EpisodeStore(dst)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ['dst', 'more', 'src', 'vid']


def test_interrupted_conversion_leaves_nothing(tmp_path, monkeypatch, capsys):
    F.make_raw_tree(tmp_path / 'src')
    calls = []
    real = bridge.convert_raw

    def interrupted(unit, opts):
        calls.append(unit)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(unit, opts)

    monkeypatch.setattr(bridge, 'convert_raw', interrupted)
    assert main(['data', 'bridge', str(tmp_path / 'src'), str(tmp_path / 'dst')]) == 130
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ['src']
    # the same on --append: the existing store keeps its episodes and files
    monkeypatch.setattr(bridge, 'convert_raw', real)
    dst = bridge_store(tmp_path)
    before = sorted(str(p.relative_to(dst)) for p in dst.rglob('*'))
    calls.clear()
    monkeypatch.setattr(bridge, 'convert_raw', interrupted)
    assert main(['data', 'bridge', str(tmp_path / 'src'), str(dst), '--size', '16',
                 '--append']) == 130
    assert sorted(str(p.relative_to(dst)) for p in dst.rglob('*')) == before
    assert len(EpisodeStore(dst)) == 4


def test_workers_give_the_same_store(tmp_path):
    one = bridge_store(tmp_path, 'one')
    two = bridge_store(tmp_path, 'two', '--workers', '2')
    a, b = EpisodeStore(one), EpisodeStore(two)
    assert [e.source for e in a.episodes] == [e.source for e in b.episodes]
    for key in ('images', 'states', 'actions'):
        np.testing.assert_array_equal(a.gather(key, np.arange(a.num_steps)),
                                      b.gather(key, np.arange(b.num_steps)))


def test_usage_errors(tmp_path, capsys):
    assert main(['data', 'bridge', str(tmp_path / 'missing'), str(tmp_path / 'dst')]) == 2
    assert 'no such file or folder' in capsys.readouterr().err
    assert main(['data', 'video', str(tmp_path), str(tmp_path / 'd'), '--workers', '0']) == 2
    assert main(['data']) == 2
