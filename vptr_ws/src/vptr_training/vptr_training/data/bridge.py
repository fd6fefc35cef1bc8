"""`vptr data bridge SRC DST`: Bridge robot data -> an episode store of kind 'robot'.

Three input forms are detected under SRC (a file or a tree; they may be mixed):

* the raw tree (docs/robot.md): folders ``traj<N>`` (or any folder holding ``obs_dict.pkl``)
  with ``obs_dict.pkl``, ``policy_out.pkl``, ``images<K>/im_<t>.jpg`` and ``lang.txt``.
  Task = the folder two levels above the dated folder (``<task>/<NN>/<date>/raw/...``);
  flat layouts (``data/traj0``) fall back to ``--task`` or lang.txt. Trajectories in
  dated folders before 2021-07-23 get the camera-latency shift (drop the first
  observation and the last action). ``agent_data.pkl`` is never opened.
* ``out.npy`` files (the numpy conversion: a pickled list of trajectory dicts).
* RLDS TFRecords (``*.tfrecord*``), in the rail-berkeley ``bridge_dataset`` 1.0.0 layout
  or the Open X-Embodiment ``bridge`` 0.1.0 layout, read without TensorFlow.

Every pickle goes through the restricted unpickler. Images are squashed (no crop) to
``--size``; actions stay in raw units; rewards are zeros and demos count as successes.
Train/val split: deterministic from a hash of the dated folder (raw), the ``train``/``val``
folder (out.npy) or the file name (TFRecords), so it does not change when data is added.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
import datetime
import functools
import hashlib
import os
from pathlib import Path
import re
from typing import Any

import numpy as np

from vptr_training.data.convert import (add_common_arguments, check_workers,
                                        decode_image_bytes, read_image_rgb, require_source,
                                        run_conversion)
from vptr_training.data.restricted_pickle import load_pickle, loads_pickle
from vptr_training.data.store import EpisodeData
from vptr_training.errors import DataError

LATENCY_FIX_DATE = datetime.datetime(2021, 7, 23)
_DATED = re.compile(r'^(\d{4}-\d{2}-\d{2})_(\d{2}-\d{2}-\d{2})$')
_TRAJ = re.compile(r'^traj\d+$')
_IMAGE = re.compile(r'^im_(\d+)\.(jpg|jpeg|png)$', re.IGNORECASE)


@dataclass(frozen=True)
class BridgeOptions:
    camera: int = 0
    size: int = 128
    task: str = ''                   # --task: names the task of every trajectory
    relabel_actions: bool = False
    control_hz: float = 5.0


@dataclass(frozen=True)
class BridgeUnit:
    form: str                        # 'raw' | 'numpy' | 'rlds'
    path: str
    task: str = ''                   # from the path ('' = unknown)
    split: str = 'train'
    latency_shift: bool = False

    def __str__(self) -> str:
        return self.path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument('--camera', type=int, default=0,
                        help='camera index K (images<K>/, image_<K>; default 0)')
    parser.add_argument('--task', default='',
                        help='task name for every trajectory (needed for flat layouts '
                        'without lang.txt)')
    parser.add_argument('--val-fraction', type=float, default=0.1,
                        help='fraction of dated folders / files put in the val split')
    parser.add_argument('--relabel-actions', action='store_true',
                        help='replace actions by next_state - state (Bridge relabelling)')


# ------------------------------------------------------------------------- discovery

def hashed_split(key: str, val_fraction: float) -> str:
    """Deterministic split of a key (stable across runs, machines and appends)."""
    digest = hashlib.sha1(key.encode('utf-8')).digest()
    return 'val' if int.from_bytes(digest[:8], 'big') / 2.0 ** 64 < val_fraction else 'train'


def _relative_key(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def _raw_unit(traj: Path, root: Path, val_fraction: float) -> BridgeUnit:
    parts = traj.parts
    task, latency = '', False
    split_key = _relative_key(traj, root)        # flat layouts: split per trajectory
    if 'raw' in parts[:-1]:
        raw_at = len(parts) - 1 - parts[::-1].index('raw', 1)
        if raw_at >= 1:
            dated = Path(*parts[:raw_at])
            split_key = _relative_key(dated, root)   # split per dated collection folder
            if _DATED.match(dated.name):
                when = datetime.datetime.strptime(dated.name, '%Y-%m-%d_%H-%M-%S')
                latency = when < LATENCY_FIX_DATE
            # <task>/<NN>/<date>/raw/...; older collections omit the <NN> level
            above = dated.parent
            task = above.parent.name if above.name.isdigit() else above.name
    return BridgeUnit('raw', str(traj), task, hashed_split(split_key, val_fraction), latency)


def _numpy_unit(path: Path, val_fraction: float) -> BridgeUnit:
    parent = path.parent.name
    split = {'train': 'train', 'val': 'val', 'test': 'val'}.get(parent)
    task = ''
    if split:
        above = path.parent.parent
        task = above.parent.name if above.name.isdigit() else above.name
    return BridgeUnit('numpy', str(path), task, split or hashed_split(str(path), val_fraction))


def _rlds_unit(path: Path, val_fraction: float) -> BridgeUnit:
    name = path.name.lower()
    if '-train.' in name:
        split = 'train'
    elif '-val.' in name or '-test.' in name or '-validation.' in name:
        split = 'val'
    else:
        split = hashed_split(path.name, val_fraction)
    return BridgeUnit('rlds', str(path), '', split)


def find_units(src: Path, val_fraction: float) -> list[BridgeUnit]:
    """All raw trajectories, out.npy files and TFRecord files under src, sorted."""
    if src.is_file():
        if '.tfrecord' in src.name:
            return [_rlds_unit(src, val_fraction)]
        if src.suffix == '.npy':
            return [_numpy_unit(src, val_fraction)]
        if src.name == 'obs_dict.pkl':
            return [_raw_unit(src.parent, src.parent.parent, val_fraction)]
        raise DataError(src, 'not Bridge data (expected a folder, out.npy or a .tfrecord)')
    units: list[BridgeUnit] = []
    if (src / 'obs_dict.pkl').is_file() or _TRAJ.match(src.name):
        return [_raw_unit(src, src.parent, val_fraction)]
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        here = Path(folder)
        for d in list(dirs):
            # a traj<N> folder is a trajectory even if broken (empty): reported, not lost
            if _TRAJ.match(d):
                units.append(_raw_unit(here / d, src, val_fraction))
                dirs.remove(d)
        if 'obs_dict.pkl' in files and not _TRAJ.match(here.name) and here != src:
            units.append(_raw_unit(here, src, val_fraction))
            dirs[:] = []
            continue
        for name in sorted(f for f in files if not f.startswith('.')):
            if '.tfrecord' in name:
                units.append(_rlds_unit(here / name, val_fraction))
            elif name == 'out.npy':
                units.append(_numpy_unit(here / name, val_fraction))
    if not units:
        raise DataError(src, 'no Bridge data found (no traj*/obs_dict.pkl, out.npy or '
                        '*.tfrecord*)')
    return sorted(units, key=lambda u: u.path)


# ------------------------------------------------------------------------- helpers

def read_language(traj: Path) -> str:
    """First instruction of lang.txt; lines with 'confidence' are metadata."""
    path = traj / 'lang.txt'
    if not path.is_file():
        return ''
    try:
        lines = path.read_text(encoding='utf-8', errors='replace').splitlines()
    except OSError as exc:
        raise DataError(path, f'cannot read: {exc.strerror or exc}') from None
    for line in lines:
        text = line.strip()
        if text and 'confidence' not in text.lower():
            return text
    return ''


def _float_array(value: Any, source: str, name: str, width: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(source, f'{name} is not a numeric array') from None
    if arr.ndim != 2 or arr.shape[1] < width:
        raise DataError(source, f'{name} has shape {arr.shape}, expected (T, {width})')
    return arr[:, :width]


def _squash(rgb: np.ndarray, size: int) -> np.ndarray:
    from vptr_training.robot.image import squash_resize
    return squash_resize(rgb, size)


def _task_from_file_path(file_path: str) -> str:
    """Task from a Bridge numpy path (.../<task>/<NN>/train/out.npy)."""
    parts = [p for p in file_path.replace('\\', '/').split('/') if p]
    while parts and (parts[-1].endswith('.npy') or parts[-1] in ('train', 'val', 'test')
                     or parts[-1].isdigit() or _DATED.match(parts[-1])
                     or parts[-1] in ('raw',) or parts[-1].startswith('traj')):
        parts.pop()
    return parts[-1] if parts else ''


def _finish(unit: BridgeUnit, opts: BridgeOptions, source: str, images: np.ndarray,
            states: np.ndarray, actions: np.ndarray, language: str, path_task: str,
            timestamps: np.ndarray | None = None, split: str | None = None,
            terminals: np.ndarray | None = None) -> EpisodeData:
    if opts.relabel_actions:
        actions = _relabel(states)
    task = opts.task or path_task or language
    if not task:
        raise DataError(source, 'cannot tell the task (no <task>/<NN>/<date>/raw path, no '
                        'lang.txt); pass --task NAME')
    return EpisodeData(images=images, task=task, source=source,
                       states=states.astype(np.float32), actions=actions.astype(np.float32),
                       rewards=np.zeros(len(actions), np.float32), success=True,
                       language=language, timestamps=timestamps, split=split or unit.split,
                       terminals=terminals)


def _relabel(states: np.ndarray) -> np.ndarray:
    from vptr_training.robot.conventions import relabel_actions_from_states
    return relabel_actions_from_states(states)


# ------------------------------------------------------------------------- raw trees

def _image_files(folder: Path) -> list[Path]:
    numbered = []
    for p in folder.iterdir():
        m = _IMAGE.match(p.name)
        if m:
            numbered.append((int(m.group(1)), p))
    numbered.sort()
    for expected, (t, p) in enumerate(numbered):
        if t != expected:
            raise DataError(folder, f'image im_{expected}.jpg is missing (found im_{t})')
    return [p for _, p in numbered]


def convert_raw(unit: BridgeUnit, opts: BridgeOptions) -> list[EpisodeData]:
    traj = Path(unit.path)
    if not traj.is_dir():
        raise DataError(traj, 'trajectory folder does not exist')
    obs_path = traj / 'obs_dict.pkl'
    if not obs_path.is_file():
        raise DataError(traj, 'no obs_dict.pkl in trajectory folder'
                        + (' (folder is empty)' if not any(traj.iterdir()) else ''))
    obs = load_pickle(obs_path)
    if not isinstance(obs, dict):
        raise DataError(obs_path, f'expected a dict, got {type(obs).__name__}')
    key = 'full_state' if 'full_state' in obs else 'state' if 'state' in obs else None
    if key is None:
        raise DataError(obs_path, "missing key 'full_state' (or 'state'); keys: "
                        + ', '.join(sorted(map(str, obs))[:12]))
    states = _float_array(obs[key], str(obs_path), key, 7)

    policy_path = traj / 'policy_out.pkl'
    if not policy_path.is_file():
        raise DataError(traj, 'no policy_out.pkl (actions) in trajectory folder')
    policy = load_pickle(policy_path)
    if isinstance(policy, np.ndarray) and policy.dtype != object:
        raw_actions: Any = policy
    elif isinstance(policy, (list, tuple, np.ndarray)):
        raw_actions = []
        for t, step in enumerate(policy):
            if isinstance(step, dict):
                if 'actions' not in step:
                    raise DataError(policy_path, f"step {t} lacks key 'actions'")
                raw_actions.append(step['actions'])
            else:       # scripted data stores bare arrays
                raw_actions.append(step)
    else:
        raise DataError(policy_path, f'expected a list of steps, got {type(policy).__name__}')
    actions = _float_array(raw_actions, str(policy_path), 'actions', 7) \
        if len(raw_actions) else np.zeros((0, 7))

    cam_dir = traj / f'images{opts.camera}'
    if not cam_dir.is_dir():
        cams = sorted(p.name for p in traj.glob('images*') if p.is_dir())
        raise DataError(traj, f'no images{opts.camera}/ folder (cameras here: '
                        f'{", ".join(cams) or "none"})')
    files = _image_files(cam_dir)
    if not files:
        raise DataError(cam_dir, 'camera folder holds no im_<t>.jpg images')
    if not (len(files) == len(states) == len(actions) + 1):
        raise DataError(traj, f'mismatched lengths: {len(files)} images, {len(states)} '
                        f'states, {len(actions)} actions (expected images = states = '
                        'actions + 1)')
    timestamps = None
    stamps = obs.get('time_stamp')
    if stamps is not None:
        try:
            stamps = np.asarray(stamps, dtype=np.float64).reshape(-1)
            if len(stamps) == len(states) and np.isfinite(stamps).all():
                timestamps = stamps
        except (TypeError, ValueError):
            pass
    if unit.latency_shift:
        # one step of camera latency before 2021-07-23: image t shows the state of t-1
        files, states, actions = files[1:], states[1:], actions[:-1]
        timestamps = timestamps[1:] if timestamps is not None else None
    if len(files) < 2:
        raise DataError(traj, f'only {len(files)} usable observation(s)')
    images = np.stack([_squash(read_image_rgb(p), opts.size) for p in files])
    return [_finish(unit, opts, str(traj), images, states, actions, read_language(traj),
                    unit.task, timestamps)]


# ------------------------------------------------------------------------- out.npy

def load_numpy_trajectories(path: Path) -> list[Any]:
    """out.npy (np.save of an object array) or a plain pickle, restricted-unpickled."""
    try:
        with open(path, 'rb') as f:
            magic = f.read(6)
            f.seek(0)
            if magic == np.lib.format.MAGIC_PREFIX:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                if not dtype.hasobject:
                    raise DataError(path, f'a plain {dtype} array of shape {shape}, not a '
                                    'list of trajectories')
                data = loads_pickle(f.read(), str(path))
            else:
                data = loads_pickle(f.read(), str(path))
    except OSError as exc:
        raise DataError(path, f'cannot read: {exc.strerror or exc}') from None
    except ValueError as exc:
        raise DataError(path, f'bad .npy header: {exc}') from None
    if isinstance(data, np.ndarray):
        data = list(data.reshape(-1))
    if not isinstance(data, list):
        raise DataError(path, f'expected a list of trajectory dicts, got {type(data).__name__}')
    if not data:
        raise DataError(path, 'holds no trajectories')
    return data


def _obs_series(obs: Any, key: str, source: str, what: str) -> list[Any]:
    if isinstance(obs, dict):            # dict of arrays variant
        if key not in obs:
            raise DataError(source, f"{what} lack key '{key}'")
        return list(obs[key])
    series = []
    for t, o in enumerate(obs):
        if not isinstance(o, dict) or key not in o:
            raise DataError(source, f"{what}[{t}] lacks key '{key}'")
        series.append(o[key])
    return series


def _as_rgb(image: Any, source: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8 and arr.dtype.kind == 'f' and arr.size and arr.max() <= 1.0:
        arr = np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise DataError(source, f'image of shape {arr.shape} dtype {arr.dtype}, expected '
                        '(H, W, 3) uint8')
    return arr


def convert_numpy(unit: BridgeUnit, opts: BridgeOptions) -> list[EpisodeData]:
    path = Path(unit.path)
    episodes = []
    for k, traj in enumerate(load_numpy_trajectories(path)):
        source = f'{path}#{k}'
        if not isinstance(traj, dict):
            raise DataError(source, f'trajectory is a {type(traj).__name__}, not a dict')
        for key in ('observations', 'next_observations', 'actions'):
            if key not in traj:
                raise DataError(source, f"missing key '{key}'")
        obs, next_obs = traj['observations'], traj['next_observations']
        actions = _float_array(traj['actions'], source, 'actions', 7)
        cam = f'images{opts.camera}'
        images = _obs_series(obs, cam, source, 'observations')
        states = _obs_series(obs, 'state', source, 'observations')
        next_images = _obs_series(next_obs, cam, source, 'next_observations')
        next_states = _obs_series(next_obs, 'state', source, 'next_observations')
        if not (len(images) == len(states) == len(next_images) == len(next_states)
                == len(actions)) or len(actions) == 0:
            raise DataError(source, f'mismatched lengths: {len(images)} observations, '
                            f'{len(next_images)} next_observations, {len(actions)} actions')
        all_states = _float_array(list(states) + [next_states[-1]], source, 'state', 7)
        frames = np.stack([_squash(_as_rgb(im, source), opts.size)
                           for im in list(images) + [next_images[-1]]])
        language = traj.get('language', '')
        if isinstance(language, (list, tuple, np.ndarray)):
            language = next((str(x) for x in language if x is not None and str(x)), '')
        language = str(language or '').strip()
        terminals = None
        if 'terminals' in traj:
            flags = np.asarray(traj['terminals']).reshape(-1)
            if len(flags) != len(actions):
                raise DataError(source, f"'terminals' has {len(flags)} entries, "
                                f'{len(actions)} actions')
            # terminals[t] belongs to the transition t -> t+1: it flags observation t+1
            terminals = np.concatenate([[False], flags.astype(bool)])
        episodes.append(_finish(unit, opts, source, frames, all_states, actions, language,
                                unit.task, terminals=terminals))
    return episodes


# ------------------------------------------------------------------------- RLDS

_STEP = 'steps/'


def _text(values: Any) -> str:
    if isinstance(values, list):
        for v in values:
            s = v.decode('utf-8', errors='replace').strip() if isinstance(v, bytes) else ''
            if s:
                return s
    return ''


def _per_step(feats: dict, key: str, steps: int, width: int, source: str) -> np.ndarray:
    if key not in feats:
        raise DataError(source, f"missing feature '{key}'")
    arr = np.asarray(feats[key], dtype=np.float64)
    if arr.size != steps * width:
        raise DataError(source, f"feature '{key}' has {arr.size} values, expected "
                        f'{steps} steps x {width}')
    return arr.reshape(steps, width)


def _rlds_episode(feats: dict, unit: BridgeUnit, opts: BridgeOptions,
                  source: str) -> EpisodeData:
    obs = _STEP + 'observation/'
    if any(k.startswith(obs + 'image_') for k in feats):
        layout = 'bridge_dataset'
        image_key = f'{obs}image_{opts.camera}'
    elif obs + 'image' in feats:
        layout = 'oxe'
        if opts.camera != 0:
            raise DataError(source, 'the OXE bridge layout has one camera; use --camera 0')
        image_key = obs + 'image'
    else:
        raise DataError(source, 'unknown RLDS layout (no steps/observation/image_K or '
                        'steps/observation/image); keys: ' + ', '.join(sorted(feats)[:12]))
    if image_key not in feats:
        raise DataError(source, f"missing feature '{image_key}'")
    jpegs = feats[image_key]
    steps = len(jpegs)
    if steps < 2:
        raise DataError(source, f'episode has {steps} step(s)')
    for flag in ('is_first', 'is_last', 'is_terminal'):
        if _STEP + flag in feats and len(feats[_STEP + flag]) != steps:
            raise DataError(source, f"'steps/{flag}' has {len(feats[_STEP + flag])} "
                            f'entries, {image_key} has {steps}')
    states = _per_step(feats, obs + 'state', steps, 7, source)
    if layout == 'bridge_dataset':
        actions = _per_step(feats, _STEP + 'action', steps, 7, source)
        language = _text(feats.get(_STEP + 'language_instruction'))
    else:
        gripper_key = next((_STEP + 'action/' + k for k in ('open_gripper', 'gripper')
                            if _STEP + 'action/' + k in feats), _STEP + 'action/open_gripper')
        actions = np.concatenate([
            _per_step(feats, _STEP + 'action/world_vector', steps, 3, source),
            _per_step(feats, _STEP + 'action/rotation_delta', steps, 3, source),
            _per_step(feats, gripper_key, steps, 1, source)], axis=1)
        language = _text(feats.get(obs + 'natural_language_instruction')) or _text(
            feats.get(_STEP + 'language_instruction'))
    # Trust the JPEG bytes, not has_image_* flags; truncated episodes (no is_last) are
    # kept as they are. RLDS pairs each observation with the action taken there: the
    # last observation's action has no successor state and is dropped.
    frames = np.stack([_squash(decode_image_bytes(b, f'{source} {image_key}[{t}]'),
                               opts.size) for t, b in enumerate(jpegs)])
    file_path = _text(feats.get('episode_metadata/file_path'))
    path_task = _task_from_file_path(file_path) if file_path else ''
    if not (opts.task or path_task or language):
        path_task = Path(unit.path).parent.name
    src = f'{source} ({file_path})' if file_path else source
    terminals = None
    if _STEP + 'is_terminal' in feats:
        terminals = np.asarray(feats[_STEP + 'is_terminal']).reshape(-1).astype(bool)
    return _finish(unit, opts, src, frames, states, actions[:-1], language, path_task,
                   terminals=terminals)


def convert_rlds(unit: BridgeUnit, opts: BridgeOptions) -> list[EpisodeData]:
    from vptr_training.data.tfrecord import parse_example, read_records
    episodes = []
    for k, record in enumerate(read_records(unit.path)):
        source = f'{unit.path}#{k}'
        episodes.append(_rlds_episode(parse_example(record, source), unit, opts, source))
    if not episodes:
        raise DataError(unit.path, 'TFRecord file holds no records')
    return episodes


def convert_unit(unit: BridgeUnit, opts: BridgeOptions) -> list[EpisodeData]:
    """Top level (runs in worker processes): one unit -> its episodes."""
    return {'raw': convert_raw, 'numpy': convert_numpy, 'rlds': convert_rlds}[unit.form](
        unit, opts)


def run(args: argparse.Namespace) -> int:
    src = require_source(args.src)
    workers = check_workers(args.workers)
    if not 0.0 <= args.val_fraction < 1.0:
        raise DataError('--val-fraction', f'must be in [0, 1), got {args.val_fraction}')
    if args.size < 8 or args.camera < 0:
        raise DataError('--size/--camera', f'need size >= 8 and camera >= 0, got '
                        f'{args.size}, {args.camera}')
    units = find_units(src, args.val_fraction)
    opts = BridgeOptions(camera=args.camera, size=args.size, task=args.task,
                         relabel_actions=args.relabel_actions)
    run_conversion(units, functools.partial(convert_unit, opts=opts), args.dst, kind='robot',
                   image_size=args.size, control_hz=opts.control_hz, workers=workers,
                   skip_bad=args.skip_bad, overwrite=args.overwrite, append=args.append,
                   src=src, desc='bridge')
    return 0
