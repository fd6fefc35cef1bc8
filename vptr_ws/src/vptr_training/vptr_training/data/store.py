"""The episode store: a versioned, sharded, memory-mapped, appendable dataset of episodes.

Layout of a store folder::

    DST/meta.json                  format version, kind, image size, rate, tasks, running
                                   sums for state/action statistics, list of shards, and
                                   the name of the current episode index file
    DST/episodes-<gen>.json        the episode index (one entry per episode)
    DST/shards/shard_<k>/          one folder of .npy files per shard:
        images.npy      (n, S, S, 3) uint8
        states.npy      (n, 7) float32     (robot stores only)
        actions.npy     (n, 7) float32     (robot stores only; last obs row of each episode
                                            zero-filled so that rows align with images)
        rewards.npy     (n,) float32       (same alignment, last row zero)
        timestamps.npy  (n,) float64
        is_first.npy    (n,) bool
        is_last.npy     (n,) bool
        is_terminal.npy (n,) bool          (format 2: the episode ended in a terminal state
                                            at this observation, RLDS's is_terminal; a
                                            time-out or a clip cut from a longer video ends
                                            with is_last but not is_terminal)

Episodes never straddle shards, so a global step index maps to a shard by a binary search
over shard starts. Reads use ``np.load(mmap_mode='r')``: nothing is ever loaded whole.

Atomicity: a new store is built in ``DST.tmp-*`` beside DST and renamed to DST only when
the writer closes without an exception. Appending writes new shards into a hidden temp
folder inside DST, moves them into ``shards/`` and then publishes them by replacing
``meta.json`` (which names the new index file) with one ``os.replace``. Until that last
step a reader sees the old store; shards that no meta.json references are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
import shutil
from typing import Any, Iterable
import uuid

import numpy as np

from vptr_training.errors import DataError

FORMAT_VERSION = 2
# Version 1 (no is_terminal) stores are still read; they cannot be appended to.
READABLE_VERSIONS = (1, 2)
META_FILE = 'meta.json'
SHARDS_DIR = 'shards'
STATE_DIM = 7
ACTION_DIM = 7
KINDS = ('video', 'robot')
SPLITS = ('train', 'val')
# Fixed .npy header size: lets the writer stream rows to disk and fill in the final shape
# at the end (the header length field tells numpy where data starts; 256 keeps 64-byte
# alignment, as numpy's own writer does).
_NPY_HEADER_BYTES = 256
# Default shard size in bytes of images (a few hundred MB keeps the file count low while a
# failed append loses little).
DEFAULT_SHARD_BYTES = 512 * 1024 * 1024


@dataclass
class EpisodeData:
    """One episode handed to a writer (see docs/dev/INTERFACES.md)."""

    images: np.ndarray                      # (N, S, S, 3) uint8, already at store size
    task: str
    source: str                             # original file/folder, for errors/provenance
    states: np.ndarray | None = None        # (N, 7) float32 (robot data)
    actions: np.ndarray | None = None       # (N-1, 7) float32, RAW units
    rewards: np.ndarray | None = None       # (N-1,) float32 (zeros if unknown)
    success: bool = True
    language: str = ''
    timestamps: np.ndarray | None = None    # (N,) float64 seconds
    split: str = 'train'                    # 'train' | 'val'
    # (N,) bool, the source's terminal flag per observation; None: the last observation is
    # terminal exactly when the episode succeeded (demos end when the task is done)
    terminals: np.ndarray | None = None


@dataclass
class EpisodeInfo:
    """One row of the episode index."""

    index: int
    task: str
    language: str
    source: str
    success: bool
    split: str
    length: int         # number of observations N
    start: int          # global step index of the first observation


# --------------------------------------------------------------------------- low level io

def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    header = repr({'descr': np.lib.format.dtype_to_descr(dtype), 'fortran_order': False,
                   'shape': tuple(int(s) for s in shape)})
    prefix = np.lib.format.MAGIC_PREFIX + bytes([1, 0])
    body_len = _NPY_HEADER_BYTES - len(prefix) - 2
    body = header.encode('latin1')
    if len(body) + 1 > body_len:
        raise ValueError(f'npy header too long for shape {shape}')
    body = body + b' ' * (body_len - len(body) - 1) + b'\n'
    return prefix + body_len.to_bytes(2, 'little') + body


class _NpyAppender:
    """Streams rows of a fixed dtype and row shape into a .npy file."""

    def __init__(self, path: Path, dtype: np.dtype, row_shape: tuple[int, ...]) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.row_shape = row_shape
        self.rows = 0
        self._file = open(path, 'wb')
        self._file.write(_npy_header(self.dtype, (0,) + row_shape))

    def write(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        assert rows.shape[1:] == self.row_shape, (rows.shape, self.row_shape)
        self._file.write(rows.tobytes())
        self.rows += rows.shape[0]

    def close(self) -> None:
        self._file.flush()
        self._file.seek(0)
        self._file.write(_npy_header(self.dtype, (self.rows,) + self.row_shape))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f'.{path.name}.tmp-{uuid.uuid4().hex[:8]}')
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _array_keys(kind: str, version: int = FORMAT_VERSION
                ) -> dict[str, tuple[np.dtype, tuple[int, ...] | None]]:
    """Per-step arrays of a store; None row shape = image shape (filled in by size)."""
    keys: dict[str, tuple[np.dtype, tuple[int, ...] | None]] = {
        'images': (np.dtype(np.uint8), None)}
    if kind == 'robot':
        keys['states'] = (np.dtype(np.float32), (STATE_DIM,))
        keys['actions'] = (np.dtype(np.float32), (ACTION_DIM,))
    keys['rewards'] = (np.dtype(np.float32), ())
    keys['timestamps'] = (np.dtype(np.float64), ())
    keys['is_first'] = (np.dtype(np.bool_), ())
    keys['is_last'] = (np.dtype(np.bool_), ())
    if version >= 2:
        keys['is_terminal'] = (np.dtype(np.bool_), ())
    return keys


# ----------------------------------------------------------------------- running stats

def _empty_sums(dim: int) -> dict[str, Any]:
    return {'count': 0, 'sum': [0.0] * dim, 'sumsq': [0.0] * dim,
            'min': [math.inf] * dim, 'max': [-math.inf] * dim}


def _update_sums(sums: dict[str, Any], values: np.ndarray) -> None:
    if values.shape[0] == 0:
        return
    v = values.astype(np.float64)
    sums['count'] += int(v.shape[0])
    sums['sum'] = (np.asarray(sums['sum']) + v.sum(0)).tolist()
    sums['sumsq'] = (np.asarray(sums['sumsq']) + (v * v).sum(0)).tolist()
    sums['min'] = np.minimum(np.asarray(sums['min']), v.min(0)).tolist()
    sums['max'] = np.maximum(np.asarray(sums['max']), v.max(0)).tolist()


def _stats_from_sums(sums: dict[str, Any]) -> dict[str, Any] | None:
    n = sums['count']
    if n == 0:
        return None
    mean = np.asarray(sums['sum']) / n
    var = np.maximum(np.asarray(sums['sumsq']) / n - mean * mean, 0.0)
    return {'count': n, 'mean': mean.tolist(), 'std': np.sqrt(var).tolist(),
            'min': list(sums['min']), 'max': list(sums['max'])}


def _json_sums(sums: dict[str, Any]) -> dict[str, Any]:
    # JSON has no infinity: an empty min/max is stored as null.
    out = dict(sums)
    for k in ('min', 'max'):
        out[k] = [None if not math.isfinite(x) else x for x in sums[k]]
    return out


def _load_sums(obj: dict[str, Any], dim: int) -> dict[str, Any]:
    out = dict(obj)
    out['min'] = [math.inf if x is None else x for x in obj.get('min', [None] * dim)]
    out['max'] = [-math.inf if x is None else x for x in obj.get('max', [None] * dim)]
    return out


# ---------------------------------------------------------------------------- the writer

@dataclass
class _Shard:
    name: str
    folder: Path
    appenders: dict[str, _NpyAppender] = field(default_factory=dict)
    num_steps: int = 0
    num_episodes: int = 0


class StoreWriter:
    """Writes episodes to a new store (or appends to an existing one) atomically.

    Use as a context manager; an exception (or KeyboardInterrupt) inside the block leaves
    DST as it was (for a new store: nothing at DST).
    """

    def __init__(self, dst: str | os.PathLike, kind: str = 'video', image_size: int = 128,
                 control_hz: float = 5.0, append: bool = False, overwrite: bool = False,
                 shard_bytes: int = DEFAULT_SHARD_BYTES) -> None:
        if kind not in KINDS:
            raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
        if append and overwrite:
            raise ValueError('append and overwrite are exclusive')
        self.dst = Path(dst)
        self.kind = kind
        self.image_size = int(image_size)
        self.control_hz = float(control_hz)
        self.append = append
        self.overwrite = overwrite
        self._keys = _array_keys(kind)
        self._shard_steps = max(1, shard_bytes // (self.image_size ** 2 * 3))
        self._closed = False
        self._published = False
        self._current: _Shard | None = None
        self._done_shards: list[_Shard] = []
        self._new_episodes: list[dict[str, Any]] = []
        self._added_steps = 0

        existing = self.dst.exists()
        if existing and not (append or overwrite):
            raise DataError(self.dst, 'already exists; pass --overwrite to replace it or '
                            '--append to add to it')
        if append and existing:
            store = EpisodeStore(self.dst)
            meta = store.meta
            if meta['format_version'] != FORMAT_VERSION:
                raise DataError(self.dst, f'cannot append to a format-{meta["format_version"]}'
                                f' store (this code writes format {FORMAT_VERSION}, which adds '
                                'is_terminal): convert its sources again into a new store')
            for key, want in (('kind', kind), ('image_size', self.image_size)):
                if meta[key] != want:
                    raise DataError(self.dst, f'cannot append: store has {key}={meta[key]!r}, '
                                    f'this conversion produces {want!r}')
            if abs(float(meta['control_hz']) - self.control_hz) > 1e-6:
                raise DataError(self.dst, f'cannot append: store has control_hz='
                                f'{meta["control_hz"]}, this conversion produces '
                                f'{self.control_hz}')
            self._meta = meta
            self._episodes = [dict(e) for e in store._index]
            self._base_steps = int(meta['num_steps'])
            self._work = self.dst / f'.tmp-append-{uuid.uuid4().hex[:8]}'
            self._work.mkdir()
            taken = [int(p.name.split('_')[-1]) for p in (self.dst / SHARDS_DIR).glob('shard_*')
                     if p.name.split('_')[-1].isdigit()]
            self._next_shard = max(taken, default=-1) + 1
            self._is_new = False
        else:
            # a new store (or --append on a missing folder, which simply creates it)
            self.dst.parent.mkdir(parents=True, exist_ok=True)
            self._work = self.dst.with_name(f'{self.dst.name}.tmp-{uuid.uuid4().hex[:8]}')
            self._work.mkdir()
            (self._work / SHARDS_DIR).mkdir()
            self._meta = {
                'format_version': FORMAT_VERSION, 'kind': kind, 'image_size': self.image_size,
                'control_hz': self.control_hz, 'shards': [], 'index_file': None,
                'sums': {'states': _json_sums(_empty_sums(STATE_DIM)),
                         'actions': _json_sums(_empty_sums(ACTION_DIM))},
            }
            self._episodes = []
            self._base_steps = 0
            self._next_shard = 0
            self._is_new = True
        self._sums = {'states': _load_sums(self._meta['sums']['states'], STATE_DIM),
                      'actions': _load_sums(self._meta['sums']['actions'], ACTION_DIM)}

    # -- context manager
    def __enter__(self) -> 'StoreWriter':
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def num_added(self) -> int:
        return len(self._new_episodes)

    # -- validation
    def check(self, episode: EpisodeData) -> None:
        """Raise DataError (naming the episode's source) if ``add`` would refuse it."""
        self._check(episode)

    def _check(self, ep: EpisodeData) -> dict[str, np.ndarray]:
        src = ep.source or '<unknown source>'
        images = ep.images
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise DataError(src, f'images must be a uint8 array, got '
                            f'{getattr(images, "dtype", type(images).__name__)}')
        s = self.image_size
        if images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise DataError(src, f'images have shape {images.shape}, expected (N, {s}, {s}, 3)')
        n = images.shape[0]
        if n < 2:
            raise DataError(src, f'episode has {n} observation(s); at least 2 are needed')
        if not isinstance(ep.task, str) or not ep.task:
            raise DataError(src, 'episode has no task name')
        if ep.split not in SPLITS:
            raise DataError(src, f'split must be one of {SPLITS}, got {ep.split!r}')
        out = {'images': images}

        def numeric(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
            arr = np.asarray(value)
            if arr.dtype.kind not in 'fiub':
                raise DataError(src, f'{name} have dtype {arr.dtype}, expected numbers')
            if arr.shape != shape:
                raise DataError(src, f'{name} have shape {arr.shape}, expected {shape} '
                                f'(episode has {n} images)')
            if arr.dtype.kind == 'f':
                bad = ~np.isfinite(arr)
                if bad.any():
                    step = int(np.argwhere(bad)[0][0])
                    raise DataError(src, f'{name} contain NaN/inf (first at step {step})')
            return arr

        if self.kind == 'robot':
            if ep.states is None or ep.actions is None:
                raise DataError(src, 'robot episodes need states and actions')
            states = numeric('states', ep.states, (n, STATE_DIM))
            actions = numeric('actions', ep.actions, (n - 1, ACTION_DIM))
            with np.errstate(over='ignore'):
                out['states'] = states.astype(np.float32)
                out['actions'] = actions.astype(np.float32)
            # float32 of a huge float64 is inf: check again after the cast
            for k in ('states', 'actions'):
                if not np.isfinite(out[k]).all():
                    raise DataError(src, f'{k} overflow float32')
        elif ep.states is not None or ep.actions is not None:
            raise DataError(src, 'a video store takes no states or actions')
        if ep.rewards is None:
            out['rewards'] = np.zeros(n - 1, np.float32)
        else:
            out['rewards'] = numeric('rewards', ep.rewards, (n - 1,)).astype(np.float32)
        if ep.timestamps is None:
            out['timestamps'] = np.arange(n, dtype=np.float64) / self.control_hz
        else:
            out['timestamps'] = numeric('timestamps', ep.timestamps, (n,)).astype(np.float64)
        if ep.terminals is None:
            terminal = np.zeros(n, bool)
            terminal[-1] = bool(ep.success)
        else:
            terminal = numeric('terminals', ep.terminals, (n,)).astype(bool)
        out['is_terminal'] = terminal
        return out

    # -- writing
    def _open_shard(self) -> _Shard:
        name = f'shard_{self._next_shard:05d}'
        self._next_shard += 1
        folder = self._work / (SHARDS_DIR if self._is_new else '') / name
        folder.mkdir(parents=True)
        shard = _Shard(name=name, folder=folder)
        s = self.image_size
        for key, (dtype, row) in self._keys.items():
            shard.appenders[key] = _NpyAppender(folder / f'{key}.npy', dtype,
                                                (s, s, 3) if row is None else row)
        return shard

    def _close_shard(self) -> None:
        if self._current is None:
            return
        for app in self._current.appenders.values():
            app.close()
        self._done_shards.append(self._current)
        self._current = None

    def add(self, episode: EpisodeData) -> None:
        """Validate and write one episode (DataError naming its source if it is bad)."""
        if self._closed:
            raise RuntimeError('writer is closed')
        arrays = self._check(episode)
        n = arrays['images'].shape[0]
        if self._current is not None and self._current.num_steps + n > self._shard_steps:
            self._close_shard()
        if self._current is None:
            self._current = self._open_shard()
        shard = self._current
        app = shard.appenders
        app['images'].write(arrays['images'])
        if self.kind == 'robot':
            app['states'].write(arrays['states'])
            # pad the action/reward of the last observation so rows align with images
            app['actions'].write(np.concatenate(
                [arrays['actions'], np.zeros((1, ACTION_DIM), np.float32)]))
            _update_sums(self._sums['states'], arrays['states'])
            _update_sums(self._sums['actions'], arrays['actions'])
        app['rewards'].write(np.concatenate([arrays['rewards'], np.zeros(1, np.float32)]))
        app['timestamps'].write(arrays['timestamps'])
        first = np.zeros(n, bool)
        first[0] = True
        app['is_first'].write(first)
        app['is_last'].write(first[::-1])
        app['is_terminal'].write(arrays['is_terminal'])
        start = self._base_steps + self._added_steps
        self._new_episodes.append({
            'index': len(self._episodes) + len(self._new_episodes), 'task': episode.task,
            'language': episode.language or '', 'source': str(episode.source),
            'success': bool(episode.success), 'split': episode.split, 'length': int(n),
            'start': int(start), 'shard': shard.name,
        })
        shard.num_steps += n
        shard.num_episodes += 1
        self._added_steps += n

    def close(self) -> None:
        """Publish what was written (rename into place / replace meta.json)."""
        if self._closed:
            return
        try:
            self._close_shard()
            self._commit()
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def _commit(self) -> None:
        episodes = self._episodes + self._new_episodes
        meta = dict(self._meta)
        meta['shards'] = list(meta['shards']) + [
            {'name': s.name, 'num_steps': s.num_steps, 'num_episodes': s.num_episodes}
            for s in self._done_shards]
        meta['num_episodes'] = len(episodes)
        meta['num_steps'] = self._base_steps + self._added_steps
        meta['tasks'] = sorted({e['task'] for e in episodes})
        meta['sums'] = {k: _json_sums(v) for k, v in self._sums.items()}
        meta['state_stats'] = _stats_from_sums(self._sums['states'])
        meta['action_stats'] = _stats_from_sums(self._sums['actions'])
        generation = int(meta.get('generation', -1)) + 1
        meta['generation'] = generation
        meta['index_file'] = f'episodes-{generation:06d}.json'
        if self._is_new:
            _write_json_atomic(self._work / meta['index_file'], episodes)
            _write_json_atomic(self._work / META_FILE, meta)
            old = None
            if self.dst.exists():     # --overwrite: swap, then delete the old store
                old = self.dst.with_name(f'{self.dst.name}.old-{uuid.uuid4().hex[:8]}')
                os.rename(self.dst, old)
            os.rename(self._work, self.dst)
            self._published = True
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return
        if not self._new_episodes:
            shutil.rmtree(self._work, ignore_errors=True)
            return
        for s in self._done_shards:
            os.rename(self._work / s.name, self.dst / SHARDS_DIR / s.name)
        _write_json_atomic(self.dst / meta['index_file'], episodes)
        old_index = self._meta.get('index_file')
        _write_json_atomic(self.dst / META_FILE, meta)     # the publishing step
        self._published = True
        try:        # tidying only: the new store is complete whatever happens here
            if old_index and old_index != meta['index_file']:
                (self.dst / old_index).unlink(missing_ok=True)
        except OSError:
            pass
        shutil.rmtree(self._work, ignore_errors=True)

    def abort(self) -> None:
        """Drop everything written by this writer."""
        if self._closed or self._published:
            self._closed = True
            return
        self._closed = True
        shards = list(self._done_shards)
        if self._current is not None:
            for app in self._current.appenders.values():
                app.abort()
            shards.append(self._current)
        shutil.rmtree(self._work, ignore_errors=True)
        if not self._is_new:
            # shards already moved into DST/shards are unreferenced: remove them too
            for s in shards:
                p = self.dst / SHARDS_DIR / s.name
                if p.exists() and s.name not in {x['name'] for x in self._meta['shards']}:
                    shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------------------- the reader

class EpisodeStore:
    """Read-only, memory-mapped view of a store."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        meta_path = self.path / META_FILE
        if not self.path.is_dir():
            raise DataError(self.path, 'no such episode store')
        if not meta_path.is_file():
            raise DataError(self.path, 'not a complete episode store (no meta.json)')
        try:
            meta = json.loads(meta_path.read_text(encoding='utf-8'))
        except (OSError, ValueError) as exc:
            raise DataError(meta_path, f'unreadable: {exc}') from None
        version = meta.get('format_version') if isinstance(meta, dict) else None
        if version not in READABLE_VERSIONS:
            raise DataError(meta_path, f'store format version {version!r}; this code reads '
                            f'versions {", ".join(map(str, READABLE_VERSIONS))}')
        try:
            index_path = self.path / meta['index_file']
            self._index = json.loads(index_path.read_text(encoding='utf-8'))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(self.path, f'episode index unreadable: {exc}') from None
        if len(self._index) != meta.get('num_episodes'):
            raise DataError(index_path, f'{len(self._index)} episodes, meta.json says '
                            f'{meta.get("num_episodes")}')
        self.meta: dict[str, Any] = meta
        self.kind: str = meta['kind']
        self.image_size: int = int(meta['image_size'])
        self.control_hz: float = float(meta['control_hz'])
        self.episodes = [EpisodeInfo(
            index=i, task=e['task'], language=e.get('language', ''), source=e['source'],
            success=bool(e['success']), split=e['split'], length=int(e['length']),
            start=int(e['start'])) for i, e in enumerate(self._index)]
        self.episode_starts = np.array([e.start for e in self.episodes], dtype=np.int64)
        self.episode_lengths = np.array([e.length for e in self.episodes], dtype=np.int64)
        self._shard_names = [s['name'] for s in meta['shards']]
        sizes = np.array([s['num_steps'] for s in meta['shards']], dtype=np.int64)
        self._shard_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) \
            if len(sizes) else np.zeros(0, np.int64)
        self._shard_sizes = sizes
        self._shard_of_name = {n: k for k, n in enumerate(self._shard_names)}
        self.num_steps = int(meta['num_steps'])
        if int(sizes.sum()) != self.num_steps:
            raise DataError(meta_path, f'shards hold {int(sizes.sum())} steps, meta says '
                            f'{self.num_steps}')
        self._keys = _array_keys(self.kind, int(version))
        self._arrays: dict[tuple[int, str], np.ndarray] = {}

    # pickling (e.g. to spawned DataLoader workers): reopen memmaps lazily on the other side
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state['_arrays'] = {}
        return state

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def tasks(self) -> list[str]:
        return list(self.meta['tasks'])

    @property
    def keys(self) -> list[str]:
        """Per-step arrays this store holds (images, states, actions, rewards, ...)."""
        return list(self._keys)

    def has(self, key: str) -> bool:
        return key in self._keys

    def _array(self, shard: int, key: str) -> np.ndarray:
        arr = self._arrays.get((shard, key))
        if arr is None:
            if key not in self._keys:
                raise KeyError(f'{key!r} is not stored in a {self.kind} store '
                               f'(has {", ".join(self._keys)})')
            path = self.path / SHARDS_DIR / self._shard_names[shard] / f'{key}.npy'
            try:
                arr = np.load(path, mmap_mode='r')
            except (OSError, ValueError) as exc:
                raise DataError(path, f'unreadable shard file: {exc}') from None
            if arr.shape[0] != self._shard_sizes[shard]:
                raise DataError(path, f'{arr.shape[0]} rows, index says '
                                f'{self._shard_sizes[shard]}')
            self._arrays[(shard, key)] = arr
        return arr

    def shard_array(self, shard: int, key: str) -> np.ndarray:
        """The memmapped array of one shard (used by `vptr data validate`)."""
        return self._array(shard, key)

    @property
    def num_shards(self) -> int:
        return len(self._shard_names)

    def episode_of(self, global_idx: np.ndarray | int) -> np.ndarray:
        """Episode index holding each global step index."""
        return np.searchsorted(self.episode_starts, np.asarray(global_idx), side='right') - 1

    def episode(self, i: int) -> dict[str, Any]:
        """Arrays of one episode as memmap slices (actions/rewards have N-1 rows)."""
        info = self.episodes[i]
        shard = self._shard_of_name[self._index[i]['shard']]
        lo = info.start - int(self._shard_starts[shard])
        hi = lo + info.length
        out: dict[str, Any] = {
            'task': info.task, 'language': info.language, 'source': info.source,
            'success': info.success, 'split': info.split, 'length': info.length}
        for key in self._keys:
            arr = self._array(shard, key)[lo:hi]
            out[key] = arr[:-1] if key in ('actions', 'rewards') else arr
        out.setdefault('states', None)
        out.setdefault('actions', None)
        return out

    def gather(self, key: str, global_idx: Iterable[int] | np.ndarray) -> np.ndarray:
        """Rows of a per-step array at arbitrary global step indices (any order/shape)."""
        idx = np.asarray(global_idx, dtype=np.int64)
        flat = idx.reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.num_steps):
            raise IndexError(f'step index out of range [0, {self.num_steps})')
        if key not in self._keys:
            raise KeyError(f'{key!r} is not stored in a {self.kind} store')
        if self.num_shards == 1:
            arr = self._array(0, key)
            order = np.argsort(flat, kind='stable')
            out = np.empty((flat.size,) + arr.shape[1:], arr.dtype)
            out[order] = arr[flat[order]]
            return out.reshape(idx.shape + arr.shape[1:])
        shard_ids = np.searchsorted(self._shard_starts, flat, side='right') - 1
        first = self._array(0, key)
        out = np.empty((flat.size,) + first.shape[1:], first.dtype)
        for shard in np.unique(shard_ids):
            sel = np.nonzero(shard_ids == shard)[0]
            local = flat[sel] - self._shard_starts[shard]
            order = np.argsort(local, kind='stable')
            out[sel[order]] = self._array(int(shard), key)[local[order]]
        return out.reshape(idx.shape + first.shape[1:])

    def gather_actions(self, global_idx: Iterable[int] | np.ndarray) -> np.ndarray:
        """(B, 7) action taken AT each observation index (must not be an episode's last)."""
        idx = np.asarray(global_idx, dtype=np.int64)
        if self.kind != 'robot':
            raise KeyError('a video store has no actions')
        if self.gather('is_last', idx).any():
            raise IndexError('gather_actions: an index is the last observation of its '
                             'episode, which has no action')
        return self.gather('actions', idx)

    def split_episodes(self, split: str) -> list[int]:
        return [e.index for e in self.episodes if e.split == split]
