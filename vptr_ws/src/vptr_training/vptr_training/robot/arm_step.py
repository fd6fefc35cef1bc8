"""One step of the Bridge WidowX controller on the arm: the rule the simulator and the
policy node share, so that `vptr eval-sim` scores and robot behaviour cannot drift apart.

action (raw 7-D) -> EE target (deltas added to the previous TARGET, clipped to the
workspace box) -> on a 5-DoF arm, the nearest reachable pose -> IK seeded with the measured
joints (Newton-Raphson, 40 iterations, tol 1e-3) -> safety filter (`robot.safety`: NaN hold,
workspace box, joint limits, velocity-limited step scaled down). Non-finite inputs hold
before IK. No IK solution or a held filter leaves the arm and the target where they are
(Bridge: skip the step). The gripper is commanded apart from the arm, absolute:
`gripper_open(action)` (open when action[6] > GRIPPER_THRESHOLD).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vptr_training.robot import conventions
from vptr_training.robot.kinematics import WidowXKinematics
from vptr_training.robot.safety import all_finite, filter_command, SafetyLimits

# Bridge: the gripper action is absolute, 1 open / 0 closed; above this it opens.
GRIPPER_THRESHOLD = 0.5


def gripper_open(action: np.ndarray, threshold: float = GRIPPER_THRESHOLD) -> bool:
    """The gripper command of a raw 7-D action: True open, False closed."""
    return bool(action[6] > threshold)


@dataclass
class ArmStep:
    joints: np.ndarray | None   # joint positions to command; None: hold (send nothing)
    target: np.ndarray          # (6,) EE target after the step (the old one when held)
    reason: str                 # '' on a clean step, else what happened
    ik_ok: bool                 # an IK solution existed
    scale: float = 1.0          # velocity-limit scale of the step (1 = unscaled)


def bridge_arm_step(kin: WidowXKinematics, target6: np.ndarray, action: np.ndarray,
                    q_measured: np.ndarray, limits: SafetyLimits, ik_max_iters: int = 40,
                    ik_tol: float = 1e-3) -> ArmStep:
    """The arm part of one control step (the gripper is commanded separately).

    A non-finite action, target or measurement holds here, before IK: NumPy raises
    LinAlgError on NaN inside IK's least-squares solve (the 5-DoF wx250), so the safety
    filter's NaN rule would never be reached."""
    target6 = np.asarray(target6, dtype=np.float64)
    if not all_finite(action, target6, q_measured):
        return ArmStep(None, target6, 'hold: non-finite action, EE target or joint '
                       'measurement', False)
    new_target = np.asarray(conventions.integrate_target(
        target6, action, limits.workspace_low, limits.workspace_high), dtype=np.float64)
    pose = conventions.state6_to_pose(new_target)
    if kin.num_joints < 6:
        # A 5-DoF wx250 cannot turn the gripper out of its waist's plane: follow the
        # nearest pose it can reach (the target keeps accumulating from that pose).
        pose = kin.closest_reachable_pose(pose)
        new_target = np.asarray(conventions.pose_to_state6(pose), dtype=np.float64)
    q_ik, ok = kin.ik(pose, q_measured, max_iters=ik_max_iters, tol=ik_tol)
    if not ok:
        # Bridge convention: no IK solution -> skip the step. The target stays where it was
        # so it does not wander into the unreachable region.
        return ArmStep(None, target6, 'IK failed: arm step skipped', False)
    verdict = filter_command(q_ik, q_measured, limits,
                             ee_position=lambda q: kin.fk(q)[:3, 3])
    if verdict.joints is None:
        return ArmStep(None, target6, verdict.reason, True)
    return ArmStep(verdict.joints, new_target, verdict.reason, True, verdict.scale)
