"""Training throughput: end-to-end CQL steps/s with the real loader, the data-wait fraction,
sampler throughput against what CQL consumes, and peak memory.

    .venv/bin/python bench/bench_training.py                 # CPU, small encoder, 128x128
    .venv/bin/python bench/bench_training.py --device cuda --preset paper_train

Targets: data-wait fraction < 10% of the step time; one sampler process produces >= 20x the
transitions/s that CQL consumes (so a few loader workers always keep up).
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path
import resource
import sys
import tempfile
import time

import numpy as np

from vptr_training.data.samplers import CQLSampler, ICVFSampler
from vptr_training.data.store import EpisodeData, EpisodeStore, StoreWriter
from vptr_training.training.config import load_config
from vptr_training.training.runner import train


def make_stores(root: Path, size: int, episodes: int, length: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    robot, video = root / 'robot', root / 'video'
    with StoreWriter(robot, kind='robot', image_size=size) as writer:
        for i in range(episodes):
            actions = rng.uniform(-0.04, 0.04, (length - 1, 7)).astype(np.float32)
            actions[:, 6] = rng.integers(0, 2, length - 1)
            writer.add(EpisodeData(
                images=rng.integers(0, 256, (length, size, size, 3), dtype=np.uint8),
                task=f'task_{i % 4}', source=f'bench_{i}',
                states=rng.uniform(-0.2, 0.3, (length, 7)).astype(np.float32),
                actions=actions, success=bool(i % 2)))
    with StoreWriter(video, kind='video', image_size=size) as writer:
        for i in range(episodes):
            writer.add(EpisodeData(
                images=rng.integers(0, 256, (length, size, size, 3), dtype=np.uint8),
                task='video', source=f'clip_{i}'))
    return robot, video


def sampler_rate(sampler, batches: int) -> float:
    sampler.sample_batch(0)                        # open the memmaps first
    start = time.perf_counter()
    for k in range(1, batches + 1):
        sampler.sample_batch(k)
    return batches * sampler.batch_size / (time.perf_counter() - start)


def peak_rss_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return own, children


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--preset', default='demo_train',
                        help='config preset for the end-to-end run (paper_train: resnet34)')
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--num-workers', type=int, default=1)
    parser.add_argument('--episodes', type=int, default=40)
    parser.add_argument('--length', type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix='bench_training_') as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        robot, video = make_stores(root, args.image_size, args.episodes, args.length)
        print(f'stores: {args.episodes} episodes x {args.length} steps at {args.image_size}px '
              f'written in {time.perf_counter() - t0:.1f} s')
        store = EpisodeStore(robot)
        cql_sampler = CQLSampler([(store, 0.9), (store, 0.1)], store.tasks, args.batch_size)
        icvf_sampler = ICVFSampler(EpisodeStore(video), args.batch_size)
        cql_rate = sampler_rate(cql_sampler, 30)
        icvf_rate = sampler_rate(icvf_sampler, 30)
        print(f'CQLSampler:  {cql_rate:,.0f} transitions/s (batch {args.batch_size}, '
              f'{args.image_size}px, one process)')
        print(f'ICVFSampler: {icvf_rate:,.0f} transitions/s (4 images each)')

        log_every = max(1, args.steps // 2)
        overrides = [f'image_size={args.image_size}', f'batch_size={args.batch_size}',
                     f'steps={args.steps}', f'num_workers={args.num_workers}', 'prefetch=4',
                     f'log_every={log_every}', 'save_every=0', 'progress=false',
                     f'device={args.device}', f'data.prior={robot}', 'data.target=',
                     'encoder.init_from=', f'out_dir={root / "run"}']
        config = load_config(args.preset, overrides)
        start = time.perf_counter()
        train(config)
        wall = time.perf_counter() - start
        with open(root / 'run' / 'metrics.csv', newline='') as f:
            rows = list(csv.DictReader(f))
        steady = rows[1:] or rows               # the first window includes start-up
        steps_per_s = float(np.mean([float(r['steps_per_s']) for r in steady]))
        wait = float(np.mean([float(r['data_wait_frac']) for r in steady]))
        consumed = steps_per_s * args.batch_size
        print(f'CQL end-to-end ({config.encoder.name} encoder, {args.device}, '
              f'{args.num_workers} loader worker(s)): {steps_per_s:.2f} steps/s '
              f'= {consumed:,.0f} transitions/s; {args.steps} steps in {wall:.1f} s '
              'including start-up and the final checkpoint')
        print(f'data-wait fraction: {100 * wait:.1f}% of the step time (target < 10%)')
        print(f'sampler / CQL consumption: {cql_rate / consumed:.0f}x (target >= 20x)')
        own, children = peak_rss_mib()
        print(f'peak RSS: {own:.0f} MiB (main process), {children:.0f} MiB (largest worker)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
