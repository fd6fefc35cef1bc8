"""`vptr pretrain | train | finetune`: the three phases on the command line.

  vptr pretrain --config demo_pretrain [key=value ...] [--out DIR] [--resume]
  vptr train    --config demo_train encoder.init_from=runs/demo_pretrain
  vptr finetune --config demo_finetune init_from=runs/demo_train data.target=...
--config takes a YAML file or the name of a preset shipped in vptr_training/configs.
Multi-GPU / multi-node: `torchrun --nproc_per_node N -m vptr_training.cli train ...`.
"""
from __future__ import annotations

import argparse
import sys

from vptr_training.training.config import preset_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', metavar='FILE', default=None,
                        help='YAML config file or preset name '
                        f'({", ".join(preset_names())})')
    parser.add_argument('overrides', nargs='*', metavar='key=value',
                        help='dotted overrides typed by the value they replace, e.g. '
                        'steps=2000 data.prior=data/bridge agent.critic_lr=1e-4')
    parser.add_argument('--out', metavar='DIR', default=None,
                        help='run directory (overrides out_dir)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from the latest checkpoint in the run directory '
                        '(same data order and RNG state)')


def _run(args: argparse.Namespace, phase: str) -> int:
    from vptr_training.training.runner import load_and_train
    summary = load_and_train(args.config, list(args.overrides), phase, out_dir=args.out,
                             resume=args.resume)
    if summary.get('checkpoint') is not None:
        print(f'{phase}: {summary["step"]} steps, checkpoint {summary["checkpoint"]}',
              file=sys.stderr)
    return 0


def run_pretrain(args: argparse.Namespace) -> int:
    return _run(args, 'pretrain')


def run_train(args: argparse.Namespace) -> int:
    return _run(args, 'train')


def run_finetune(args: argparse.Namespace) -> int:
    return _run(args, 'finetune')
