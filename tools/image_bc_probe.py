#!/usr/bin/env python3
"""Image-BC probe of the simulated target task: what makes a policy generalise over positions.

In-process and fast (a few minutes a variant on 2 cores), for the measurements behind the
CPU-scale deviations in docs/method.md. It collects scripted demos of `put_corn_in_bowl`
straight from the simulator (64x64 camera images, 7-D state, scaled actions; cached as
.npz), trains the small conv encoder + MLP policy on the squared error of tanh(output),
and reports the action error on 50 held-out demos every 1,000 updates and, with
`--rollouts`, closed-loop success on 20 `seen` and 20 `new_positions` episodes (Wilson 95%
intervals). The variants are what the probe compares:

- `--shift-pad N`: DrQ random shift of +-N pixels (0: none);
- `--jitter`: colour jitter (PTR strengths);
- `--state-norm data|raw|fixed`: the state standardised with the demos' statistics (as
  `ImageActor` does), raw, or scaled by fixed workspace bounds.

The real pipeline (stores, converters, `vptr finetune`) is measured by
tools/learnability_ladder.py; this probe isolates the learning problem.

    python tools/image_bc_probe.py --demos 200 --updates 3000 --shift-pad 4 --rollouts
"""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import time

import numpy as np

os.environ.setdefault('MUJOCO_GL', 'egl')

TASK = 'put_corn_in_bowl'
HORIZON = 40


def collect(demos: int, seed0: int, cache: Path, noise: float = 0.1) -> dict[str, np.ndarray]:
    """Scripted demos (noise 0.1, as `vptr sim generate`), 3 steps past success each."""
    if cache.is_file():
        with np.load(cache) as data:
            return {k: data[k] for k in data}
    from vptr_training.robot.conventions import scale_action
    from vptr_training.sim.env import WidowXSimEnv
    from vptr_training.sim.experts import make_expert
    env = WidowXSimEnv(TASK, image_size=64, terminate_on_success=False,
                       max_episode_steps=HORIZON)
    images, states, actions = [], [], []
    for i in range(demos):
        obs, _ = env.reset(seed=seed0 + i)
        expert = make_expert(env, noise=noise, seed=i)
        stop_at = None
        for t in range(HORIZON):
            action = expert(obs)
            images.append(obs['image'])
            states.append(obs['state'])
            actions.append(scale_action(action))
            obs, _, _, _, info = env.step(action)
            if info['success'] and stop_at is None:
                stop_at = t + 3
            if stop_at is not None and t >= stop_at:
                break
    data = {'images': np.stack(images), 'states': np.stack(states).astype(np.float32),
            'actions': np.stack(actions).astype(np.float32)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix('.tmp.npz')
    np.savez(tmp, **data)
    os.replace(tmp, cache)
    return data


def make_policy(states: np.ndarray, state_norm: str):
    import torch
    from torch import nn
    from vptr_training.nets.encoders import SmallEncoder

    if state_norm == 'data':
        mean, std = states.mean(0), states.std(0) + 1e-3
    elif state_norm == 'fixed':
        from vptr_training.robot.conventions import WORKSPACE_HIGH, WORKSPACE_LOW
        low = np.concatenate([WORKSPACE_LOW, [-math.pi / 2] * 3, [0.0]])
        high = np.concatenate([WORKSPACE_HIGH, [math.pi / 2] * 3, [1.0]])
        mean, std = (low + high) / 2, (high - low) / 2
    else:
        mean, std = np.zeros(7), np.ones(7)

    class Policy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = SmallEncoder(64)
            self.register_buffer('mean', torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer('std', torch.as_tensor(std, dtype=torch.float32))
            self.head = nn.Sequential(nn.Linear(self.encoder.output_dim + 7, 256), nn.ReLU(),
                                      nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 7))

        def forward(self, images: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
            """float images (B, 3, 64, 64) in [0, 1], states (B, 7) -> actions in [-1, 1]."""
            latent = self.encoder(images)
            return torch.tanh(self.head(torch.cat([latent, (states - self.mean) / self.std],
                                                  1)))
    return Policy()


def to_float(images: np.ndarray):
    import torch
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def heldout_error(policy, heldout: dict[str, np.ndarray]) -> float:
    import torch
    with torch.no_grad():
        predicted = policy(to_float(heldout['images']), torch.from_numpy(heldout['states']))
        return float((predicted - torch.from_numpy(heldout['actions'])).pow(2).mean())


def rollouts(policy, condition: str, episodes: int) -> dict:
    import torch
    from vptr_training.evaluation import wilson_interval
    from vptr_training.robot.conventions import unscale_action
    from vptr_training.sim.env import WidowXSimEnv
    env = WidowXSimEnv(TASK, image_size=64, condition=condition, max_episode_steps=HORIZON)
    wins = 0
    policy.eval()
    for i in range(episodes):
        obs, _ = env.reset(seed=50_000 + i)
        while True:
            with torch.no_grad():
                action = policy(to_float(obs['image'][None]),
                                torch.from_numpy(obs['state'][None].astype(np.float32)))[0]
            obs, _, terminated, truncated, info = env.step(unscale_action(action.numpy()))
            if terminated or truncated:
                break
        wins += bool(info['success'])
    policy.train()
    low, high = wilson_interval(wins, episodes)
    return {'successes': wins, 'episodes': episodes, 'ci_low': round(low, 3),
            'ci_high': round(high, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--demos', type=int, default=200)
    parser.add_argument('--updates', type=int, default=3000)
    parser.add_argument('--shift-pad', type=int, default=4)
    parser.add_argument('--jitter', action='store_true')
    parser.add_argument('--state-norm', choices=('data', 'raw', 'fixed'), default='data')
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--rollouts', action='store_true',
                        help='also evaluate 20 seen and 20 new_positions episodes')
    parser.add_argument('--cache', type=Path, default=Path('probe_cache'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    import torch
    from vptr_training.nets.augment import color_jitter, random_shift
    torch.manual_seed(args.seed)
    train = collect(args.demos, 10_000, args.cache / f'demos{args.demos}.npz')
    heldout = collect(50, 90_000, args.cache / 'heldout50.npz')
    images = torch.from_numpy(train['images'])
    states, actions = torch.from_numpy(train['states']), torch.from_numpy(train['actions'])
    policy = make_policy(train['states'], args.state_norm)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    start = time.time()
    curve = []
    for update in range(1, args.updates + 1):
        batch = torch.randint(0, len(actions), (64,))
        floats = to_float(images[batch].numpy())
        if args.shift_pad:
            floats = random_shift(floats, args.shift_pad)
        if args.jitter:
            floats = color_jitter(floats)
        loss = (policy(floats, states[batch]) - actions[batch]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if update % 1000 == 0 or update == args.updates:
            curve.append((update, round(heldout_error(policy, heldout), 4)))
            print(f'update {update}: held-out action error {curve[-1][1]} '
                  f'({time.time() - start:.0f} s)', flush=True)
    result = {'demos': args.demos, 'updates': args.updates, 'shift_pad': args.shift_pad,
              'jitter': args.jitter, 'state_norm': args.state_norm, 'lr': args.lr,
              'steps': len(actions), 'heldout_error': curve}
    if args.rollouts:
        result['seen'] = rollouts(policy, 'seen', 20)
        result['new_positions'] = rollouts(policy, 'new_positions', 20)
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
