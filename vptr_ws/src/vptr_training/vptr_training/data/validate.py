"""`vptr data validate DST`: check every shard of an episode store.

Checks: every shard file opens (memory-mapped) with the right dtype, row shape and row
count; the index is contiguous and agrees with meta.json and with the per-step
is_first/is_last flags; no NaN/inf in float arrays; the running statistics in meta.json
match the data. Exit 0 when clean, 1 with one line per problem otherwise (a store that
cannot be opened at all is an error, exit 2).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vptr_training.data.store import EpisodeStore, SHARDS_DIR
from vptr_training.errors import DataError

_CHUNK_ROWS = 4096     # rows scanned at a time: bounded memory on huge shards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('dst', metavar='DST', help='episode store folder')


def _expected(store: EpisodeStore, key: str) -> tuple[np.dtype, tuple[int, ...]]:
    dtype, row = store._keys[key]
    size = store.image_size
    return dtype, (size, size, 3) if row is None else row


def validate_store(path: str | Path) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the store at path."""
    store = EpisodeStore(path)
    problems: list[str] = []
    warnings: list[str] = []
    starts = store.episode_starts
    lengths = store.episode_lengths
    if len(store):
        if starts[0] != 0 or np.any(starts[1:] != starts[:-1] + lengths[:-1]):
            problems.append('index: episode starts are not contiguous')
        if int(lengths.sum()) != store.num_steps:
            problems.append(f'index: episode lengths sum to {int(lengths.sum())}, meta says '
                            f'{store.num_steps} steps')
        if np.any(lengths < 2):
            problems.append('index: an episode has fewer than 2 observations')
    if sorted({e.task for e in store.episodes}) != store.tasks:
        problems.append('meta.json: task list does not match the index')
    sums = {k: [0, 0.0, 0.0] for k in ('states', 'actions')}
    for shard in range(store.num_shards):
        name = store._shard_names[shard]
        lo = int(store._shard_starts[shard])
        hi = lo + int(store._shard_sizes[shard])
        in_shard = (starts >= lo) & (starts < hi)
        for key in store.keys:
            where = f'{SHARDS_DIR}/{name}/{key}.npy'
            try:
                arr = store.shard_array(shard, key)
            except DataError as exc:
                problems.append(f'{where}: {exc.problem}')
                continue
            dtype, row = _expected(store, key)
            if arr.dtype != dtype or arr.shape[1:] != row:
                problems.append(f'{where}: {arr.dtype} {arr.shape[1:]}, expected {dtype} {row}')
                continue
            if key in ('is_first', 'is_last'):
                want = np.zeros(hi - lo, bool)
                local = starts[in_shard] - lo
                want[local if key == 'is_first' else local + lengths[in_shard] - 1] = True
                if not np.array_equal(np.asarray(arr), want):
                    problems.append(f'{where}: episode boundaries disagree with the index')
                continue
            if arr.dtype.kind != 'f':
                continue
            valid = ~np.asarray(store.shard_array(shard, 'is_last'), bool) \
                if key == 'actions' else None
            for c in range(0, arr.shape[0], _CHUNK_ROWS):
                block = np.asarray(arr[c:c + _CHUNK_ROWS], np.float64)
                if not np.isfinite(block).all():
                    bad = c + int(np.argwhere(~np.isfinite(block))[0][0])
                    problems.append(f'{where}: NaN/inf at row {bad} (global step {lo + bad})')
                    break
                if key in sums:
                    if valid is not None:
                        block = block[valid[c:c + _CHUNK_ROWS]]
                    sums[key][0] += block.shape[0]
                    sums[key][1] = sums[key][1] + block.sum(0)
                    sums[key][2] = sums[key][2] + (block * block).sum(0)
    for key, meta_key in (('states', 'state_stats'), ('actions', 'action_stats')):
        stats = store.meta.get(meta_key)
        if key not in store.keys or not stats or sums[key][0] == 0:
            continue
        count, total, _ = sums[key]
        same_mean = np.allclose(total / count, stats['mean'], rtol=1e-5, atol=1e-6)
        if count != stats['count'] or not same_mean:
            problems.append(f'meta.json: {meta_key} do not match the data '
                            f'({count} rows counted, meta says {stats["count"]})')
    referenced = set(store._shard_names)
    shard_dir = Path(store.path) / SHARDS_DIR
    if shard_dir.is_dir():
        stray = sorted(p.name for p in shard_dir.iterdir() if p.name not in referenced)
        if stray:
            warnings.append(f'unreferenced shard folders (left by an interrupted append, '
                            f'safe to delete): {", ".join(stray)}')
    stale = sorted(p.name for p in Path(store.path).glob('.tmp-*'))
    if stale:
        warnings.append(f'stale temporary folders: {", ".join(stale)}')
    return problems, warnings


def run(args: argparse.Namespace) -> int:
    problems, warnings = validate_store(args.dst)
    for line in warnings:
        print(f'warning: {line}')
    for line in problems:
        print(f'{args.dst}: {line}')
    if problems:
        print(f'{len(problems)} problem(s) found')
        return 1
    store = EpisodeStore(args.dst)
    print(f'{args.dst}: ok ({len(store)} episodes, {store.num_steps} steps, '
          f'{store.num_shards} shard(s))')
    return 0
