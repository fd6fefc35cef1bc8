"""`vptr data info DST [--json]`: summarise an episode store."""
from __future__ import annotations

import argparse
from collections import Counter
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from vptr_training.data.store import EpisodeStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('dst', metavar='DST', help='episode store folder')
    parser.add_argument('--json', action='store_true', help='print one JSON object')


def _folder_bytes(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total


def summarize(store: EpisodeStore) -> dict[str, Any]:
    """The facts `info` prints (also used by other tools)."""
    meta = store.meta
    lengths = store.episode_lengths
    per_task = Counter(e.task for e in store.episodes)
    splits = Counter(e.split for e in store.episodes)
    size = store.image_size
    return {
        'path': str(store.path),
        'format_version': meta['format_version'],
        'kind': store.kind,
        'episodes': len(store),
        'steps': store.num_steps,
        'transitions': int(store.num_steps - len(store)),
        'tasks': store.tasks,
        'episodes_per_task': dict(sorted(per_task.items())),
        'splits': dict(sorted(splits.items())),
        'successes': sum(e.success for e in store.episodes),
        'image_shape': [size, size, 3],
        'control_hz': store.control_hz,
        'episode_length': {
            'min': int(lengths.min()) if len(lengths) else 0,
            'mean': float(lengths.mean()) if len(lengths) else 0.0,
            'max': int(lengths.max()) if len(lengths) else 0},
        'shards': store.num_shards,
        'bytes': _folder_bytes(store.path),
        'stats': {'state': meta.get('state_stats'), 'action': meta.get('action_stats')},
    }


def _fmt(values: Any) -> str:
    return '[' + ', '.join(f'{v:+.4g}' for v in np.asarray(values, float)) + ']'


def run(args: argparse.Namespace) -> int:
    info = summarize(EpisodeStore(args.dst))
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    lines = [
        f'{info["path"]}: {info["kind"]} store (format {info["format_version"]})',
        f'  episodes {info["episodes"]}, steps {info["steps"]}, transitions '
        f'{info["transitions"]}, successes {info["successes"]}',
        f'  image {info["image_shape"]}, {info["control_hz"]:g} Hz, '
        f'{info["shards"]} shard(s), {info["bytes"] / 2 ** 20:.1f} MiB',
        f'  episode length min/mean/max {info["episode_length"]["min"]}/'
        f'{info["episode_length"]["mean"]:.1f}/{info["episode_length"]["max"]}',
        '  splits ' + ', '.join(f'{k} {v}' for k, v in info['splits'].items()),
        f'  tasks ({len(info["tasks"])}):',
    ]
    lines += [f'    {task}: {n} episodes' for task, n in info['episodes_per_task'].items()]
    for name, stats in info['stats'].items():
        if stats:
            lines.append(f'  {name} mean {_fmt(stats["mean"])}')
            lines.append(f'  {name} std  {_fmt(stats["std"])}')
    print('\n'.join(lines))
    return 0
