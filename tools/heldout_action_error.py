#!/usr/bin/env python3
"""Held-out action error of trained policies: how well each fits demos it never saw.

The offline probe behind docs/results.md's analysis of runs that fail in closed loop. For
every checkpoint (or run folder: its latest checkpoint) it acts with tanh(mean) on every
step of a held-out store of target demos (unaugmented images) and prints the squared error
to the demos' scaled actions, per action dimension. x and y (the first two) are where a
policy that has not yet learned to locate the object shows it: the failing runs of the
benchmark erred twice as much there as the succeeding ones (0.065 vs 0.03).

Held-out demos: generate them with another seed than the training data, e.g.

    vptr sim generate heldout_raw --robot-episodes 0 --target-demos 60 --videos 0 \\
        --image-size 64 --frame-size 128x96 --seed 777
    vptr data rosbag heldout_raw/target_rosbags heldout --task put_corn_in_bowl --size 64
    python tools/heldout_action_error.py heldout demo_out/runs/seed0/*_finetune
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

import numpy as np


def load_steps(store_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Every (image, state, scaled action) of a one-task robot store, and its task."""
    from vptr_training.data.store import EpisodeStore
    from vptr_training.errors import VptrError
    from vptr_training.robot.conventions import scale_action
    store = EpisodeStore(store_path)
    if store.kind != 'robot' or len(store.tasks) != 1:
        raise VptrError(f'{store_path}: need a robot store of one task (held-out target '
                        f'demos); it is a {store.kind} store of tasks {store.tasks}')
    images, states, actions = [], [], []
    for i in range(len(store)):
        episode = store.episode(i)
        steps = len(episode['actions'])
        images.append(np.asarray(episode['images'][:steps]))
        states.append(np.asarray(episode['states'][:steps], dtype=np.float32))
        actions.append(scale_action(np.asarray(episode['actions'])))
    return (np.concatenate(images), np.concatenate(states),
            np.concatenate(actions).astype(np.float32), store.tasks[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('store', type=Path, help='held-out target demos (an episode store)')
    parser.add_argument('checkpoints', type=Path, nargs='+',
                        help='checkpoint or run folders (CQL or BC)')
    parser.add_argument('--batch', type=int, default=256, help='steps per forward pass')
    args = parser.parse_args(argv)

    import torch

    from vptr_training.errors import VptrError
    from vptr_training.policy import load_policy
    from vptr_training.robot.conventions import ACTION_NAMES
    try:
        images, states, actions, task = load_steps(args.store)
        print(f'{args.store}: {len(images)} held-out steps of {task}')
        print('| checkpoint | mean | ' + ' | '.join(ACTION_NAMES) + ' |')
        print('|---|---|' + '---|' * len(ACTION_NAMES))
        for checkpoint in args.checkpoints:
            policy = load_policy(checkpoint)
            task_ids = torch.full((len(images),), policy.task_id(task), dtype=torch.long)
            predicted = torch.cat([
                policy.agent.act(torch.from_numpy(images[i:i + args.batch]),
                                 torch.from_numpy(states[i:i + args.batch]),
                                 task_ids[i:i + args.batch])
                for i in range(0, len(images), args.batch)]).numpy()
            error = ((predicted - actions) ** 2).mean(0)
            print(f'| {checkpoint} | {error.mean():.4f} | '
                  + ' | '.join(f'{e:.3f}' for e in error) + ' |')
    except VptrError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
