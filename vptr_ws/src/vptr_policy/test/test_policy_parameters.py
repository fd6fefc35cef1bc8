"""The policy node's parameter table (policy_node.PARAMETERS) is the one definition of its
defaults: config/policy.yaml and policy.launch.py's defaults are checked against it, and
it against the values it is built from (ControllerConfig, the arm interface, constants)."""
from pathlib import Path

import fake_ros
import launch_checks
import pytest
from vptr_training.robot.arm_step import GRIPPER_THRESHOLD
from vptr_training.robot.conventions import ACTION_MODES, CONTROL_HZ
from vptr_training.robot.kinematics import DEFAULT_ROBOT_MODEL, ROBOT_MODELS
from vptr_training.robot.topics import IMAGE_TOPIC
from widowx_bringup.arm_control import ControllerConfig
import yaml

PACKAGE = Path(__file__).resolve().parents[1]
LAUNCH = PACKAGE / 'launch' / 'policy.launch.py'


def launch_text(value):
    """A parameter default as a launch argument's default_value string."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@pytest.fixture
def table(ros):
    return fake_ros.import_fresh('vptr_policy.policy_node').PARAMETERS


def test_policy_yaml_holds_exactly_the_table(table):
    config = yaml.safe_load((PACKAGE / 'config' / 'policy.yaml').read_text())
    declared = config['policy_node']['ros__parameters']
    assert list(declared) == list(table), 'policy.yaml lists the table in its order'
    for name, value in declared.items():
        assert value == table[name][0], name
        assert type(value) is type(table[name][0]), name       # 5.0, not 5


def test_launch_defaults_are_the_tables(table):
    arguments = launch_checks.declared(launch_checks.load(LAUNCH))
    checked = 0
    for name, argument in arguments.items():
        if name not in table or not isinstance(argument.default_value, str):
            continue          # required (None), or a substitution (robot_name: robot_model)
        assert argument.default_value == launch_text(table[name][0]), name
        checked += 1
    assert checked >= 7
    assert arguments['checkpoint_dir'].default_value is None
    assert arguments['robot_model'].choices == list(ROBOT_MODELS)
    assert arguments['action_mode'].choices == list(ACTION_MODES)


def test_the_table_takes_its_defaults_from_their_definitions(table):
    assert table['robot_model'][0] == DEFAULT_ROBOT_MODEL
    assert table['action_mode'][0] == ACTION_MODES[0]
    assert table['image_topic'][0] == IMAGE_TOPIC
    assert table['control_hz'][0] == CONTROL_HZ
    assert table['gripper_threshold'][0] == GRIPPER_THRESHOLD
    config = ControllerConfig(task='t')
    for name in ('stale_timeout', 'max_joint_step', 'gripper_threshold', 'control_hz'):
        assert table[name][0] == getattr(config, name), name
    assert table['workspace_low'][0] == config.workspace_low.tolist()
    assert table['workspace_high'][0] == config.workspace_high.tolist()
