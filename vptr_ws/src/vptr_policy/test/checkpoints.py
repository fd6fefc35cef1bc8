"""Random-weight checkpoints of a real training config, for node tests and the benchmark.

The weights are untrained, but the directory is a real checkpoint (written by
`save_checkpoint`, read by `load_policy`), so shapes, preprocessing, timing and the
load path are exactly those of a trained one.
"""
from __future__ import annotations

from pathlib import Path

import torch
from vptr_training.algos import make_agent
from vptr_training.training.checkpoint import make_spec, save_checkpoint
from vptr_training.training.config import load_config


def make_random_checkpoint(run_dir: str | Path, task_names: list[str],
                           config_name: str = 'demo_finetune', seed: int = 0,
                           overrides: tuple[str, ...] = ()) -> Path:
    """Write RUN_DIR/checkpoints/step_00000000 for `config_name` (and `key=value`
    overrides) with random weights."""
    torch.manual_seed(seed)
    config = load_config(config_name, [*overrides, 'encoder.init_from='])
    agent = make_agent(config, len(task_names))
    spec = make_spec(config.algo, config.image_size, list(task_names), config.encoder.name)
    return save_checkpoint(run_dir, 0, agent.state_dict(), config=config, spec=spec)
