"""Each rule of the safety filter, alone and through filter_command."""
import numpy as np
import pytest
from vptr_training.robot.kinematics import WidowXKinematics
from vptr_training.robot.safety import (all_finite, clamp_to_joint_limits, clip_to_workspace,
                                        filter_command, in_workspace, limit_joint_step,
                                        SafetyLimits)

KIN = WidowXKinematics('wx250s')
LOW = np.array([0.1, -0.15, -0.01])
HIGH = np.array([0.45, 0.25, 0.25])


def limits(**kwargs):
    return SafetyLimits.from_kinematics(KIN, 0.2, LOW, HIGH, **kwargs)


def fk_xyz(q):
    return KIN.fk(q)[:3, 3]


def test_limits_from_kinematics_use_velocity_times_step():
    lim = limits()
    np.testing.assert_allclose(lim.max_step, np.full(6, np.pi * 0.2))
    np.testing.assert_allclose(limits(max_joint_step=0.1).max_step, np.full(6, 0.1))
    # A configured step above the velocity limit cannot loosen the limit.
    np.testing.assert_allclose(limits(max_joint_step=5.0).max_step, np.full(6, np.pi * 0.2))


def test_non_finite_values_hold():
    q = KIN.neutral.copy()
    assert all_finite(q, q)
    for bad in (np.nan, np.inf, -np.inf):
        cmd = q.copy()
        cmd[2] = bad
        verdict = filter_command(cmd, q, limits(), ee_position=fk_xyz)
        assert verdict.joints is None and 'non-finite' in verdict.reason
        verdict = filter_command(q, cmd, limits(), ee_position=fk_xyz)
        assert verdict.joints is None


def test_joint_limits_clamp_each_joint():
    q = np.array([4.0, -3.0, 2.0, 0.0, -2.5, 0.1])
    clamped, changed = clamp_to_joint_limits(q, KIN.lower, KIN.upper)
    assert changed
    np.testing.assert_allclose(clamped, np.clip(q, KIN.lower, KIN.upper))
    assert np.all(clamped >= KIN.lower) and np.all(clamped <= KIN.upper)
    same, changed = clamp_to_joint_limits(KIN.neutral, KIN.lower, KIN.upper)
    assert not changed
    np.testing.assert_array_equal(same, KIN.neutral)


def test_step_limit_scales_whole_step_uniformly():
    q_meas = np.zeros(6)
    q_cmd = np.array([1.0, 0.2, -0.1, 0.0, 0.0, 0.0])
    max_step = np.full(6, 0.25)
    q, scale = limit_joint_step(q_cmd, q_meas, max_step)
    assert scale == pytest.approx(0.25)
    np.testing.assert_allclose(q, q_cmd * 0.25)          # same direction, every joint scaled
    assert np.max(np.abs(q - q_meas)) <= 0.25 + 1e-12
    q, scale = limit_joint_step(q_meas + 0.1, q_meas, max_step)
    assert scale == 1.0
    np.testing.assert_allclose(q, q_meas + 0.1)


def test_workspace_box_rule():
    assert in_workspace([0.3, 0.0, 0.1], LOW, HIGH)
    assert not in_workspace([0.5, 0.0, 0.1], LOW, HIGH)
    assert in_workspace([0.46, 0.0, 0.1], LOW, HIGH, margin=0.02)
    np.testing.assert_allclose(clip_to_workspace([0.6, -0.3, 0.1], LOW, HIGH), [0.45, -0.15, 0.1])
    # The all-zero joint pose puts the EE at x=0.458, z=0.36: above the box -> hold.
    verdict = filter_command(np.zeros(6), np.zeros(6), limits(), ee_position=fk_xyz)
    assert verdict.joints is None and 'workspace' in verdict.reason
    # Homing skips the workspace rule (it goes to a fixed known-safe pose).
    verdict = filter_command(np.zeros(6), np.zeros(6), limits(), ee_position=fk_xyz,
                             check_workspace=False)
    np.testing.assert_allclose(verdict.joints, np.zeros(6))


def test_filter_command_combines_rules():
    q_meas = KIN.neutral.copy()
    q_cmd = q_meas.copy()
    q_cmd[0] += 0.9       # waist: well beyond pi * 0.2 per step
    verdict = filter_command(q_cmd, q_meas, limits(), ee_position=fk_xyz)
    assert verdict.joints is not None
    assert verdict.scale == pytest.approx(np.pi * 0.2 / 0.9)
    assert 'scaled' in verdict.reason
    assert np.max(np.abs(verdict.joints - q_meas)) <= np.pi * 0.2 + 1e-9
    clean = filter_command(q_meas + 0.01, q_meas, limits(), ee_position=fk_xyz)
    assert clean.reason == '' and clean.scale == 1.0


def test_scaled_step_is_checked_again():
    box = SafetyLimits(lower=np.full(3, -1.0), upper=np.full(3, 1.0), max_step=np.full(3, 0.1),
                       workspace_low=np.zeros(3), workspace_high=np.ones(3),
                       workspace_margin=0.0)
    # From measured joints outside the limits, the scaled command is clamped back in.
    verdict = filter_command(np.array([0.5, 0.5, 0.5]), np.array([1.3, 0.5, 0.5]), box)
    assert verdict.scale < 1.0 and np.all(verdict.joints <= 1.0)
    # A detour: both ends map inside the box, the scaled command does not -> hold.
    def bulge(q):  # noqa: E306 - a non-linear "forward kinematics" for the test
        return np.array([q[0], q[1], q[2] + 3.0 * np.sin(np.pi * q[0])])
    verdict = filter_command(np.array([1.0, 0.5, 0.2]), np.array([0.0, 0.5, 0.2]), box,
                             ee_position=bulge)
    assert verdict.joints is None and 'velocity-limited step' in verdict.reason
    # From outside the box, a scaled step that brings the end effector closer is allowed.
    verdict = filter_command(np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.5, 0.9]), box,
                             ee_position=lambda q: q + np.array([0.0, 0.0, 0.3]))
    assert verdict.joints is not None and verdict.scale < 1.0
