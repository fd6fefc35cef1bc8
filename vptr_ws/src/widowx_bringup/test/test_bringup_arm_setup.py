"""arm_setup against a stand-in for Interbotix's humble Python API that keeps its real
behaviour (interbotix_ros_toolboxes, humble branch, after the Python-ROS 2 API change of
April 2024): the arm module caches moving/accel times from its constructor and writes the
profile registers only when a requested value differs from the cache; set_joint_positions
checks the goal against the joint limits and the velocity limits at the cached moving time
and returns False; there is no InterbotixManipulatorXS.shutdown(); robot_startup() starts
the spin thread that the gripper's limit timer needs, robot_shutdown() ends it."""
from pathlib import Path
import sys
import types

import numpy as np
import pytest
from vptr_training.robot.kinematics import WidowXKinematics
from widowx_bringup import arm_setup
import yaml

MODES = yaml.safe_load((Path(__file__).resolve().parents[1] / 'config' / 'modes.yaml')
                       .read_text())['groups']['arm']
SLEEP = {'wx250s': [0.0, -1.88, 1.5, 0.0, 0.8, 0.0], 'wx250': [0.0, -1.88, 1.5, 0.8, 0.0]}


class Robot:
    """The motors, the driver and the Interbotix global node's state."""

    def __init__(self, model):
        self.kin = WidowXKinematics(model)
        # What the driver wrote at start-up from config/modes.yaml (ms).
        self.registers = {'Profile_Velocity': MODES['profile_velocity'],
                          'Profile_Acceleration': MODES['profile_acceleration']}
        self.joints = np.array(SLEEP[model])
        self.moves = []            # (goal, Profile_Velocity in effect)
        self.gripper_efforts = []
        self.events = []


class Arm:
    def __init__(self, robot, moving_time, accel_time):
        self.robot = robot
        self.moving_time, self.accel_time = moving_time, accel_time
        self.joint_commands = list(robot.joints)
        self.set_trajectory_time(self.moving_time, self.accel_time)   # as the real __init__

    def set_trajectory_time(self, moving_time=None, accel_time=None):
        if moving_time is not None and moving_time != self.moving_time:
            self.moving_time = moving_time
            self.robot.registers['Profile_Velocity'] = int(moving_time * 1000)
        if accel_time is not None and accel_time != self.accel_time:
            self.accel_time = accel_time
            self.robot.registers['Profile_Acceleration'] = int(accel_time * 1000)

    def _check_joint_limits(self, positions):
        theta = [int(v * 1000) / 1000.0 for v in positions]
        kin = self.robot.kin
        for x, (goal, current) in enumerate(zip(theta, self.joint_commands)):
            if not kin.lower[x] <= goal <= kin.upper[x]:
                return False
            if abs(goal - current) / float(self.moving_time) > kin.velocity_limits[x]:
                return False
        return True

    def _publish_commands(self, positions, moving_time=None, accel_time=None, blocking=True):
        self.set_trajectory_time(moving_time, accel_time)
        self.joint_commands = list(positions)
        self.robot.moves.append((list(positions), self.robot.registers['Profile_Velocity']))

    def set_joint_positions(self, joint_positions, moving_time=None, accel_time=None,
                            blocking=True):
        if self._check_joint_limits(joint_positions):
            self._publish_commands(joint_positions, moving_time, accel_time, blocking)
            return True
        return False

    def go_to_home_pose(self, moving_time=None, accel_time=None, blocking=True):
        self._publish_commands([0.0] * len(self.joint_commands), moving_time, accel_time)

    def go_to_sleep_pose(self, moving_time=None, accel_time=None, blocking=True):
        self._publish_commands(SLEEP[self.robot.kin.model], moving_time, accel_time)


class Core:
    def __init__(self, robot):
        self.robot = robot

    def robot_write_joint_command(self, joint_name, command):
        self.robot.gripper_efforts.append((joint_name, float(command)))


class Gripper:
    def __init__(self, robot, core, gripper_name):
        self.robot, self.core, self.gripper_name = robot, core, gripper_name

    def _drive(self, effort):
        # The limit timer runs only while robot_startup()'s thread spins.
        assert 'startup' in self.robot.events, 'gripper used before robot_startup()'
        self.core.robot_write_joint_command(self.gripper_name, effort)

    def release(self, delay=1.0):
        self._drive(250.0)

    def grasp(self, delay=1.0):
        self._drive(-250.0)


@pytest.fixture
def interbotix(monkeypatch):
    """Installs the stand-in modules; returns the robots built by the script."""
    robots = []

    class InterbotixManipulatorXS:
        def __init__(self, robot_model, group_name='arm', gripper_name='gripper',
                     robot_name=None, moving_time=2.0, accel_time=0.3, **kwargs):
            robot = Robot(robot_model)
            robots.append(robot)
            self.core = Core(robot)
            self.arm = Arm(robot, moving_time, accel_time)
            self.gripper = Gripper(robot, self.core, gripper_name)

    def robot_startup(node=None):
        robots[-1].events.append('startup')

    def robot_shutdown(node=None):
        robots[-1].events.append('shutdown')

    arm_module = types.ModuleType('interbotix_xs_modules.xs_robot.arm')
    arm_module.InterbotixManipulatorXS = InterbotixManipulatorXS
    robot_module = types.ModuleType('interbotix_common_modules.common_robot.robot')
    robot_module.robot_startup, robot_module.robot_shutdown = robot_startup, robot_shutdown
    modules = {name: types.ModuleType(name) for name in (
        'interbotix_xs_modules', 'interbotix_xs_modules.xs_robot', 'interbotix_common_modules',
        'interbotix_common_modules.common_robot')}
    modules['interbotix_xs_modules.xs_robot.arm'] = arm_module
    modules['interbotix_common_modules.common_robot.robot'] = robot_module
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return robots


@pytest.mark.parametrize('model', ['wx250s', 'wx250'])
def test_the_slow_move_runs_at_the_requested_moving_time(interbotix, capsys, model):
    assert arm_setup.main(['--robot-model', model, '--moving-time', '2']) == 0
    (robot,) = interbotix
    ((goal, profile_ms),) = robot.moves
    np.testing.assert_allclose(goal, WidowXKinematics(model).neutral)
    assert profile_ms == 2000                    # written, not the driver's 250 ms
    # Back to Bridge's profile for the policy node, as config/modes.yaml sets it.
    assert robot.registers == {'Profile_Velocity': 250, 'Profile_Acceleration': 100}
    assert robot.events == ['startup', 'shutdown']
    assert robot.gripper_efforts == [('gripper', 250.0), ('gripper', 0.0)]
    assert 'moved to the neutral joints' in capsys.readouterr().out


def test_a_refused_move_is_an_error_and_the_profile_is_restored(interbotix, capsys):
    # 0.3 s is too fast for the shoulder from the sleep pose (1.1 rad): the module refuses.
    assert arm_setup.main(['--moving-time', '0.3']) == 2
    (robot,) = interbotix
    assert robot.moves == []
    assert 'error: the Interbotix arm module refused' in capsys.readouterr().err
    assert robot.registers == {'Profile_Velocity': 250, 'Profile_Acceleration': 100}
    assert robot.events == ['startup', 'shutdown']


@pytest.mark.parametrize('pose, gripper', [('home', 'close'), ('sleep', 'none'),
                                           ('none', 'open')])
def test_other_poses_and_gripper_options(interbotix, pose, gripper):
    assert arm_setup.main(['--pose', pose, '--gripper', gripper, '--moving-time', '3']) == 0
    (robot,) = interbotix
    if pose == 'none':
        assert robot.moves == []
    else:
        ((_, profile_ms),) = robot.moves
        assert profile_ms == 3000
    expected = {'close': [-250.0, 0.0], 'open': [250.0, 0.0], 'none': []}[gripper]
    assert [e for _, e in robot.gripper_efforts] == expected
    assert robot.registers['Profile_Velocity'] == 250


def test_no_bridge_profile_leaves_the_slow_profile(interbotix):
    assert arm_setup.main(['--no-bridge-profile', '--gripper', 'none']) == 0
    (robot,) = interbotix
    assert robot.registers == {'Profile_Velocity': 2000, 'Profile_Acceleration': 500}


def test_ros_arguments_are_ignored():
    args, extra = arm_setup.build_parser().parse_known_args(
        ['--pose', 'home', '--ros-args', '-r', 'x'])
    assert args.pose == 'home' and '--ros-args' in extra
