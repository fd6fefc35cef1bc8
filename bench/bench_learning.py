#!/usr/bin/env python3
"""Learning-core throughput: update steps/s and peak memory on synthetic random batches.

Cases (each in a fresh subprocess so peak RSS is per case):
  cql-small      CQL, small encoder, 128x128 images, batch 64 (the CPU default)
  cql-small-64   the same at 64x64 images
  cql-state      CQL state-only: 'identity' encoder over 4x4 images, critic sees the
                 state, 3 x 256 MLPs, batch 256
  icvf-small     ICVF, small encoder, 128x128, batch 64
  cql-resnet34   CQL with the paper-scale ResNet-34 encoder, 128x128, batch 64
  icvf-resnet34  ICVF with ResNet-34, 128x128, batch 64
Default: the first three on CPU. `--device cuda` runs the ResNet-34 presets on the GPU
(plus the small ones). Data loading is not measured here (see bench_training.py).

  python bench/bench_learning.py [--device cpu|cuda] [--steps N] [--cases a,b]
"""

import argparse
import json
import resource
import subprocess
import sys
import time

CPU_CASES = ('cql-small', 'cql-small-64', 'cql-state', 'icvf-small')
CUDA_CASES = ('cql-small', 'icvf-small', 'cql-resnet34', 'icvf-resnet34')


def _robot_batch(torch, batch_size, size, num_tasks):
    def images():
        return torch.randint(0, 256, (batch_size, size, size, 3), dtype=torch.uint8)
    return {'observations': images(), 'next_observations': images(),
            'states': torch.randn(batch_size, 7), 'next_states': torch.randn(batch_size, 7),
            'actions': torch.rand(batch_size, 7) * 2 - 1,
            'rewards': torch.randint(0, 2, (batch_size,)).float() * 11 - 1,
            'masks': torch.ones(batch_size),
            'task_ids': torch.randint(0, num_tasks, (batch_size,))}


def _video_batch(torch, batch_size, size):
    batch = {key: torch.randint(0, 256, (batch_size, size, size, 3), dtype=torch.uint8)
             for key in ('observations', 'next_observations', 'goals', 'intents')}
    rewards = -(torch.rand(batch_size) > 0.1).float()
    batch.update(rewards=rewards, masks=-rewards, intent_rewards=rewards.clone(),
                 intent_masks=-rewards)
    return batch


def run_case(case, device, steps):
    import torch
    from vptr_training.algos import cql, icvf
    torch.manual_seed(0)
    if case.startswith('cql'):
        if case == 'cql-state':
            config = cql.Config(num_tasks=10, encoder='identity', image_size=4,
                                critic_uses_state=True, augment=False)
            batch_size, size = 256, 4
        else:
            size = 64 if case.endswith('-64') else 128
            config = cql.Config(num_tasks=10, encoder=case.split('-')[1], image_size=size)
            batch_size = 64
        agent = cql.Agent(config).to(device)
        batches = [_robot_batch(torch, batch_size, size, 10) for _ in range(4)]
    else:
        agent = icvf.Agent(icvf.Config(encoder=case.split('-')[1], image_size=128)).to(device)
        batch_size = 64
        batches = [_video_batch(torch, batch_size, 128) for _ in range(4)]
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]

    def sync():
        if device == 'cuda':
            torch.cuda.synchronize()

    for step in range(2):                       # warm-up (allocator, cudnn autotune)
        agent.update(batches[step % 4])
    sync()
    start = time.perf_counter()
    for step in range(steps):
        agent.update(batches[step % 4])
    sync()
    elapsed = time.perf_counter() - start
    result = {'case': case, 'device': device, 'batch_size': batch_size,
              'steps': steps, 'steps_per_s': steps / elapsed,
              'samples_per_s': steps * batch_size / elapsed,
              'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              'torch_threads': torch.get_num_threads()}
    if device == 'cuda':
        result['peak_gpu_mib'] = torch.cuda.max_memory_allocated() / 2 ** 20
        result['gpu'] = torch.cuda.get_device_name()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--steps', type=int, default=None,
                        help='timed update steps per case (default 10 on cpu, 50 on cuda)')
    parser.add_argument('--cases', default=None, help='comma-separated subset of cases')
    parser.add_argument('--case', default=None, help=argparse.SUPPRESS)   # subprocess mode
    args = parser.parse_args()
    steps = args.steps or (50 if args.device == 'cuda' else 10)
    if args.case:
        print(json.dumps(run_case(args.case, args.device, steps)))
        return 0
    cases = args.cases.split(',') if args.cases else (
        CUDA_CASES if args.device == 'cuda' else CPU_CASES)
    print(f'bench_learning: device={args.device}, {steps} timed steps per case, '
          'synthetic batches')
    for case in cases:
        output = subprocess.run(
            [sys.executable, __file__, '--case', case, '--device', args.device,
             '--steps', str(steps)], capture_output=True, text=True, check=False)
        if output.returncode != 0:
            print(f'{case}: FAILED\n{output.stderr[-2000:]}')
            continue
        result = json.loads(output.stdout.strip().splitlines()[-1])
        line = (f"{case:14s} batch {result['batch_size']:3d}: "
                f"{result['steps_per_s']:7.2f} update steps/s "
                f"({result['samples_per_s']:8.1f} samples/s), "
                f"peak RSS {result['peak_rss_mib']:7.1f} MiB, "
                f"torch threads {result['torch_threads']}")
        if 'peak_gpu_mib' in result:
            line += f", peak GPU {result['peak_gpu_mib']:.0f} MiB ({result['gpu']})"
        print(line, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
