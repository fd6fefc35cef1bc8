"""Checkpoint directories: round trip, atomic writes, pruning, tampering, no pickle."""
from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest
import torch

from vptr_training.errors import CheckpointError
from vptr_training.training import checkpoint as ck
from vptr_training.training.config import load_config


def _model_and_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=3.125e-4)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        optimizer.step()
    return model, optimizer


def _save(run_dir, step, model, optimizer, spec=None, **kwargs):
    config = load_config('demo_train')
    spec = spec or ck.make_spec('cql', 64, ['a', 'b'], 'small')
    return ck.save_checkpoint(
        run_dir, step, model.state_dict(), config=config, spec=spec, stats={'n': 1},
        encoder_state={'w': model[0].weight}, optimizer_states={'main': optimizer.state_dict()},
        sampler_state={'seed': 0, 'world_size': 1, 'next_batch': step},
        rng_state=ck.capture_rng_state(), extra={'tuple': (1, 2.5), 3: 'int key'}, **kwargs)


@pytest.fixture
def saved(tmp_path):
    model, optimizer = _model_and_optimizer()
    path = _save(tmp_path / 'run', 10, model, optimizer)
    return path, model, optimizer


def test_round_trip(saved):
    path, model, optimizer = saved
    assert sorted(p.name for p in path.iterdir()) == sorted([
        'model.safetensors', 'encoder.safetensors', 'config.yaml', 'spec.json', 'stats.json',
        'train_state.safetensors', 'train_state.json', 'manifest.json'])
    loaded = ck.load_checkpoint(path.parent.parent)     # a run dir resolves to its latest
    assert loaded.path == path and loaded.step == 10
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model_state[key], value)
    assert torch.equal(loaded.encoder_state['w'], model[0].weight)
    assert loaded.spec['image_size'] == 64 and loaded.spec['task_names'] == ['a', 'b']
    assert loaded.spec['action_names'][-1] == 'gripper' and len(loaded.spec['action_low']) == 7
    assert loaded.config == load_config('demo_train').to_dict() and loaded.stats == {'n': 1}
    assert loaded.sampler_state == {'seed': 0, 'world_size': 1, 'next_batch': 10}
    assert loaded.extra == {'tuple': (1, 2.5), 3: 'int key'}
    # the optimizer continues exactly
    fresh_model, _ = _model_and_optimizer()
    fresh_model.load_state_dict(loaded.model_state)
    restored = torch.optim.Adam(fresh_model.parameters(), lr=0.5)
    restored.load_state_dict(loaded.optimizer_states['main'])
    assert restored.param_groups[0]['lr'] == 1e-3
    assert restored.param_groups[0]['betas'] == optimizer.param_groups[0]['betas']
    for (a, b) in zip(optimizer.state.values(), restored.state.values()):
        for key in a:
            assert torch.equal(a[key], b[key])
    x = torch.randn(3, 4)
    for opt, net in ((optimizer, model), (restored, fresh_model)):
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    for p, q in zip(model.parameters(), fresh_model.parameters()):
        assert torch.equal(p, q)
    train_json = json.loads((path / 'train_state.json').read_text())
    assert 'git_revision' in train_json and train_json['step'] == 10


def test_rng_state_round_trip(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    model, optimizer = _model_and_optimizer()
    path = _save(tmp_path / 'run', 1, model, optimizer)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    ck.restore_rng_state(ck.load_checkpoint(path).rng_state)
    # _save captured the states right before `expected` was drawn
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1]) and got[2] == expected[2]


def test_latest_pointer_and_pruning(tmp_path):
    model, optimizer = _model_and_optimizer()
    run = tmp_path / 'run'
    for step in (5, 10, 15, 20):
        _save(run, step, model, optimizer, keep_last=2)
    assert [p.name for p in ck.list_checkpoints(run)] == ['step_00000015', 'step_00000020']
    assert (run / 'checkpoints' / 'latest').read_text().strip() == 'step_00000020'
    assert ck.latest_checkpoint(run).name == 'step_00000020'
    _save(run, 20, model, optimizer, keep_last=2)        # the same step again replaces it
    assert [p.name for p in ck.list_checkpoints(run)] == ['step_00000015', 'step_00000020']
    assert not list((run / 'checkpoints').glob('.tmp-*'))


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    model, optimizer = _model_and_optimizer()
    run = tmp_path / 'run'
    _save(run, 5, model, optimizer)

    def explode(*args, **kwargs):
        raise OSError('disk full')
    monkeypatch.setattr(ck, '_write_json', explode)
    with pytest.raises(OSError):
        _save(run, 10, model, optimizer)
    assert sorted(p.name for p in (run / 'checkpoints').iterdir()) == ['latest',
                                                                       'step_00000005']
    assert ck.latest_checkpoint(run).name == 'step_00000005'


def test_tampered_file_is_detected(saved):
    path = saved[0]
    data = bytearray((path / 'model.safetensors').read_bytes())
    data[-3] ^= 0xFF                                  # same size, one weight changed
    (path / 'model.safetensors').write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r'model\.safetensors: sha256'):
        ck.load_checkpoint(path)


def test_truncated_file_is_detected(saved):
    path = saved[0]
    data = (path / 'model.safetensors').read_bytes()
    (path / 'model.safetensors').write_bytes(data[:len(data) - 10])
    with pytest.raises(CheckpointError, match=r'model\.safetensors: truncated'):
        ck.load_checkpoint(path)
    (path / 'encoder.safetensors').write_bytes(b'\x01\x02')
    with pytest.raises(CheckpointError, match='safetensors'):
        ck.check_safetensors_file(path / 'encoder.safetensors')


def test_corrupt_header_is_detected(saved):
    path = saved[0]
    data = bytearray((path / 'train_state.safetensors').read_bytes())
    data[8] = ord('#')                                # the JSON header no longer parses
    (path / 'train_state.safetensors').write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r'train_state\.safetensors: corrupt'):
        ck.load_checkpoint(path)


def test_missing_file_and_not_a_checkpoint(saved, tmp_path):
    path = saved[0]
    (path / 'spec.json').unlink()
    with pytest.raises(CheckpointError, match='spec.json is missing'):
        ck.load_checkpoint(path)
    with pytest.raises(CheckpointError, match='no such checkpoint'):
        ck.load_checkpoint(tmp_path / 'nowhere')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(CheckpointError, match='holds no checkpoints'):
        ck.load_checkpoint(tmp_path / 'empty')


def test_spec_mismatch_names_both_values(tmp_path):
    model, optimizer = _model_and_optimizer()
    spec = ck.make_spec('cql', 64, ['a'], 'small')
    spec['action_names'] = spec['action_names'][:6]
    path = _save(tmp_path / 'run', 3, model, optimizer, spec=spec)
    with pytest.raises(CheckpointError, match=r'image_size is 64 in the checkpoint, '
                                              r'expected 128'):
        ck.load_checkpoint(path, expect={'image_size': 128})
    with pytest.raises(CheckpointError, match=r'action_dim is 6 .* expected 7'):
        ck.load_checkpoint(path, expect={'action_dim': 7})
    assert ck.load_checkpoint(path, expect={'image_size': 64, 'task_names': ['a']}).step == 3


def test_loading_never_unpickles(saved, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError('pickle used while loading a checkpoint')
    monkeypatch.setattr(pickle, 'load', forbidden)
    monkeypatch.setattr(pickle, 'loads', forbidden)
    monkeypatch.setattr(pickle, 'Unpickler', forbidden)
    monkeypatch.setattr(torch, 'load', forbidden)
    loaded = ck.load_checkpoint(saved[0])
    assert loaded.rng_state['torch'].dtype == torch.uint8
    assert not any(p.suffix in ('.pt', '.pth', '.pkl', '.bin') for p in saved[0].iterdir())


def test_encode_tree_round_trip():
    tensors: dict = {}
    value = {'a': (1, [2.0, None]), 'b': {0: torch.arange(3), 'x': np.ones(2, np.uint32)},
             'c': True}
    encoded = ck.encode_tree(value, tensors, 'p')
    decoded = ck.decode_tree(json.loads(json.dumps(encoded)), tensors)
    assert decoded['a'] == (1, [2.0, None]) and decoded['c'] is True
    assert torch.equal(decoded['b'][0], torch.arange(3))
    assert decoded['b']['x'].dtype == np.uint32
    with pytest.raises(CheckpointError, match='cannot store'):
        ck.encode_tree({'f': object()}, {}, 'p')


def test_state_dict_mismatch_names_the_tensor_and_shapes():
    model = torch.nn.Linear(3, 2)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict({'weight': torch.zeros(4, 3), 'bias': torch.zeros(2),
                               'extra': torch.zeros(1)})
    text = ck.state_dict_mismatch(info.value)
    assert 'Unexpected key(s) in state_dict: "extra"' in text
    assert 'size mismatch for weight' in text and 'torch.Size([4, 3])' in text
