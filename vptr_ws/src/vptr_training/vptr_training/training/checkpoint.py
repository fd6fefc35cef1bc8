"""Self-describing checkpoint directories (safetensors + JSON/YAML, never pickle).

Layout of RUN_DIR/checkpoints/step_00001000/:
  model.safetensors        agent.state_dict() (all networks, target networks, temperatures)
  encoder.safetensors      agent.encoder_state_dict(): what the next phase starts from
  config.yaml              the resolved config (with config_version; read back migrated
                           to the current schema, training/config.py migrate_config)
  spec.json                what acting needs: algo, image_size, state/action names, action
                           box, control rate, task names, encoder
  stats.json               normalisation statistics of the data it was trained on
  train_state.safetensors  optimizer tensors and RNG states (tensors)
  train_state.json         step, git revision, sampler state, RNG states and optimizer
                           structure (JSON; tensors referenced by name)
  manifest.json            sha256 and size of every other file (tampering / truncation)
RUN_DIR/checkpoints/latest names the newest complete checkpoint (a one-line text file,
replaced atomically). A checkpoint is assembled in a temporary directory and renamed into
place, so a directory named step_* is always complete.

Nothing here calls pickle (or torch.load): tensors go through safetensors, the rest is JSON
with a small tagged encoding for tuples, non-string dict keys and tensors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
import json
import os
from pathlib import Path
import random
import shutil
import struct
import subprocess
from typing import Any
import uuid

import numpy as np
from safetensors.torch import load_file, save_file
import torch
from vptr_training.errors import CheckpointError, ConfigError
import yaml

CHECKPOINTS_DIR = 'checkpoints'
LATEST_FILE = 'latest'
MODEL_FILE = 'model.safetensors'
ENCODER_FILE = 'encoder.safetensors'
CONFIG_FILE = 'config.yaml'
SPEC_FILE = 'spec.json'
STATS_FILE = 'stats.json'
TRAIN_TENSORS_FILE = 'train_state.safetensors'
TRAIN_JSON_FILE = 'train_state.json'
MANIFEST_FILE = 'manifest.json'
REQUIRED_FILES = (MODEL_FILE, CONFIG_FILE, SPEC_FILE, STATS_FILE, MANIFEST_FILE)
FORMAT = 'vptr-checkpoint'
FORMAT_VERSION = 1
_MAX_HEADER_BYTES = 100 * 1024 * 1024


# ----------------------------------------------------------------------------- encoding

def encode_tree(value: Any, tensors: dict[str, torch.Tensor], prefix: str) -> Any:
    """JSON-able form of a nested structure; tensors are moved to `tensors` under
    `prefix/...` and referenced as {"__tensor__": name}."""
    if isinstance(value, torch.Tensor):
        name = prefix
        tensors[name] = value.detach().cpu().contiguous().clone()
        return {'__tensor__': name}
    if isinstance(value, np.ndarray):
        name = prefix
        tensors[name] = torch.from_numpy(np.ascontiguousarray(value).copy())
        return {'__ndarray__': name}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith('__') for k in value):
            return {k: encode_tree(v, tensors, f'{prefix}/{k}') for k, v in value.items()}
        return {'__dict__': [[encode_tree(k, tensors, f'{prefix}/key{i}'),
                              encode_tree(v, tensors, f'{prefix}/{i}')]
                             for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, tuple):
        return {'__tuple__': [encode_tree(v, tensors, f'{prefix}/{i}')
                              for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode_tree(v, tensors, f'{prefix}/{i}') for i, v in enumerate(value)]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise CheckpointError(f'cannot store a value of type {type(value).__name__} at {prefix}')


def decode_tree(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if '__tensor__' in value:
            return tensors[value['__tensor__']]
        if '__ndarray__' in value:
            return tensors[value['__ndarray__']].numpy()
        if '__tuple__' in value:
            return tuple(decode_tree(v, tensors) for v in value['__tuple__'])
        if '__dict__' in value:
            return {decode_tree(k, tensors): decode_tree(v, tensors)
                    for k, v in value['__dict__']}
        return {k: decode_tree(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_tree(v, tensors) for v in value]
    return value


# --------------------------------------------------------------------------------- RNG

def capture_rng_state() -> dict[str, Any]:
    """torch (CPU and CUDA), numpy global and python `random` states, as plain values."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        'torch': torch.get_rng_state(),
        'numpy': {'kind': np_state[0], 'keys': np.asarray(np_state[1]),
                  'pos': int(np_state[2]), 'has_gauss': int(np_state[3]),
                  'cached_gaussian': float(np_state[4])},
        'python': _python_rng_to_json(random.getstate()),
    }
    if torch.cuda.is_available():
        state['cuda'] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(torch.as_tensor(state['torch'], dtype=torch.uint8))
    n = state['numpy']
    np.random.set_state((n['kind'], np.asarray(n['keys'], dtype=np.uint32), int(n['pos']),
                         int(n['has_gauss']), float(n['cached_gaussian'])))
    random.setstate(_python_rng_from_json(state['python']))
    if 'cuda' in state and torch.cuda.is_available():
        cuda_states = [torch.as_tensor(s, dtype=torch.uint8) for s in state['cuda']]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def _python_rng_to_json(state: tuple) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _python_rng_from_json(state: list[Any]) -> tuple:
    version, internal, gauss = state
    return (int(version), tuple(int(x) for x in internal), gauss)


# ------------------------------------------------------------------------ small helpers

def git_revision() -> str:
    """HEAD of the repository this package lives in (+ '-dirty'), or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(['git', '-C', str(here), 'rev-parse', 'HEAD'],
                             capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return 'unknown'
        dirty = subprocess.run(['git', '-C', str(here), 'status', '--porcelain',
                                '--untracked-files=no'], capture_output=True, text=True,
                               timeout=5)
        return rev.stdout.strip() + ('-dirty' if dirty.stdout.strip() else '')
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def make_spec(algo: str, image_size: int, task_names: list[str], encoder: str,
              control_hz: float = 5.0) -> dict[str, Any]:
    """The observation/action contract a checkpoint was trained with."""
    from vptr_training.robot import conventions
    return {
        'format': FORMAT, 'format_version': FORMAT_VERSION, 'algo': algo,
        'image_size': int(image_size),
        'state_names': list(conventions.STATE_NAMES),
        'action_names': list(conventions.ACTION_NAMES),
        'action_low': [float(x) for x in conventions.ACTION_LOW],
        'action_high': [float(x) for x in conventions.ACTION_HIGH],
        'action_scaling': 'linear [low, high] -> [-1, 1], clipped',
        'control_hz': float(control_hz),
        'task_names': list(task_names),
        'encoder': encoder,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + '\n')


def _plain_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses shared or non-contiguous storage: store independent copies.
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


# ----------------------------------------------------------------------------- writing

def checkpoint_name(step: int) -> str:
    return f'step_{int(step):08d}'


def save_checkpoint(run_dir: str | os.PathLike, step: int,
                    model_state: dict[str, torch.Tensor], *, config: Any,
                    spec: dict[str, Any], stats: dict[str, Any] | None = None,
                    encoder_state: dict[str, torch.Tensor] | None = None,
                    optimizer_states: dict[str, dict[str, Any]] | None = None,
                    sampler_state: dict[str, Any] | None = None,
                    rng_state: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None, keep_last: int = 2) -> Path:
    """Write RUN_DIR/checkpoints/step_NNNNNNNN atomically, point `latest` at it and prune
    to the `keep_last` newest. Returns the checkpoint directory."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f'.tmp-{checkpoint_name(step)}-{uuid.uuid4().hex[:8]}'
    tmp.mkdir()
    try:
        save_file(_plain_state_dict(model_state), str(tmp / MODEL_FILE),
                  metadata={'format': FORMAT, 'step': str(int(step))})
        if encoder_state is not None:
            save_file(_plain_state_dict(encoder_state), str(tmp / ENCODER_FILE),
                      metadata={'format': FORMAT, 'step': str(int(step))})
        from vptr_training.training.config import dump_config
        (tmp / CONFIG_FILE).write_text(dump_config(config))
        _write_json(tmp / SPEC_FILE, spec)
        _write_json(tmp / STATS_FILE, stats or {})
        revision = git_revision()
        tensors: dict[str, torch.Tensor] = {}
        train_json = {
            'step': int(step), 'git_revision': revision,
            'sampler': encode_tree(sampler_state, tensors, 'sampler'),
            'rng': encode_tree(rng_state, tensors, 'rng'),
            'optimizers': encode_tree(optimizer_states or {}, tensors, 'optim'),
            'extra': encode_tree(extra or {}, tensors, 'extra'),
        }
        save_file(tensors, str(tmp / TRAIN_TENSORS_FILE), metadata={'format': FORMAT})
        _write_json(tmp / TRAIN_JSON_FILE, train_json)
        files = sorted(p.name for p in tmp.iterdir())
        _write_json(tmp / MANIFEST_FILE, {
            'format': FORMAT, 'format_version': FORMAT_VERSION, 'step': int(step),
            'git_revision': revision,
            'files': {name: {'sha256': _sha256(tmp / name),
                             'bytes': (tmp / name).stat().st_size} for name in files}})
        _fsync_dir(tmp)
        if final.exists():          # the same step saved again: swap it out
            old = root / f'.old-{final.name}-{uuid.uuid4().hex[:8]}'
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_latest(root, final.name)
    prune_checkpoints(root, keep_last)
    return final


def _fsync_dir(path: Path) -> None:
    for child in path.iterdir():
        with open(child, 'rb') as f:
            os.fsync(f.fileno())


def _write_latest(root: Path, name: str) -> None:
    tmp = root / f'.{LATEST_FILE}.tmp{os.getpid()}'
    tmp.write_text(name + '\n')
    os.replace(tmp, root / LATEST_FILE)


def list_checkpoints(run_or_checkpoints_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoint directories, oldest first."""
    root = Path(run_or_checkpoints_dir)
    if (root / CHECKPOINTS_DIR).is_dir():
        root = root / CHECKPOINTS_DIR
    found = [p for p in root.glob('step_*') if p.is_dir() and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def prune_checkpoints(root: Path, keep_last: int) -> None:
    checkpoints = list_checkpoints(root)
    latest = (root / LATEST_FILE).read_text().strip() if (root / LATEST_FILE).exists() else ''
    for old in checkpoints[:max(0, len(checkpoints) - max(1, keep_last))]:
        if old.name != latest:
            shutil.rmtree(old, ignore_errors=True)
    for stale in list(root.glob('.tmp-*')) + list(root.glob('.old-*')):
        # leftovers of a killed writer (only ones that are not ours right now)
        shutil.rmtree(stale, ignore_errors=True)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint `latest` points to in RUN_DIR (or a checkpoints dir); None if none."""
    root = Path(run_dir)
    if (root / CHECKPOINTS_DIR).is_dir():
        root = root / CHECKPOINTS_DIR
    pointer = root / LATEST_FILE
    if pointer.is_file():
        candidate = root / pointer.read_text().strip()
        if candidate.is_dir():
            return candidate
    found = list_checkpoints(root)
    return found[-1] if found else None


def resolve_checkpoint_dir(path: str | os.PathLike) -> Path:
    """A checkpoint directory, or a run / checkpoints directory (its latest checkpoint)."""
    path = Path(path)
    if (path / MODEL_FILE).exists() or (path / MANIFEST_FILE).exists():
        return path
    if not path.exists():
        raise CheckpointError(f'{path}: no such checkpoint directory')
    latest = latest_checkpoint(path)
    if latest is None:
        raise CheckpointError(f'{path}: not a checkpoint directory and holds no checkpoints')
    return latest


# ----------------------------------------------------------------------------- reading

@dataclass
class Checkpoint:
    path: Path
    step: int
    config: dict[str, Any]      # config.yaml, migrated (training.config.config_from_dict types it)
    spec: dict[str, Any]
    stats: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    encoder_state: dict[str, torch.Tensor] | None = None
    optimizer_states: dict[str, Any] = field(default_factory=dict)
    sampler_state: dict[str, Any] | None = None
    rng_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    git_revision: str = 'unknown'


def check_safetensors_file(path: Path) -> None:
    """Parse the header and check every tensor lies inside the file (no data read)."""
    size = path.stat().st_size
    try:
        with open(path, 'rb') as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f'{path}: truncated (no safetensors header)')
            (header_len,) = struct.unpack('<Q', head)
            if header_len > min(_MAX_HEADER_BYTES, size - 8):
                raise CheckpointError(f'{path}: truncated or corrupt (header of {header_len} '
                                      f'bytes in a file of {size})')
            header = json.loads(f.read(header_len))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f'{path}: corrupt safetensors header ({exc})') from None
    if not isinstance(header, dict):
        raise CheckpointError(f'{path}: corrupt safetensors header')
    data_bytes = size - 8 - header_len
    end = 0
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        try:
            begin, stop = entry['data_offsets']
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f'{path}: corrupt safetensors entry {name!r}') from None
        end = max(end, int(stop))
        if not 0 <= int(begin) <= int(stop):
            raise CheckpointError(f'{path}: corrupt offsets for tensor {name!r}')
    if end != data_bytes:
        raise CheckpointError(f'{path}: truncated or corrupt ({data_bytes} data bytes, the '
                              f'header describes {end})')


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f'{path}: unreadable JSON ({exc})') from None


def verify_checkpoint(path: Path, check_hashes: bool = True) -> dict[str, Any]:
    """Files present, safetensors headers sane, manifest sizes and sha256 match."""
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise CheckpointError(f'{path}: incomplete checkpoint, {name} is missing')
    manifest = _read_json(path / MANIFEST_FILE)
    if not isinstance(manifest, dict) or manifest.get('format') != FORMAT:
        raise CheckpointError(f'{path / MANIFEST_FILE}: not a {FORMAT} manifest')
    if manifest.get('format_version') != FORMAT_VERSION:
        raise CheckpointError(f'{path / MANIFEST_FILE}: format version '
                              f'{manifest.get("format_version")!r}, this code reads '
                              f'{FORMAT_VERSION}')
    files = manifest.get('files', {})
    for name in REQUIRED_FILES[:-1]:
        if name not in files:
            raise CheckpointError(f'{path / MANIFEST_FILE}: does not list {name}')
    for name, entry in files.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f'{path}: incomplete checkpoint, {name} is missing')
        if name.endswith('.safetensors'):
            check_safetensors_file(file)
        if file.stat().st_size != entry.get('bytes'):
            raise CheckpointError(f'{file}: {file.stat().st_size} bytes, the manifest says '
                                  f'{entry.get("bytes")} (truncated or modified)')
        if check_hashes and _sha256(file) != entry.get('sha256'):
            raise CheckpointError(f'{file}: sha256 does not match the manifest (the file '
                                  'was modified or corrupted)')
    return manifest


def check_spec(spec: dict[str, Any], expect: dict[str, Any], where: Path) -> None:
    """Compare spec fields with expectations; `action_dim` / `state_dim` are derived."""
    derived = dict(spec)
    derived['action_dim'] = len(spec.get('action_names', []))
    derived['state_dim'] = len(spec.get('state_names', []))
    for key, want in expect.items():
        have = derived.get(key)
        if isinstance(want, tuple):
            want = list(want)
        if have != want:
            raise CheckpointError(f'{where}: {key} is {have!r} in the checkpoint, '
                                  f'expected {want!r}')


def state_dict_mismatch(exc: RuntimeError, max_items: int = 4) -> str:
    """What torch's load_state_dict error says is wrong, in one line: its first line is
    only "Error(s) in loading state_dict for X:"; the detail (missing / unexpected keys,
    "size mismatch for ...: copying a param with shape ...") follows."""
    lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
    if not lines:
        return str(exc).strip()
    more = f' (+{len(lines) - max_items} more)' if len(lines) > max_items else ''
    return '; '.join(lines[:max_items]) + more


def load_checkpoint(path: str | os.PathLike, expect: dict[str, Any] | None = None,
                    load_train_state: bool = True, check_hashes: bool = True,
                    map_location: str = 'cpu') -> Checkpoint:
    """Verify and read a checkpoint (a checkpoint dir, or a run dir: its latest)."""
    ckpt = resolve_checkpoint_dir(path)
    manifest = verify_checkpoint(ckpt, check_hashes=check_hashes)
    spec = _read_json(ckpt / SPEC_FILE)
    if not isinstance(spec, dict):
        raise CheckpointError(f'{ckpt / SPEC_FILE}: not a JSON object')
    if expect:
        check_spec(spec, expect, ckpt / SPEC_FILE)
    config = read_checkpoint_config(ckpt)
    stats = _read_json(ckpt / STATS_FILE)
    model_state = _load_tensors(ckpt / MODEL_FILE, map_location)
    encoder_state = (_load_tensors(ckpt / ENCODER_FILE, map_location)
                     if (ckpt / ENCODER_FILE).exists() else None)
    result = Checkpoint(path=ckpt, step=int(manifest.get('step', 0)), config=config,
                        spec=spec, stats=stats, model_state=model_state,
                        encoder_state=encoder_state,
                        git_revision=str(manifest.get('git_revision', 'unknown')))
    if load_train_state and (ckpt / TRAIN_JSON_FILE).exists():
        if not (ckpt / TRAIN_TENSORS_FILE).exists():
            raise CheckpointError(f'{ckpt}: {TRAIN_TENSORS_FILE} is missing')
        tensors = _load_tensors(ckpt / TRAIN_TENSORS_FILE, 'cpu')
        train = _read_json(ckpt / TRAIN_JSON_FILE)
        try:
            result.step = int(train['step'])
            result.sampler_state = decode_tree(train.get('sampler'), tensors)
            result.rng_state = decode_tree(train.get('rng'), tensors)
            result.optimizer_states = decode_tree(train.get('optimizers') or {}, tensors)
            result.extra = decode_tree(train.get('extra') or {}, tensors)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f'{ckpt / TRAIN_JSON_FILE}: malformed ({exc!r})') from None
    return result


def read_checkpoint_config(ckpt: Path) -> dict[str, Any]:
    """A checkpoint's config.yaml as a plain dict, migrated to the current schema version
    (a checkpoint saved by older code, without config_version, still loads)."""
    from vptr_training.training.config import migrate_config
    path = ckpt / CONFIG_FILE
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise CheckpointError(f'{path}: unreadable YAML ({exc})') from None
    if not isinstance(data, dict):
        raise CheckpointError(f'{path}: not a mapping')
    try:
        return migrate_config(data, str(path))
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None


def _load_tensors(path: Path, device: str) -> dict[str, torch.Tensor]:
    check_safetensors_file(path)
    try:
        return load_file(str(path), device=device)
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f'{path}: cannot read tensors ({exc})') from None
