"""The algorithm registry: one name per learner, its module, and `make_agent`.

Each module `vptr_training.algos.<name>` has a `Config` dataclass (its hyper-parameters,
the `agent:` section of a training config) and an `Agent` (algos/base.py's contract).
Importing this package imports no torch; a module is imported when first asked for.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, TYPE_CHECKING

from vptr_training.errors import ConfigError

if TYPE_CHECKING:
    from vptr_training.algos.base import Agent

ALGOS = ('icvf', 'vip', 'cql', 'bc')
PRETRAIN_ALGOS = ('icvf', 'vip')     # phase 1: video, an encoder for the next phase
ROBOT_ALGOS = ('cql', 'bc')          # phases 2-3: robot data, a policy (`Policy`)


def algo_module(algo: str) -> ModuleType:
    """The module of a registered algorithm (ConfigError for an unknown name)."""
    if algo not in ALGOS:
        raise ConfigError(f'algo {algo!r} is not one of {", ".join(ALGOS)}')
    return importlib.import_module(f'{__name__}.{algo}')


def config_class(algo: str) -> type:
    """The algorithm's Config dataclass."""
    return algo_module(algo).Config


def make_agent(config: Any, num_tasks: int) -> Agent:
    """The Agent of a resolved training config (`training.config.TrainConfig`), without
    weights. `num_tasks` is the size of the task one-hot (the data's task list)."""
    return algo_module(config.algo).Agent(config.agent_config(num_tasks))
