"""The policy controller: the arm's controller running a V-PTR checkpoint, without ROS.

`PolicyController` is widowx_bringup's `ArmController` (the Bridge controller loop that the
teleop and the collector also run: watchdog, modes, EE target, the shared arm step) with a
checkpoint as its acting policy. What it adds is what a checkpoint brings: the task must be
one the checkpoint was trained on (`spec.json`'s task_names), checked before the first tick.
`_policy_step` (inherited) is where the policy is queried; see policy_node.py for the whole
control tick.
"""
from __future__ import annotations

from typing import Any

from vptr_training.errors import ConfigError
from widowx_bringup.arm_control import ActingPolicy, ArmController, ControllerConfig


def spec_value(policy: object, key: str, default: object = None) -> object:
    """A field of the policy's spec: `Policy.spec` is the checkpoint's spec.json dict;
    stand-ins may use an object with attributes."""
    spec = getattr(policy, 'spec', None)
    if isinstance(spec, dict):
        return spec.get(key, default)
    return getattr(spec, key, default)


def only_task(policy: Any) -> str:
    """The checkpoint's task when it has exactly one (the node's `task` left empty)."""
    names = list(spec_value(policy, 'task_names') or [])
    if len(names) != 1:
        raise ConfigError(f'parameter task is required: the checkpoint has tasks {names}')
    return names[0]


class PolicyController(ArmController):
    """An ArmController whose acting policy is a checkpoint (`vptr_training.policy.Policy`)."""

    def __init__(self, policy: ActingPolicy, kinematics: object,
                 config: ControllerConfig) -> None:
        task_names = list(spec_value(policy, 'task_names') or [])
        if task_names and config.task not in task_names:
            raise ConfigError(f'task {config.task!r} is not one the checkpoint was trained '
                              f'on: {task_names}')
        super().__init__(policy, kinematics, config)
