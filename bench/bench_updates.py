#!/usr/bin/env python3
"""CQL update speed next to its references, measured side by side in this one process.

  image  CQL update, 'small' encoder, 64x64 images, batch 64, 10 tasks (the CPU default):
         this checkout vs the same update at commit a32cdd5 (the code before the CPU work).
         Target >= 2x.
  state  state-only CQL at CORL's sizes: obs 55 (a 4x4 'identity' image, 48, plus the
         7-D state), act 7, batch 256, 3 x 256 MLPs, 10 sampled actions, one task: this
         checkout vs CORL's `ContinuousCQL.train` (algorithms/offline/cql.py at CORL commit
         6afec90, its default TrainConfig: orthogonal init, 10 actions, automatic entropy
         tuning). a32cdd5 runs alongside for context. Target >= 1.5x.

How it is measured: every implementation gets the same random batches and its own agent;
after warm-up updates they take turns (A B A B ...) in blocks of about --block seconds, for
--rounds rounds, with torch.set_num_threads fixed (--threads, default 1: this machine's two
cores are shared, and a second intra-op thread competing for a busy core costs more than it
gives). The ratio is the total updates/s of one over the other; the per-round ratios show
the spread. Absolute updates/s depend on the load; the ratios are the figures.

The a32cdd5 reference is that commit's vptr_training package (algos, nets, errors), read
with `git archive` from this clone's history into a temporary folder and imported under
another name, so it runs its own nets, augmentation and Adam settings. CORL's file is read
from $CORL_CQL_PY, else from ~/.cache/vptr/bench/, else downloaded at the pinned commit; its
git blob id is checked. It imports d4rl, gym, pyrallis and wandb at module level, which
`ContinuousCQL` does not use: empty stand-ins are registered when they are not installed.
Without git history or CORL's file the comparison in question is skipped with a message.

  python bench/bench_updates.py [--cases image,state] [--rounds 6] [--block 1.5]
                                [--threads 1]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import os
from pathlib import Path
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from typing import Callable, Optional
import urllib.request

import torch

REPO = Path(__file__).resolve().parent.parent
PACKAGE = 'vptr_ws/src/vptr_training/vptr_training'
REFERENCE_COMMIT = 'a32cdd5'
CORL_COMMIT = '6afec90484bbf47dee05fdf525e26a3ebe028e9b'
CORL_PATH = 'algorithms/offline/cql.py'
CORL_BLOB = 'a1470eb0f664393203c715c596080856fa650827'    # git blob id of that file
CORL_URL = f'https://raw.githubusercontent.com/tinkoff-ai/CORL/{CORL_COMMIT}/{CORL_PATH}'
CORL_CACHE = Path.home() / '.cache' / 'vptr' / 'bench' / f'corl_{CORL_COMMIT[:7]}_cql.py'


# ------------------------------------------------------------------ the reference code
def load_reference_package(commit: str, tmp: Path) -> Optional[types.ModuleType]:
    """That commit's algos/nets/errors as package `vptr_ref_<commit>` (None without git)."""
    name = f'vptr_ref_{commit}'
    paths = [f'{PACKAGE}/{part}' for part in ('__init__.py', 'errors.py', 'algos', 'nets')]
    try:
        archive = subprocess.run(['git', '-C', str(REPO), 'archive', '--format=tar', commit,
                                  *paths], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        print(f'(no reference: cannot read commit {commit} from git history: {error})')
        return None
    root = tmp / name
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            text = tar.extractfile(member).read().decode()
            text = re.sub(r'\bvptr_training\.', f'{name}.', text)
            target = root / Path(member.name).relative_to(PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    sys.path.insert(0, str(tmp))
    return importlib.import_module(f'{name}.algos.cql')


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()


def corl_source() -> Optional[tuple[bytes, str]]:
    """CORL's offline cql.py (bytes, where from), or None."""
    explicit = os.environ.get('CORL_CQL_PY')
    if explicit:
        return Path(explicit).read_bytes(), explicit
    if CORL_CACHE.exists():
        return CORL_CACHE.read_bytes(), str(CORL_CACHE)
    try:
        with urllib.request.urlopen(CORL_URL, timeout=20) as response:
            data = response.read()
    except OSError as error:
        print(f'(no CORL reference: {CORL_URL} not reachable ({error}); set CORL_CQL_PY to '
              f'a copy of CORL {CORL_COMMIT[:7]}:{CORL_PATH} or put it at {CORL_CACHE})')
        return None
    if git_blob_id(data) == CORL_BLOB:
        CORL_CACHE.parent.mkdir(parents=True, exist_ok=True)
        CORL_CACHE.write_bytes(data)
    return data, CORL_URL


def load_corl() -> Optional[types.ModuleType]:
    found = corl_source()
    if found is None:
        return None
    data, where = found
    blob = git_blob_id(data)
    note = 'blob id checked' if blob == CORL_BLOB else f'WARNING: blob {blob} != {CORL_BLOB}'
    print(f'CORL reference: {where} ({note})')
    for missing in ('d4rl', 'gym', 'pyrallis', 'wandb'):
        try:
            importlib.import_module(missing)
        except ImportError:
            stub = types.ModuleType(missing)
            stub.wrap = lambda *args, **kwargs: (lambda function: function)   # pyrallis.wrap
            sys.modules[missing] = stub
    module = types.ModuleType('corl_offline_cql')
    module.__file__ = where
    sys.modules[module.__name__] = module       # dataclasses look the module up
    exec(compile(data, where, 'exec'), module.__dict__)   # noqa: S102 (the pinned file)
    return module


# ------------------------------------------------------------------ the agents
def robot_batch(batch_size: int, size: int, num_tasks: int) -> dict[str, torch.Tensor]:
    """The random robot batch of bench_learning.py (same keys, shapes and ranges)."""
    from bench_learning import _robot_batch     # this folder is on sys.path when run
    return _robot_batch(torch, batch_size, size, num_tasks)


def vptr_runner(module: types.ModuleType, config_kwargs: dict, batches: list,
                **agent_options) -> Callable[[int], None]:
    torch.manual_seed(0)
    agent = module.Agent(module.Config(**config_kwargs), **agent_options)
    step = [0]

    def run(updates: int) -> None:
        for _ in range(updates):
            agent.update(batches[step[0] % len(batches)])
            step[0] += 1
    return run


def corl_runner(corl: types.ModuleType, batches: list) -> Callable[[int], None]:
    """CORL's agent built as its `train()` builds it, at obs 55 / act 7 / batch 256."""
    config = corl.TrainConfig()
    torch.manual_seed(0)
    obs_dim, act_dim = 55, 7
    critic_1 = corl.FullyConnectedQFunction(obs_dim, act_dim, config.orthogonal_init,
                                            config.q_n_hidden_layers)
    critic_2 = corl.FullyConnectedQFunction(obs_dim, act_dim, config.orthogonal_init)
    actor = corl.TanhGaussianPolicy(obs_dim, act_dim, 1.0,
                                    log_std_multiplier=config.policy_log_std_multiplier,
                                    orthogonal_init=config.orthogonal_init)
    trainer = corl.ContinuousCQL(
        critic_1=critic_1, critic_2=critic_2,
        critic_1_optimizer=torch.optim.Adam(list(critic_1.parameters()), config.qf_lr),
        critic_2_optimizer=torch.optim.Adam(list(critic_2.parameters()), config.qf_lr),
        actor=actor, actor_optimizer=torch.optim.Adam(actor.parameters(), config.policy_lr),
        discount=config.discount, soft_target_update_rate=config.soft_target_update_rate,
        device='cpu', target_entropy=-float(act_dim),
        alpha_multiplier=config.alpha_multiplier,
        use_automatic_entropy_tuning=config.use_automatic_entropy_tuning,
        backup_entropy=config.backup_entropy, policy_lr=config.policy_lr, qf_lr=config.qf_lr,
        bc_steps=config.bc_steps, target_update_period=config.target_update_period,
        cql_n_actions=config.cql_n_actions, cql_importance_sample=config.cql_importance_sample,
        cql_lagrange=config.cql_lagrange, cql_target_action_gap=config.cql_target_action_gap,
        cql_temp=config.cql_temp, cql_alpha=config.cql_alpha,
        cql_max_target_backup=config.cql_max_target_backup,
        cql_clip_diff_min=config.cql_clip_diff_min, cql_clip_diff_max=config.cql_clip_diff_max)
    assert config.cql_n_actions == 10
    # The same transitions as the V-PTR batches: observation = [flattened 4x4 image, state].
    corl_batches = []
    for batch in batches:
        def observation(images: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
            return torch.cat([images.float().div(255).permute(0, 3, 1, 2).flatten(1),
                              states], 1)
        corl_batches.append([observation(batch['observations'], batch['states']),
                             batch['actions'], batch['rewards'][:, None],
                             observation(batch['next_observations'], batch['next_states']),
                             1.0 - batch['masks'][:, None]])
    step = [0]

    def run(updates: int) -> None:
        for _ in range(updates):
            trainer.train(corl_batches[step[0] % len(corl_batches)])
            step[0] += 1
    return run


# ------------------------------------------------------------------ timing
def calibrate(run: Callable[[int], None], block_s: float) -> int:
    """Updates per block: about block_s seconds at the speed of two timed updates."""
    start = time.perf_counter()
    run(2)
    per_update = (time.perf_counter() - start) / 2
    return max(1, int(round(block_s / per_update)))


def interleaved(runners: dict[str, Callable[[int], None]], rounds: int, block_s: float,
                warmup: int) -> dict[str, list[tuple[int, float, float]]]:
    """Blocks A B A B ...; (updates, wall s, process CPU s) per round and implementation."""
    sizes = {}
    for name, run in runners.items():
        run(warmup)
        sizes[name] = calibrate(run, block_s)
    blocks: dict[str, list[tuple[int, float, float]]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start, cpu = time.perf_counter(), time.process_time()
            run(sizes[name])
            blocks[name].append((sizes[name], time.perf_counter() - start,
                                 time.process_time() - cpu))
    return blocks


def report(title: str, blocks: dict[str, list[tuple[int, float, float]]], ours: str,
           references: list[str], target: Optional[tuple[str, float]]) -> None:
    """Updates per wall second (what a run gets) and per CPU second of this process (less
    sensitive to other jobs on a shared machine), each with the per-round spread."""
    print(title)
    rates = {}
    for name, b in blocks.items():
        wall = sum(n for n, _, _ in b) / sum(t for _, t, _ in b)
        cpu = sum(n for n, _, _ in b) / sum(c for _, _, c in b)
        rates[name] = wall, cpu
        rounds = ', '.join(f'{n / t:.2f}' for n, t, _ in b)
        print(f'  {name:26s} {wall:7.2f} updates/s wall ({cpu:6.2f} per CPU s); '
              f'rounds: {rounds}')
    for reference in references:
        line = f'  {ours} / {reference}:'
        for index, kind in ((1, 'wall'), (2, 'CPU')):
            per_round = [(o[0] / o[index]) / (r[0] / r[index])
                         for o, r in zip(blocks[ours], blocks[reference])]
            ratio = rates[ours][index - 1] / rates[reference][index - 1]
            line += (f' {ratio:.2f}x {kind} (rounds {min(per_round):.2f}-'
                     f'{max(per_round):.2f}x);')
        if target is not None and target[0] == reference:
            met = min(rates[ours][i] / rates[reference][i] for i in (0, 1)) >= target[1]
            line += f" target >= {target[1]}x: {'met' if met else 'NOT met'}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', default='image,state')
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--block', type=float, default=1.5, help='seconds per timed block')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = args.cases.split(',')
    print(f'bench_updates: torch {torch.__version__}, {args.threads} thread(s), '
          f'{args.rounds} interleaved rounds of ~{args.block:.1f} s blocks')
    from vptr_training.algos import cql
    ours = 'this checkout'
    old_name = REFERENCE_COMMIT
    with tempfile.TemporaryDirectory(prefix='bench_updates_') as tmp:
        old = load_reference_package(REFERENCE_COMMIT, Path(tmp))
        if 'image' in cases:
            torch.manual_seed(1)
            batches = [robot_batch(64, 64, 10) for _ in range(4)]
            config = dict(num_tasks=10, encoder='small', image_size=64)
            runners = {ours: vptr_runner(cql, config, batches)}
            if old is not None:
                runners[old_name] = vptr_runner(old, config, batches)
            start = time.perf_counter()
            blocks = interleaved(runners, args.rounds, args.block, warmup=2)
            report(f'image CQL update (small encoder, 64x64, batch 64), '
                   f'{time.perf_counter() - start:.0f} s:', blocks, ours,
                   [name for name in runners if name != ours],
                   (old_name, 2.0) if old is not None else None)
        if 'state' in cases:
            corl = load_corl()
            torch.manual_seed(2)
            batches = [robot_batch(256, 4, 1) for _ in range(4)]
            config = dict(num_tasks=1, encoder='identity', image_size=4, critic_uses_state=True,
                          augment=False, n_actions=10)
            runners = {ours: vptr_runner(cql, config, batches)}
            if corl is not None:
                runners['CORL ContinuousCQL.train'] = corl_runner(corl, batches)
            if old is not None:
                runners[old_name] = vptr_runner(old, config, batches)
            start = time.perf_counter()
            blocks = interleaved(runners, args.rounds, args.block, warmup=3)
            report(f'state-only CQL update (obs 55, act 7, batch 256, 3x256, 10 actions), '
                   f'{time.perf_counter() - start:.0f} s:', blocks, ours,
                   [name for name in runners if name != ours],
                   ('CORL ContinuousCQL.train', 1.5) if corl is not None else None)
    return 0


if __name__ == '__main__':
    sys.exit(main())
