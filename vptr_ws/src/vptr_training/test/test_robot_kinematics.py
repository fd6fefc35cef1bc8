"""WidowX kinematics and Bridge conventions: FK reference points, IK round trips, states."""
import math

import numpy as np
import pytest

from vptr_training.robot import conventions as C
from vptr_training.robot.image import center_crop_resize_video, squash_resize
from vptr_training.robot.kinematics import WidowXKinematics


def test_fk_home_pose_matches_interbotix():
    kin = WidowXKinematics('wx250s')
    np.testing.assert_allclose(kin.fk(np.zeros(6))[:3, 3], [0.458325, 0.0, 0.36065])
    np.testing.assert_allclose(kin.fk(np.zeros(6))[:3, :3], np.eye(3))


def test_fk_single_joint_rotations_by_hand():
    kin = WidowXKinematics('wx250s')
    # Waist by +90 deg swings the EE from +x to +y.
    np.testing.assert_allclose(kin.fk([math.pi / 2, 0, 0, 0, 0, 0])[:3, 3],
                               [0.0, 0.458325, 0.36065], atol=1e-12)
    # Shoulder by +90 deg (about +y at height 0.11065) points the arm down: the EE ends at
    # x = 0.36065 - 0.11065 = 0.25, z = 0.11065 - 0.458325.
    np.testing.assert_allclose(kin.fk([0, math.pi / 2, 0, 0, 0, 0])[:3, 3],
                               [0.25, 0.0, 0.11065 - 0.458325], atol=1e-12)
    # Forearm roll does not move the EE position (its axis runs through the EE).
    np.testing.assert_allclose(kin.fk([0, 0, 0, 1.0, 0, 0])[:3, 3], [0.458325, 0, 0.36065],
                               atol=1e-12)


@pytest.mark.parametrize('model', ['wx250s', 'wx250'])
def test_fk_equals_the_product_of_matrix_exponentials(model):
    """The hand-unrolled kernel against the textbook formula T = prod e^[S_i] q_i M, with a
    general matrix exponential, over the whole joint range."""
    from scipy.linalg import expm
    kin = WidowXKinematics(model)
    rng = np.random.default_rng(3)
    for _ in range(50):
        q = rng.uniform(kin.lower, kin.upper)
        T = np.eye(4)
        for screw, angle in zip(kin.screws, q):
            twist = np.zeros((4, 4))
            w, v = screw[:3], screw[3:]
            twist[:3, :3] = [[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]]
            twist[:3, 3] = v
            T = T @ expm(twist * angle)
        np.testing.assert_allclose(kin.fk(q), T @ kin.home_pose, atol=1e-12)


def test_space_jacobian_matches_finite_differences():
    kin = WidowXKinematics('wx250s')
    q = np.array([0.2, -0.3, 0.4, 0.1, 0.8, -0.2])
    jac = kin.space_jacobian(q)
    eps = 1e-6
    for i in range(6):
        dq = np.zeros(6)
        dq[i] = eps
        dT = (kin.fk(q + dq) - kin.fk(q - dq)) / (2 * eps) @ np.linalg.inv(kin.fk(q))
        twist = np.array([dT[2, 1], dT[0, 2], dT[1, 0], dT[0, 3], dT[1, 3], dT[2, 3]])
        np.testing.assert_allclose(jac[:, i], twist, atol=1e-6)


@pytest.mark.parametrize('model', ['wx250s', 'wx250'])
def test_ik_round_trip_over_workspace(model):
    kin = WidowXKinematics(model)
    rng = np.random.default_rng(0)
    solved = 0
    for _ in range(200):
        q_true = rng.uniform(kin.lower * 0.6, kin.upper * 0.6)
        seed = q_true + rng.normal(0.0, 0.1, kin.num_joints)
        target = kin.fk(q_true)
        q, ok = kin.ik(target, seed)
        if ok:
            solved += 1
            np.testing.assert_allclose(kin.fk(q)[:3, 3], target[:3, 3], atol=2e-3)
            assert kin.within_limits(q)
    assert solved >= 190


def test_closest_reachable_pose_projects_six_d_targets_for_the_five_dof_arm():
    kin5, kin6 = WidowXKinematics('wx250'), WidowXKinematics('wx250s')
    rng = np.random.default_rng(4)
    solved = 0
    for _ in range(100):
        q6 = rng.uniform(kin6.lower * 0.5, kin6.upper * 0.5)
        target = kin6.fk(q6)                       # any 6-D pose, generally not 5-DoF
        np.testing.assert_array_equal(kin6.closest_reachable_pose(target), target)
        # a pose the wx250 reaches is left alone
        reachable = kin5.fk(np.delete(q6, 3))
        np.testing.assert_allclose(kin5.closest_reachable_pose(reachable), reachable,
                                   atol=1e-12)
        projected = kin5.closest_reachable_pose(target)
        np.testing.assert_allclose(projected[:3, 3], target[:3, 3])
        rotation = projected[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        # the gripper's pointing axis lies in the vertical plane through the base and EE
        plane_normal = np.array([-target[1, 3], target[0, 3], 0.0])
        assert abs(rotation[:, 0] @ plane_normal) < 1e-9
        q, ok = kin5.ik(projected, np.delete(q6, 3))
        if ok:
            solved += 1
            np.testing.assert_allclose(kin5.fk(q)[:3, 3], target[:3, 3], atol=2e-3)
    assert solved >= 90


def test_ik_reports_failure_on_unreachable_pose():
    kin = WidowXKinematics('wx250s')
    far = np.eye(4)
    far[:3, 3] = [1.5, 0.0, 0.3]  # three times the arm's reach
    q, ok = kin.ik(far, kin.neutral)
    assert not ok


def test_unknown_model_and_wrong_joint_count():
    with pytest.raises(ValueError, match='unknown WidowX model'):
        WidowXKinematics('px100')
    with pytest.raises(ValueError, match='6 joints'):
        WidowXKinematics('wx250s').fk(np.zeros(5))


def test_state_orientation_zero_means_gripper_down():
    T = C.state6_to_pose(np.array([0.3, 0.0, 0.15, 0.0, 0.0, 0.0]))
    # The gripper's approach axis (EE x) points down.
    np.testing.assert_allclose(T[:3, 0], [0, 0, -1], atol=1e-12)
    rpy = np.array([0.3, -0.4, 1.2])
    np.testing.assert_allclose(C.pose_to_state6(C.state6_to_pose(np.r_[0.1, 0.2, 0.3, rpy])),
                               np.r_[0.1, 0.2, 0.3, rpy], atol=1e-12)


def test_reset_pose_is_reachable_and_ee_state_matches():
    kin = WidowXKinematics('wx250s')
    q, ok = kin.ik(C.state6_to_pose(C.RESET_STATE6), kin.neutral)
    assert ok
    state = C.ee_state_from_joints(kin, q, left_finger=0.037)
    np.testing.assert_allclose(state[:6], C.RESET_STATE6, atol=1e-3)
    assert state[6] == 1.0


def test_action_scaling_round_trip_and_clipping():
    raw = np.array([0.01, -0.05, 0.05, 0.1, -0.25, 0.0, 1.0], dtype=np.float32)
    scaled = C.scale_action(raw)
    assert scaled.min() >= -1 and scaled.max() <= 1
    np.testing.assert_allclose(C.unscale_action(scaled), raw, atol=1e-6)
    np.testing.assert_allclose(C.scale_action(np.full(7, 9.0)), np.ones(7))


def test_gripper_opening_from_fingers():
    assert C.gripper_opening(0.035) == pytest.approx(1.0)
    assert C.gripper_opening(0.0225) == pytest.approx(0.5)
    assert C.gripper_opening(0.015) == pytest.approx(0.2)
    assert C.gripper_opening(0.001) == 0.0


def test_integrate_target_adds_to_previous_target_and_clips_workspace():
    target = np.array([0.3, 0.0, 0.15, 0.0, 0.0, 3.1])
    new = C.integrate_target(target, np.array([0.01, -0.02, 0.03, 0.1, 0.0, 0.1, 1.0]))
    np.testing.assert_allclose(new[:5], [0.31, -0.02, 0.18, 0.1, 0.0])
    assert new[5] == pytest.approx(3.2 - 2 * math.pi)  # wrapped
    edge = C.integrate_target(np.array([0.45, 0.0, 0.25, 0, 0, 0]), np.full(7, 0.05))
    np.testing.assert_allclose(edge[:3], [0.45, 0.05, 0.25])


def test_relabelled_actions_replay_the_states():
    rng = np.random.default_rng(1)
    states = np.zeros((6, 7))
    states[0, :6] = C.RESET_STATE6
    for t in range(1, 6):
        states[t, :6] = states[t - 1, :6] + rng.uniform(-0.02, 0.02, 6)
    states[:, 6] = [1.0, 1.0, 0.6, 0.3, 0.3, 0.3]  # closes onto an object and holds it
    actions = C.relabel_actions_from_states(states)
    assert actions.shape == (5, 7)
    target = states[0, :6]
    for t in range(5):
        target = C.integrate_target(target, actions[t])
        np.testing.assert_allclose(target, states[t + 1, :6], atol=1e-6)
    np.testing.assert_array_equal(actions[:, 6], [1, 0, 0, 0, 0])


def test_binarize_gripper_rules():
    np.testing.assert_array_equal(C.binarize_gripper([1.0, 0.5, 0.0, 0.5, 1.0]), [1, 0, 0, 1, 1])
    np.testing.assert_array_equal(C.binarize_gripper([0.0, 0.3, 0.6]), [0, 1, 1])  # opening


def test_ptr_rewards():
    rewards, terminals = C.ptr_rewards(5, success=True)
    np.testing.assert_array_equal(rewards, [-1, -1, 10, 10, 10])
    np.testing.assert_array_equal(terminals, [0, 0, 1, 1, 1])
    rewards, terminals = C.ptr_rewards(4, success=False)
    np.testing.assert_array_equal(rewards, [-1] * 4)
    assert terminals.sum() == 0


def test_squash_resize_keeps_full_frame_and_is_deterministic():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :320] = 255  # left half white: squashing keeps it the left half
    out = squash_resize(frame, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[:, :31].min() == 255 and out[:, 33:].max() == 0
    np.testing.assert_array_equal(out, squash_resize(frame.copy(), 64))
    with pytest.raises(ValueError, match='RGB uint8'):
        squash_resize(frame.astype(np.float32), 64)


def test_video_crop_takes_the_centre():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :100] = 255  # a white strip at the far left is cropped away
    assert center_crop_resize_video(frame, 32).max() == 0


def test_bridge_arm_step_scales_big_steps_and_holds_on_ik_failure():
    from vptr_training.robot.arm_step import bridge_arm_step
    from vptr_training.robot.safety import SafetyLimits
    kin = WidowXKinematics('wx250s')
    limits = SafetyLimits.from_kinematics(kin, 0.2, C.WORKSPACE_LOW, C.WORKSPACE_HIGH)
    q = kin.neutral.copy()
    target = C.pose_to_state6(kin.fk(q))
    small = bridge_arm_step(kin, target, np.array([0.01, 0, 0, 0, 0, 0, 1.0]), q, limits)
    assert small.ik_ok and small.scale == 1.0 and small.reason == ''
    np.testing.assert_allclose(kin.fk(small.joints)[:3, 3], small.target[:3], atol=2e-3)
    # a target 0.9 rad of waist away (an arm that lagged behind its target) needs more than
    # pi rad/s x 0.2 s: the step is scaled down and the target kept (the next step continues)
    q_far = q.copy()
    q_far[0] += 0.9
    lagging = C.pose_to_state6(kin.fk(q_far))
    big = bridge_arm_step(kin, lagging, np.array([0, 0, 0, 0, 0, 0, 1.0]), q, limits)
    assert big.joints is not None and big.scale < 0.8 and 'scaled' in big.reason
    assert np.max(np.abs(big.joints - q)) == pytest.approx(np.pi * 0.2)
    # the target advanced to the (workspace-clipped) goal, not to the scaled command
    np.testing.assert_allclose(big.target, C.integrate_target(lagging, np.zeros(7)))
    # no IK solution: nothing to send, the target does not move
    far = np.array(target)
    far[4] += 3.0
    held = bridge_arm_step(kin, far, np.zeros(7), q, limits)
    assert held.joints is None and not held.ik_ok and 'IK failed' in held.reason
    np.testing.assert_array_equal(held.target, far)
