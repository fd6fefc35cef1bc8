"""The safety filter between IK and the arm: pure functions, no ROS, no state.

Rules, applied in this order by `filter_command` (each is also usable alone):
1. Non-finite input (NaN/inf in the commanded joints, the measured joints or the EE target)
   -> hold: no command at all. Holding is safe because the Interbotix driver keeps the last
   position goal.
2. Workspace box: the commanded joints' end-effector position must lie in the workspace box
   (grown by `workspace_margin`), else hold. The controller already clips the EE target to
   the box; this catches IK solutions or joint-limit clamps that land elsewhere.
3. Joint limits: the command is clamped into [lower, upper].
4. Per-step joint change: if any joint would move more than `max_step` (velocity limit x
   step time) from the MEASURED joints, the whole step is scaled down by one common factor.
   This rule is the only speed limit between the policy and the motors: the Interbotix
   driver (xs_sdk) forwards a JointGroupCommand's positions to the servos without any
   velocity check (only the Python arm module checks speeds, and the node does not use it),
   and the time-based motor profile then reaches any goal within its moving time, however
   far. We scale rather than reject because a uniform scale keeps the direction of motion
   in joint space, so the arm still heads to the target and the next step continues the
   motion. Rules 2 and 3 are then checked again on the scaled command, the one actually
   sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class SafetyLimits:
    """Everything the filter needs; arrays are float64 of the arm's joint count."""

    lower: np.ndarray
    upper: np.ndarray
    max_step: np.ndarray            # rad per control step, per joint
    workspace_low: np.ndarray       # (3,) m
    workspace_high: np.ndarray      # (3,) m
    workspace_margin: float = 0.03  # m of slack for rule 2 (IK tolerance, clamping)

    @classmethod
    def from_kinematics(cls, kinematics: object, step_time: float,
                        workspace_low: np.ndarray, workspace_high: np.ndarray,
                        max_joint_step: float | None = None,
                        workspace_margin: float = 0.03) -> 'SafetyLimits':
        """Limits of a `WidowXKinematics`; max_step = velocity x step time unless given."""
        velocity = np.asarray(kinematics.velocity_limits, dtype=np.float64)
        if max_joint_step is None or max_joint_step <= 0:
            max_step = velocity * float(step_time)
        else:
            max_step = np.minimum(velocity * float(step_time), float(max_joint_step))
        return cls(lower=np.asarray(kinematics.lower, dtype=np.float64),
                   upper=np.asarray(kinematics.upper, dtype=np.float64),
                   max_step=max_step,
                   workspace_low=np.asarray(workspace_low, dtype=np.float64),
                   workspace_high=np.asarray(workspace_high, dtype=np.float64),
                   workspace_margin=float(workspace_margin))


@dataclass
class SafetyVerdict:
    """Outcome of the filter: `joints` is None when the step must be held."""

    joints: np.ndarray | None
    reason: str        # '' when untouched, else what the filter did and why
    scale: float = 1.0  # step scale of rule 4 (1 = unscaled)


def all_finite(*arrays: np.ndarray) -> bool:
    """Rule 1: True when every value of every array is finite."""
    return all(bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64)))) for a in arrays)


def clamp_to_joint_limits(q: np.ndarray, lower: np.ndarray,
                          upper: np.ndarray) -> tuple[np.ndarray, bool]:
    """Rule 3: clamp into [lower, upper]; returns (q, whether anything was clamped)."""
    q = np.asarray(q, dtype=np.float64)
    clamped = np.clip(q, lower, upper)
    return clamped, bool(np.any(clamped != q))


def limit_joint_step(q_cmd: np.ndarray, q_measured: np.ndarray,
                     max_step: np.ndarray) -> tuple[np.ndarray, float]:
    """Rule 4: scale the step q_cmd - q_measured so no joint exceeds max_step.

    Returns (q, scale) with scale in (0, 1]; one common scale for all joints.
    """
    q_cmd = np.asarray(q_cmd, dtype=np.float64)
    q_measured = np.asarray(q_measured, dtype=np.float64)
    delta = q_cmd - q_measured
    ratio = np.abs(delta) / np.maximum(np.asarray(max_step, dtype=np.float64), 1e-12)
    worst = float(np.max(ratio)) if ratio.size else 0.0
    if worst <= 1.0:
        return q_cmd, 1.0
    scale = 1.0 / worst
    return q_measured + delta * scale, scale


def in_workspace(xyz: np.ndarray, low: np.ndarray, high: np.ndarray,
                 margin: float = 0.0) -> bool:
    """Rule 2: whether a position lies in the box [low - margin, high + margin]."""
    xyz = np.asarray(xyz, dtype=np.float64)
    return bool(np.all(xyz >= np.asarray(low) - margin) and
                np.all(xyz <= np.asarray(high) + margin))


def clip_to_workspace(xyz: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Clip an EE target position into the workspace box (used on the integrated target)."""
    return np.clip(np.asarray(xyz, dtype=np.float64), low, high)


def filter_command(q_cmd: np.ndarray, q_measured: np.ndarray, limits: SafetyLimits,
                   ee_position: Callable[[np.ndarray], np.ndarray] | None = None,
                   check_workspace: bool = True) -> SafetyVerdict:
    """Apply rules 1-4 to a joint command; `ee_position(q) -> (3,)` is forward kinematics.

    `check_workspace=False` is for homing moves, which go to a fixed, known-safe joint pose
    and must work even when the arm starts outside the box.
    """
    if not all_finite(q_cmd, q_measured):
        return SafetyVerdict(None, 'hold: non-finite joint command or measurement')
    q_cmd = np.asarray(q_cmd, dtype=np.float64)
    reasons = []
    q, clamped = clamp_to_joint_limits(q_cmd, limits.lower, limits.upper)
    if clamped:
        reasons.append('clamped to joint limits')
    if check_workspace and ee_position is not None:
        xyz = np.asarray(ee_position(q), dtype=np.float64)
        if not all_finite(xyz) or not in_workspace(xyz, limits.workspace_low,
                                                   limits.workspace_high,
                                                   limits.workspace_margin):
            return SafetyVerdict(None, 'hold: commanded end-effector position '
                                 f'{np.round(xyz, 3).tolist()} outside the workspace box')
    q, scale = limit_joint_step(q, q_measured, limits.max_step)
    if scale < 1.0:
        reasons.append(f'step scaled by {scale:.2f} to respect joint velocity limits')
        # The scaled command lies between the measured joints and the checked one: rules 2
        # and 3 are checked again on what is actually sent. From measured joints outside
        # the limits, the clamp pulls the command back in; from a pose outside the box, a
        # step is still allowed when it brings the end effector closer to the box.
        q, _ = clamp_to_joint_limits(q, limits.lower, limits.upper)
        if check_workspace and ee_position is not None:
            xyz = np.asarray(ee_position(q), dtype=np.float64)
            if not all_finite(xyz) or not in_workspace(xyz, limits.workspace_low,
                                                       limits.workspace_high,
                                                       limits.workspace_margin):
                now = np.asarray(ee_position(np.asarray(q_measured, dtype=np.float64)))
                if not (all_finite(xyz, now)
                        and _box_distance(xyz, limits) < _box_distance(now, limits)):
                    return SafetyVerdict(None, 'hold: the velocity-limited step would put '
                                         f'the end effector at {np.round(xyz, 3).tolist()}, '
                                         'outside the workspace box')
    return SafetyVerdict(q, '; '.join(reasons), scale)


def _box_distance(xyz: np.ndarray, limits: SafetyLimits) -> float:
    """Euclidean distance from xyz to the (margin-grown) workspace box; 0 inside."""
    low = limits.workspace_low - limits.workspace_margin
    high = limits.workspace_high + limits.workspace_margin
    outside = np.maximum(low - xyz, 0.0) + np.maximum(xyz - high, 0.0)
    return float(np.linalg.norm(outside))
