"""One definition per constant (issue 10): the action modes, the arm models, the driver and
recording topics and the node defaults are each defined once in Python and imported where
used. Launch files import no project code, so their literal defaults and choices are
checked here against those definitions."""
import ast
from pathlib import Path
import sys

import pytest
from vptr_training.robot.conventions import ACTION_MODES
from vptr_training.robot.kinematics import DEFAULT_ROBOT_MODEL, ROBOT_MODELS
from vptr_training.robot.topics import DEFAULT_ROBOT_NAME, IMAGE_TOPIC

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'vptr_ws' / 'src' / 'widowx_bringup' / 'test'))
import fake_ros  # noqa: E402, I100
import launch_checks  # noqa: E402

LAUNCH_FILES = sorted((REPO / 'launch').glob('*.launch.py')) + sorted(
    (REPO / 'vptr_ws' / 'src').glob('*/launch/*.launch.py'))
POLICY_LAUNCH = REPO / 'vptr_ws/src/vptr_policy/launch/policy.launch.py'
# Where each constant is defined; no other Python source of the packages may spell it.
DEFINITIONS = {
    ACTION_MODES: 'vptr_training/robot/conventions.py',
    ROBOT_MODELS: 'vptr_training/robot/kinematics.py',
}
TOPICS = {IMAGE_TOPIC, '/vptr/action', '/vptr/episode_event'}
TOPIC_DEFINITION = 'vptr_training/robot/topics.py'


@pytest.fixture
def ros(monkeypatch):
    return fake_ros.install(monkeypatch)


def package_sources():
    for package in ('vptr_training', 'vptr_policy', 'widowx_bringup'):
        yield from sorted((REPO / 'vptr_ws' / 'src' / package / package).rglob('*.py'))


def literals(path):
    """Tuples/lists of string constants, and string constants, of a Python file."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List)) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            yield tuple(e.value for e in node.elts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


@pytest.mark.parametrize('path', list(package_sources()), ids=lambda p: p.name)
def test_lists_and_topics_are_spelled_only_where_defined(path):
    relative = path.as_posix()
    for value in literals(path):
        for constant, home in DEFINITIONS.items():
            if value == constant:
                assert relative.endswith(home), f'{path}: {constant} is defined in {home}'
        if value in TOPICS:
            assert relative.endswith(TOPIC_DEFINITION), (
                f'{path}: topic {value!r}: import it from {TOPIC_DEFINITION}')


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_defaults_and_choices_match_the_definitions(ros, path):
    arguments = launch_checks.declared(launch_checks.load(path))
    if 'robot_model' in arguments and arguments['robot_model'].choices:
        assert arguments['robot_model'].choices == list(ROBOT_MODELS)
        assert arguments['robot_model'].default_value == DEFAULT_ROBOT_MODEL
    if 'action_mode' in arguments:
        assert arguments['action_mode'].choices == list(ACTION_MODES)
        assert arguments['action_mode'].default_value == ACTION_MODES[0]
    for name in ('image_topic', 'camera_topic'):
        if name in arguments:
            assert arguments[name].default_value == IMAGE_TOPIC, name
    if isinstance(getattr(arguments.get('robot_name'), 'default_value', None), str):
        assert arguments['robot_name'].default_value == DEFAULT_ROBOT_NAME


@pytest.mark.parametrize('name', ['robot.launch.py', 'sim.launch.py'])
def test_top_level_defaults_passed_to_the_policy_are_policy_launch_defaults(ros, name):
    """What robot.launch.py and sim.launch.py forward to policy.launch.py defaults to the same
    value (except the simulated task, which defaults to the demo's target task)."""
    policy = launch_checks.declared(launch_checks.load(POLICY_LAUNCH))
    top = launch_checks.declared(launch_checks.load(REPO / 'launch' / name))
    compared = 0
    for argument_name, argument in top.items():
        if argument_name in policy and argument_name != 'task' and isinstance(
                argument.default_value, str) and isinstance(
                policy[argument_name].default_value, str):
            assert argument.default_value == policy[argument_name].default_value, argument_name
            compared += 1
    assert compared >= 3
