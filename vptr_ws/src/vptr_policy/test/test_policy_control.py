"""PolicyController: widowx_bringup's ArmController with a checkpoint's checks (no ROS).
The control tick itself is tested in widowx_bringup/test/test_bringup_arm_control.py."""
from types import SimpleNamespace

import numpy as np
import pytest
from vptr_policy.control import only_task, PolicyController, spec_value
from vptr_training.errors import ConfigError
from vptr_training.robot.kinematics import WidowXKinematics
from widowx_bringup.arm_control import ArmController, ControllerConfig, MODE_RUNNING

KIN = WidowXKinematics('wx250s')
NOW = 1000.0


class ScriptedPolicy:
    def __init__(self, task_names=('put_x_in_y',), spec_as_dict=False):
        spec = dict(task_names=list(task_names), image_size=64, control_hz=5.0)
        self.spec = spec if spec_as_dict else SimpleNamespace(**spec)
        self.calls = 0

    def act(self, image, state, task):
        self.calls += 1
        return np.array([0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])


def test_unknown_task_is_a_config_error():
    with pytest.raises(ConfigError, match='not one the checkpoint'):
        PolicyController(ScriptedPolicy(), KIN, ControllerConfig(task='nope'))


def test_a_policy_controller_is_the_arm_controller_with_the_policy_acting():
    policy = ScriptedPolicy()
    ctrl = PolicyController(policy, KIN, ControllerConfig(task='put_x_in_y'))
    assert isinstance(ctrl, ArmController)
    ctrl.start()
    result = ctrl.step(np.zeros((48, 64, 3), np.uint8), NOW - 0.05, KIN.neutral, 0.035,
                       NOW - 0.01, NOW)
    assert result.mode == MODE_RUNNING and result.arm_cmd is not None and result.gripper_cmd
    assert policy.calls == 1


@pytest.mark.parametrize('spec_as_dict', [True, False])
def test_spec_values_and_the_only_task(spec_as_dict):
    policy = ScriptedPolicy(('a',), spec_as_dict)
    assert spec_value(policy, 'control_hz') == 5.0
    assert spec_value(policy, 'missing', 'x') == 'x'
    assert only_task(policy) == 'a'
    with pytest.raises(ConfigError, match='parameter task is required'):
        only_task(ScriptedPolicy(('a', 'b'), spec_as_dict))
