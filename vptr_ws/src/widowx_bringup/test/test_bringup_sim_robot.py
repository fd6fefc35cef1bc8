"""SimRobot (driver facade over the MuJoCo WidowX) and closed loops through the controller."""
from types import SimpleNamespace

import numpy as np
import pytest
from vptr_training.sim.env import WidowXSimEnv
from vptr_training.sim.experts import make_expert
from widowx_bringup.arm_control import ArmController, ControllerConfig
from widowx_bringup.sim_robot import (finger_to_gripper_angle, GRIPPER_ARM_LENGTH,
                                      GRIPPER_HORN_RADIUS, SimRobot)

TASK = 'put_carrot_on_plate'


@pytest.fixture(scope='module')
def env():
    env = WidowXSimEnv(TASK, render=False, seed=0)
    yield env
    env.close()


def test_joint_state_has_driver_names_and_order(env):
    robot = SimRobot(env)
    robot.reset(seed=0)
    state = robot.joint_state()
    assert state.names == ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle',
                           'wrist_rotate', 'gripper', 'left_finger', 'right_finger']
    np.testing.assert_allclose(state.positions[:6], env.joint_positions())
    left, right = env.finger_positions()
    assert state.positions[7] == pytest.approx(left) and state.positions[8] == right
    assert right < 0 < left
    assert all(isinstance(v, float) for v in state.positions + state.velocities)


def test_arm_group_command_moves_the_arm(env):
    robot = SimRobot(env)
    robot.reset(seed=0)
    goal = env.joint_positions() + np.array([0.2, -0.1, 0.1, 0.0, 0.1, 0.3])
    assert robot.apply_joint_group('arm', goal.astype(np.float32).tolist()) == ''
    robot.advance(1.0)
    np.testing.assert_allclose(env.joint_positions(), goal, atol=0.02)
    assert robot.sim_time == pytest.approx(1.0)


def test_bad_commands_are_ignored_with_a_reason(env):
    robot = SimRobot(env)
    robot.reset(seed=0)
    before = robot.arm_goal
    assert 'expected 6' in robot.apply_joint_group('arm', [0.0] * 5)
    assert 'unknown joint group' in robot.apply_joint_group('all', [0.0] * 6)
    assert 'not finite' in robot.apply_joint_group('arm', [np.nan] * 6)
    assert 'unknown joint' in robot.apply_joint_single('elbow_2', 0.1)
    np.testing.assert_array_equal(robot.arm_goal, before)


def test_gripper_pwm_sign_opens_and_closes(env):
    robot = SimRobot(env)
    robot.reset(seed=0)
    assert robot.apply_joint_single('gripper', -250.0) == ''
    robot.advance(0.5)
    closed = env.finger_positions()[0]
    assert not robot.gripper_open and closed < 0.02
    assert robot.apply_joint_single('gripper', 0.0) == ''      # zero effort: no change
    assert not robot.gripper_open
    robot.apply_joint_single('gripper', 250.0)
    robot.advance(0.5)
    assert robot.gripper_open and env.finger_positions()[0] > 0.03


def test_single_arm_joint_command(env):
    robot = SimRobot(env)
    robot.reset(seed=0)
    robot.apply_joint_single('waist', 0.4)
    robot.advance(0.6)
    assert env.joint_positions()[0] == pytest.approx(0.4, abs=0.02)


def test_gripper_angle_inverts_the_driver_linkage():
    r, length = GRIPPER_HORN_RADIUS, GRIPPER_ARM_LENGTH
    for angle in (-0.9, -0.3, 0.0, 0.4, 1.0):
        finger = r * np.sin(angle) + np.sqrt(length ** 2 - (r * np.cos(angle)) ** 2)
        assert finger_to_gripper_angle(finger) == pytest.approx(angle, abs=1e-6)
    angles = [finger_to_gripper_angle(f) for f in np.linspace(0.015, 0.037, 12)]
    assert np.all(np.diff(angles) > 0)


class ExpertAsPolicy:
    """The scripted expert plugged in where the learned policy goes (it ignores pixels)."""

    def __init__(self, expert):
        self.expert = expert
        self.spec = SimpleNamespace(task_names=[TASK], image_size=64, control_hz=5.0)

    def act(self, image, state, task):
        return self.expert(None)


def run_direct(seed, max_steps=40):
    env = WidowXSimEnv(TASK, render=False, seed=seed)
    obs, _ = env.reset(seed=seed)
    expert = make_expert(env, seed=seed)
    for t in range(max_steps):
        obs, _, _, _, info = env.step(expert(obs))
        if info['success']:
            return True, t
    return False, max_steps


def run_through_controller(seed, max_steps=40):
    """The nodes' path, without ROS: joint states -> controller -> driver commands."""
    env = WidowXSimEnv(TASK, render=False, seed=seed)
    robot = SimRobot(env)
    robot.reset(seed=seed)
    ctrl = ArmController(ExpertAsPolicy(make_expert(env, seed=seed)), env.kin,
                         ControllerConfig(task=TASK))
    ctrl.start()
    image = np.zeros((48, 64, 3), np.uint8)
    for t in range(max_steps):
        now = robot.sim_time
        state = robot.joint_state()
        result = ctrl.step(image, now, np.array(state.positions[:6]), state.positions[7],
                           now, now)
        if result.arm_cmd is not None:
            robot.apply_joint_group('arm', [float(v) for v in result.arm_cmd])
        if result.gripper_cmd is not None:
            robot.apply_joint_single('gripper', 250.0 if result.gripper_cmd else -250.0)
        robot.advance(0.2)
        if robot.success():
            return True, t
    return False, max_steps


def test_scripted_expert_through_the_controller_matches_env_step():
    seeds = range(3)
    direct = [run_direct(s) for s in seeds]
    controlled = [run_through_controller(s) for s in seeds]
    assert all(success for success, _ in direct)
    assert [s for s, _ in controlled] == [s for s, _ in direct]
    # Same controller conventions on both paths: the episodes take the same number of steps.
    assert [t for _, t in controlled] == [t for _, t in direct]
