"""The simulated WidowX 250 (MuJoCo): environment, tasks, experts, data generation.

Names are loaded lazily so that `import vptr_training.sim.generate` (the CLI) or
`from vptr_training.sim import TASKS` do not pay for MuJoCo / OpenGL until an environment
is actually built.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    'WidowXSimEnv': 'vptr_training.sim.env',
    'TASKS': 'vptr_training.sim.tasks',
    'CONDITIONS': 'vptr_training.sim.tasks',
    'get_task': 'vptr_training.sim.tasks',
    'make_expert': 'vptr_training.sim.experts',
    'VIDEO_TASKS': 'vptr_training.sim.human_video',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
