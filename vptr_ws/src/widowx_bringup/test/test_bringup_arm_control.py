"""ArmController (the controller of every arm-driving node): target integration, IK,
watchdog, transitions, gripper (no ROS). vptr_policy's PolicyController extends it."""
from types import SimpleNamespace

import numpy as np
import pytest
from vptr_training.errors import ConfigError
from vptr_training.robot import conventions
from vptr_training.robot.kinematics import WidowXKinematics
from widowx_bringup.arm_control import (ArmController, controller_kinematics, ControllerConfig,
                                        MODE_HOMING, MODE_PAUSED, MODE_RUNNING)

KIN = WidowXKinematics('wx250s')
NOW = 1000.0
IMAGE = np.zeros((48, 64, 3), np.uint8)
FINGER_OPEN = 0.035


class ScriptedPolicy:
    """Stand-in for vptr_training.policy.Policy: returns queued actions, records inputs."""

    def __init__(self, action=None, task_names=('put_x_in_y',)):
        self.spec = SimpleNamespace(task_names=list(task_names), image_size=64, control_hz=5.0)
        self.action = np.zeros(7) if action is None else np.asarray(action, float)
        self.calls = []

    def act(self, image, state, task):
        self.calls.append((image, np.array(state), task))
        return self.action.copy()


def make(action=None, **config):
    policy = ScriptedPolicy(action)
    return ArmController(policy, KIN, ControllerConfig(task='put_x_in_y', **config)), policy


def step(ctrl, q, image_stamp=NOW - 0.05, joint_stamp=NOW - 0.01, now=NOW, image=IMAGE,
         finger=FINGER_OPEN):
    return ctrl.step(image, image_stamp, q, finger, joint_stamp, now)


def test_starts_paused_and_sends_nothing():
    ctrl, policy = make()
    assert ctrl.mode == MODE_PAUSED
    result = step(ctrl, KIN.neutral)
    assert result.arm_cmd is None and result.gripper_cmd is None
    assert result.reason == 'paused' and not policy.calls


def test_target_integrates_on_previous_target_not_measured_pose():
    action = np.array([0.01, -0.005, 0.0, 0.0, 0.0, 0.02, 1.0])
    ctrl, policy = make(action)
    ctrl.start()
    q = KIN.neutral.copy()
    measured6 = conventions.pose_to_state6(KIN.fk(q))
    first = step(ctrl, q)
    np.testing.assert_allclose(ctrl.target, conventions.integrate_target(measured6, action))
    assert first.arm_cmd is not None and first.reason == ''
    # The arm did not move (same measured joints): the next delta still adds to the target.
    step(ctrl, q)
    expected = conventions.integrate_target(conventions.integrate_target(measured6, action),
                                            action)
    np.testing.assert_allclose(ctrl.target, expected, atol=1e-12)
    # The command realises the target pose (IK seeded with the measured joints).
    second = step(ctrl, q)
    np.testing.assert_allclose(KIN.fk(second.arm_cmd)[:3, 3], ctrl.target[:3], atol=2e-3)
    # The policy saw the measured state, the image and the task.
    image, state, task = policy.calls[0]
    assert image is IMAGE and task == 'put_x_in_y'
    np.testing.assert_allclose(state, conventions.ee_state_from_joints(KIN, q, FINGER_OPEN),
                               atol=1e-6)


def test_closed_loop_follows_target_when_commands_are_executed():
    action = np.array([0.0, 0.02, -0.01, 0.0, 0.0, 0.0, 1.0])
    ctrl, _ = make(action)
    ctrl.start()
    q = KIN.neutral.copy()
    start_xyz = KIN.fk(q)[:3, 3]
    for _ in range(5):
        result = step(ctrl, q)
        assert result.arm_cmd is not None
        q = result.arm_cmd        # a perfect arm
    np.testing.assert_allclose(KIN.fk(q)[:3, 3] - start_xyz, [0.0, 0.1, -0.05], atol=3e-3)


def test_gripper_threshold():
    for value, expected in ((0.9, True), (0.51, True), (0.5, False), (0.1, False)):
        ctrl, _ = make([0, 0, 0, 0, 0, 0, value])
        ctrl.start()
        assert step(ctrl, KIN.neutral).gripper_cmd is expected
    ctrl, _ = make([0, 0, 0, 0, 0, 0, 0.6], gripper_threshold=0.7)
    ctrl.start()
    assert step(ctrl, KIN.neutral).gripper_cmd is False


@pytest.mark.parametrize('kwargs, reason', [
    (dict(image_stamp=NOW - 0.8), 'stale image'),
    (dict(joint_stamp=NOW - 0.8), 'stale joint state'),
    (dict(image_stamp=NOW + 5.0), 'stale image'),        # clocks disagree
    (dict(image=None), 'no image received'),
    (dict(q=None), 'no joint state received'),
])
def test_watchdog_refuses_stale_or_missing_data(kwargs, reason):
    ctrl, policy = make([0.01, 0, 0, 0, 0, 0, 1.0])
    ctrl.start()
    args = dict(q=KIN.neutral)
    args.update(kwargs)
    q = args.pop('q')
    result = step(ctrl, q, **args)
    assert result.arm_cmd is None and result.gripper_cmd is None
    assert reason in result.reason
    assert not policy.calls
    # Fresh data again -> commands resume.
    assert step(ctrl, KIN.neutral).arm_cmd is not None


def test_stale_timeout_is_configurable():
    ctrl, _ = make(stale_timeout=2.0)
    ctrl.start()
    assert step(ctrl, KIN.neutral, image_stamp=NOW - 1.5).arm_cmd is not None


def test_stop_pauses_and_start_resyncs_target():
    ctrl, _ = make([0.02, 0, 0, 0, 0, 0, 1.0])
    ctrl.start()
    step(ctrl, KIN.neutral)
    step(ctrl, KIN.neutral)
    ok, message = ctrl.stop()
    assert ok and ctrl.mode == MODE_PAUSED and ctrl.target is None
    assert step(ctrl, KIN.neutral).arm_cmd is None
    ctrl.start()
    assert ctrl.mode == MODE_RUNNING
    step(ctrl, KIN.neutral)
    measured6 = conventions.pose_to_state6(KIN.fk(KIN.neutral))
    np.testing.assert_allclose(ctrl.target[0], measured6[0] + 0.02)   # not + 0.06


def test_home_drives_to_neutral_with_limited_steps_then_pauses():
    ctrl, _ = make()
    ok, _ = ctrl.home()
    assert ok and ctrl.mode == MODE_HOMING
    q = KIN.neutral + np.array([1.2, 0.3, -0.4, 0.5, -0.3, 0.8])
    max_step = np.pi / 5.0
    for _ in range(20):
        result = step(ctrl, q, image=None)       # homing needs no image
        if ctrl.mode == MODE_PAUSED:
            break
        assert result.arm_cmd is not None and result.gripper_cmd is True
        assert np.max(np.abs(result.arm_cmd - q)) <= max_step + 1e-9
        q = result.arm_cmd
    assert ctrl.mode == MODE_PAUSED and 'home reached' in result.reason
    np.testing.assert_allclose(q, KIN.neutral, atol=0.02)


def test_non_finite_action_holds():
    ctrl, _ = make([np.nan, 0, 0, 0, 0, 0, 1.0])
    ctrl.start()
    result = step(ctrl, KIN.neutral)
    assert result.arm_cmd is None and 'bad action' in result.reason


def test_policy_exception_holds_instead_of_crashing():
    class BrokenPolicy(ScriptedPolicy):
        def act(self, image, state, task):
            raise RuntimeError('CUDA error: device lost')

    ctrl = ArmController(BrokenPolicy(), KIN, ControllerConfig(task='put_x_in_y'))
    ctrl.start()
    result = step(ctrl, KIN.neutral)
    assert result.arm_cmd is None and result.gripper_cmd is None
    assert 'policy failed: CUDA error' in result.reason and ctrl.mode == MODE_RUNNING


def test_large_joint_jump_is_scaled_not_sent():
    # Measured joints far from where IK wants to go: the step is velocity-limited.
    ctrl, _ = make([0.0, 0, 0, 0, 0, 0, 1.0])
    ctrl.start()
    step(ctrl, KIN.neutral)                      # target = neutral pose
    q_far = KIN.neutral + np.array([1.0, 0, 0, 0, 0, 0])
    result = step(ctrl, q_far)
    assert result.arm_cmd is not None and 'scaled' in result.reason
    assert np.max(np.abs(result.arm_cmd - q_far)) <= np.pi / 5.0 + 1e-9


class NoIKKinematics:
    """The wx250s kinematics with an IK that never converges (an unreachable target)."""

    def __init__(self, kin):
        self.kin = kin

    def __getattr__(self, name):
        return getattr(self.kin, name)

    def ik(self, pose, seed, **kwargs):
        return np.asarray(seed, dtype=np.float64), False


def test_ik_failure_skips_step_and_keeps_target():
    policy = ScriptedPolicy([0, 0, 0, 0.25, 0, 0, 0.0])
    ctrl = ArmController(policy, NoIKKinematics(KIN), ControllerConfig(task='put_x_in_y'))
    ctrl.start()
    result = step(ctrl, KIN.neutral)
    assert result.arm_cmd is None and 'IK failed' in result.reason
    assert result.gripper_cmd is False
    measured6 = conventions.pose_to_state6(KIN.fk(KIN.neutral))
    np.testing.assert_allclose(ctrl.target, measured6)


def test_five_dof_wx250_follows_the_nearest_reachable_pose():
    # Without the projection a 1 cm step in y from the neutral pose has no 5-DoF IK solution
    # (y needs the waist, which turns the gripper), and nearly every step would be skipped.
    kin5 = WidowXKinematics('wx250')
    target = conventions.pose_to_state6(kin5.fk(kin5.neutral))
    target[1] += 0.01
    assert not kin5.ik(conventions.state6_to_pose(target), kin5.neutral)[1]
    # With it, the controller follows dy and droll steps with 5-joint commands.
    action = np.array([0.0, 0.01, 0.0, 0.05, 0.0, 0.0, 1.0])
    ctrl = ArmController(ScriptedPolicy(action), kin5, ControllerConfig(task='put_x_in_y'))
    ctrl.start()
    q = kin5.neutral.copy()
    start_y = kin5.fk(q)[1, 3]
    for _ in range(8):
        result = ctrl.step(IMAGE, NOW - 0.05, q, FINGER_OPEN, NOW - 0.01, NOW)
        assert result.arm_cmd is not None and result.arm_cmd.shape == (5,), result.reason
        q = result.arm_cmd
        pose = kin5.fk(q)
        # the commanded pose is the (projected) target: same position, gripper in the plane
        np.testing.assert_allclose(pose[:3, 3], ctrl.target[:3], atol=2e-3)
        np.testing.assert_allclose(kin5.closest_reachable_pose(pose), pose, atol=1e-9)
    assert kin5.fk(q)[1, 3] - start_y == pytest.approx(0.08, abs=4e-3)
    assert controller_kinematics('wx250').num_joints == 5
    with pytest.raises(ConfigError, match='robot_model'):
        controller_kinematics('wx200')
    assert controller_kinematics('wx250s').num_joints == 6


def test_ik_round_trip_over_the_workspace():
    # Reachable targets spread over the workspace box: FK of random joint configurations
    # around the neutral pose whose end effector lands in the box. IK is seeded as in the
    # controller: with measured joints near the solution (here up to 0.2 rad off per joint).
    rng = np.random.default_rng(0)
    checked = 0
    while checked < 40:
        q_true = KIN.neutral + rng.uniform(-0.6, 0.6, 6)
        q_true = np.clip(q_true, KIN.lower, KIN.upper)
        T = KIN.fk(q_true)
        if not np.all((T[:3, 3] >= conventions.WORKSPACE_LOW)
                      & (T[:3, 3] <= conventions.WORKSPACE_HIGH)):
            continue
        q, ok = KIN.ik(T, q_true + rng.uniform(-0.2, 0.2, 6))
        assert ok, q_true
        np.testing.assert_allclose(KIN.fk(q), T, atol=2e-3)
        checked += 1


def test_ik_fails_on_unreachable_pose():
    T = conventions.state6_to_pose(np.array([0.9, 0.0, 0.1, 0.0, 0.0, 0.0]))
    _, ok = KIN.ik(T, KIN.neutral)
    assert not ok


def test_a_larger_configured_workspace_lets_the_target_leave_bridges_box():
    high = np.array(conventions.WORKSPACE_HIGH, dtype=float) + [0.0, 0.0, 0.06]
    ctrl, _ = make([0, 0, 0.05, 0, 0, 0, 1.0], workspace_high=high)
    ctrl.start()
    q = KIN.neutral
    for _ in range(8):
        result = step(ctrl, q)
        q = result.arm_cmd if result.arm_cmd is not None else q
    assert ctrl.target[2] == pytest.approx(high[2])
    assert ctrl.target[2] > conventions.WORKSPACE_HIGH[2] + 0.05


def test_workspace_box_of_the_config_clips_the_target():
    ctrl, _ = make([0.05, 0, 0, 0, 0, 0, 1.0], workspace_high=np.array([0.3, 0.25, 0.25]))
    ctrl.start()
    q = KIN.neutral
    for _ in range(6):
        result = step(ctrl, q)
        q = result.arm_cmd if result.arm_cmd is not None else q
    assert ctrl.target[0] == pytest.approx(0.3)
    assert KIN.fk(q)[0, 3] <= 0.3 + 3e-3
