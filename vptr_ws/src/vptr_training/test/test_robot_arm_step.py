"""The shared arm step (robot/arm_step.py) with the safety filter (robot/safety.py):
non-finite actions hold before IK, and a fuzz of 10^5 actions (huge and non-finite ones
included) never yields a command outside the joint limits, the per-step limit or the
workspace box."""
import numpy as np
import pytest
from vptr_training.robot import conventions, safety
from vptr_training.robot.arm_step import bridge_arm_step
from vptr_training.robot.kinematics import WidowXKinematics
from vptr_training.robot.safety import SafetyLimits

STEP_TIME = 0.2
LOW = np.asarray(conventions.WORKSPACE_LOW, dtype=np.float64)
HIGH = np.asarray(conventions.WORKSPACE_HIGH, dtype=np.float64)


def start(kin):
    limits = SafetyLimits.from_kinematics(kin, STEP_TIME, LOW, HIGH)
    q = np.asarray(kin.neutral, dtype=np.float64)
    target = conventions.pose_to_state6(kin.fk(q))
    target[:3] = np.clip(target[:3], LOW, HIGH)
    return limits, q, np.asarray(target, dtype=np.float64)


@pytest.mark.parametrize('model', ['wx250s', 'wx250'])
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_a_non_finite_action_holds_before_ik(model, bad):
    kin = WidowXKinematics(model)
    limits, q, target = start(kin)
    for index in (0, 3, 6):
        action = np.array([0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        action[index] = bad
        step = bridge_arm_step(kin, target, action, q, limits)   # no LinAlgError
        assert step.joints is None and 'non-finite' in step.reason
        np.testing.assert_array_equal(step.target, target)
    step = bridge_arm_step(kin, np.full(6, np.nan), np.zeros(7), q, limits)
    assert step.joints is None


def fuzz_actions(rng, n):
    """Mostly in-range actions, then huge and non-finite ones in every dimension."""
    actions = rng.uniform(conventions.ACTION_LOW, conventions.ACTION_HIGH, (n, 7))
    kind = rng.integers(0, 5, n)
    huge = 10.0 ** rng.uniform(0, 300, (n, 7)) * rng.choice([-1.0, 1.0], (n, 7))
    which = rng.random((n, 7)) < 0.3
    actions[(kind == 1)[:, None] & which] = huge[(kind == 1)[:, None] & which]
    specials = rng.choice([np.nan, np.inf, -np.inf], (n, 7))
    actions[(kind == 2)[:, None] & which] = specials[(kind == 2)[:, None] & which]
    actions[kind == 3] *= 20.0                      # beyond the action bounds, finite
    return actions


@pytest.mark.timeout(900)
@pytest.mark.parametrize('model, count', [('wx250s', 60_000), ('wx250', 40_000)])
def test_fuzzed_actions_never_leave_the_limits(model, count):
    # The node-equivalent path: the commanded joints become the next measurement (a stiff
    # arm), a reset to neutral every 50 steps keeps the start states varied.
    kin = WidowXKinematics(model)
    limits, q0, target0 = start(kin)
    rng = np.random.default_rng(0 if model == 'wx250s' else 1)
    actions = fuzz_actions(rng, count)
    q, target = q0.copy(), target0.copy()
    sent = 0
    margin = limits.workspace_margin + 1e-9
    for i, action in enumerate(actions):
        if i % 50 == 0:
            q, target = q0.copy(), target0.copy()
        step = bridge_arm_step(kin, target, action, q, limits)
        target = step.target
        assert np.all(np.isfinite(target))
        if step.joints is None:
            continue
        sent += 1
        cmd = step.joints
        assert np.all(np.isfinite(cmd))
        assert np.all(cmd >= limits.lower - 1e-12) and np.all(cmd <= limits.upper + 1e-12)
        assert np.all(np.abs(cmd - q) <= limits.max_step + 1e-9)
        xyz = kin.fk(cmd)[:3, 3]
        assert np.all(xyz >= LOW - margin) and np.all(xyz <= HIGH + margin), (i, xyz)
        q = cmd
    assert sent > count // 3                         # most steps did command the arm


def test_safety_says_its_step_limit_is_the_only_one():
    doc = safety.__doc__
    assert 'driver itself rejects' not in doc
    assert 'only speed limit between the policy and the motors' in ' '.join(doc.split())
