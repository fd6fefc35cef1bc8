"""Bridge / WidowX conventions for states, actions and rewards (docs/robot.md, docs/method.md).

State, 7-D: [x, y, z, roll, pitch, yaw, gripper opening]; the orientation is the euler xyz
angles of R_ee @ Ry(+90deg).T, so all-zero means the gripper points straight down.
Action, 7-D: [dx, dy, dz, droll, dpitch, dyaw, gripper] per 5 Hz step; the deltas apply to
the previous TARGET pose (not the measured one), the gripper is absolute in [0, 1], 1 open.
"""
from __future__ import annotations

import math

import numpy as np

from vptr_training.robot.kinematics import FINGER_LIMITS, WidowXKinematics

CONTROL_HZ = 5.0

STATE_NAMES = ('x', 'y', 'z', 'roll', 'pitch', 'yaw', 'gripper')
ACTION_NAMES = ('dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper')
STATE_DIM = len(STATE_NAMES)
ACTION_DIM = len(ACTION_NAMES)

ACTION_LOW = np.array([-0.05, -0.05, -0.05, -0.25, -0.25, -0.25, 0.0], dtype=np.float32)
ACTION_HIGH = np.array([0.05, 0.05, 0.05, 0.25, 0.25, 0.25, 1.0], dtype=np.float32)

# Bridge controller workspace for the EE target (metres, base frame).
WORKSPACE_LOW = np.array([0.1, -0.15, -0.01])
WORKSPACE_HIGH = np.array([0.45, 0.25, 0.25])

# Reset pose used by the Bridge controller: EE at (0.3, 0, 0.15), gripper down, open.
RESET_STATE6 = np.array([0.3, 0.0, 0.15, 0.0, 0.0, 0.0])

# How a trained policy turns its networks into an action (Policy's mode, `vptr eval-sim
# --mode`, the policy node's action_mode): 'actor' = tanh of the actor's mean; 'q-rerank' =
# the best by Q of the mean and sampled actions (CQL checkpoints only). The first is the
# default.
ACTION_MODES = ('actor', 'q-rerank')

# Gripper opening from the finger position: (left_finger - 0.010) / 0.025 (docs/robot.md).
_FINGER_CLOSED_OFFSET = 0.010
_FINGER_RANGE = 0.025

_RY90 = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # Ry(+90deg)


def scale_action(action_raw: np.ndarray) -> np.ndarray:
    """Raw action -> [-1, 1] (clipped to the Bridge box first)."""
    a = np.clip(np.asarray(action_raw, dtype=np.float32), ACTION_LOW, ACTION_HIGH)
    return (2.0 * (a - ACTION_LOW) / (ACTION_HIGH - ACTION_LOW) - 1.0).astype(np.float32)


def unscale_action(action_scaled: np.ndarray) -> np.ndarray:
    """[-1, 1] -> raw action (metres, radians, gripper in [0, 1])."""
    a = np.clip(np.asarray(action_scaled, dtype=np.float32), -1.0, 1.0)
    return (ACTION_LOW + (a + 1.0) * 0.5 * (ACTION_HIGH - ACTION_LOW)).astype(np.float32)


def euler_xyz_to_matrix(rpy: np.ndarray) -> np.ndarray:
    """R = Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    roll, pitch, yaw = (float(v) for v in rpy)
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def matrix_to_euler_xyz(R: np.ndarray) -> np.ndarray:
    """Inverse of `euler_xyz_to_matrix` (pitch in [-pi/2, pi/2])."""
    pitch = -math.asin(max(-1.0, min(1.0, float(R[2, 0]))))
    if abs(abs(R[2, 0]) - 1.0) < 1e-9:  # gimbal lock: put everything in yaw
        roll = 0.0
        yaw = math.atan2(-R[0, 1], R[1, 1])
    else:
        roll = math.atan2(R[2, 1], R[2, 2])
        yaw = math.atan2(R[1, 0], R[0, 0])
    return np.array([roll, pitch, yaw])


def pose_to_state6(T: np.ndarray) -> np.ndarray:
    """EE pose (4x4) -> [x, y, z, roll, pitch, yaw] in the Bridge state convention."""
    return np.concatenate([T[:3, 3], matrix_to_euler_xyz(T[:3, :3] @ _RY90.T)])


def state6_to_pose(state6: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = euler_xyz_to_matrix(state6[3:6]) @ _RY90
    T[:3, 3] = state6[:3]
    return T


def gripper_opening(left_finger: float) -> float:
    """Finger position (m) -> opening in [0, 1], 1 fully open."""
    return float(np.clip((left_finger - _FINGER_CLOSED_OFFSET) / _FINGER_RANGE, 0.0, 1.0))


def finger_position(opening: float) -> float:
    """Opening in [0, 1] -> finger position (m), within the finger's travel."""
    pos = _FINGER_CLOSED_OFFSET + float(opening) * _FINGER_RANGE
    return float(np.clip(pos, *FINGER_LIMITS))


def ee_state_from_joints(kin: WidowXKinematics, q: np.ndarray, left_finger: float) -> np.ndarray:
    """7-D Bridge state from measured arm joints and the left finger position."""
    state = np.empty(STATE_DIM, dtype=np.float32)
    state[:6] = pose_to_state6(kin.fk(q))
    state[6] = gripper_opening(left_finger)
    return state


def wrap_angle(angle: np.ndarray) -> np.ndarray:
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


def integrate_target(target6: np.ndarray, action_raw: np.ndarray,
                     workspace_low: np.ndarray = WORKSPACE_LOW,
                     workspace_high: np.ndarray = WORKSPACE_HIGH) -> np.ndarray:
    """Apply one action's deltas to the previous TARGET pose.

    Deltas are added in the state's own coordinates (xyz and euler angles), the inverse of
    the Bridge relabelling rule `next_state[:6] - state[:6]`, so actions derived from
    states replay to the same states. The position is clipped to the controller's
    workspace box (Bridge's by default; the policy node passes its configured one); angles
    are wrapped to [-pi, pi).
    """
    a = np.clip(np.asarray(action_raw, dtype=np.float64), ACTION_LOW, ACTION_HIGH)
    out = np.asarray(target6, dtype=np.float64).copy()
    out[:3] = np.clip(out[:3] + a[:3], workspace_low, workspace_high)
    out[3:6] = wrap_angle(out[3:6] + a[3:6])
    return out


def binarize_gripper(openings: np.ndarray, open_above: float = 0.95,
                     closed_below: float = 0.05) -> np.ndarray:
    """Bridge's gripper binarisation of a sequence of openings (or gripper actions).

    Values above `open_above` are open (1), below `closed_below` closed (0). A value in
    between belongs to a motion and takes the next definite value after it. A trailing
    stretch with no definite value after it is a gripper stopped part-way, i.e. closed on
    an object, unless it is still opening at the end.
    """
    g = np.asarray(openings, dtype=np.float64)
    out = np.full(g.shape, np.nan)
    out[g > open_above] = 1.0
    out[g < closed_below] = 0.0
    following = np.nan
    for t in range(len(g) - 1, -1, -1):
        if not np.isnan(out[t]):
            following = out[t]
        elif not np.isnan(following):
            out[t] = following
    trailing = np.isnan(out)
    if trailing.any():
        start = int(np.argmax(trailing))
        opening_at_end = len(g) - start > 1 and g[-1] > g[start] + 1e-3
        out[trailing] = 1.0 if opening_at_end else 0.0
    return out.astype(np.float32)


def relabel_actions_from_states(states: np.ndarray) -> np.ndarray:
    """Actions from consecutive states, the Bridge training-time rule.

    movement = next_state[:6] - state[:6] (angles wrapped), gripper = the binarised
    opening reached at the next step. Returns (T-1, 7) for T states.
    """
    s = np.asarray(states, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != STATE_DIM or len(s) < 2:
        raise ValueError(f'need (T>=2, 7) states, got shape {s.shape}')
    actions = np.empty((len(s) - 1, ACTION_DIM), dtype=np.float32)
    actions[:, :3] = s[1:, :3] - s[:-1, :3]
    actions[:, 3:6] = wrap_angle(s[1:, 3:6] - s[:-1, 3:6])
    actions[:, 6] = binarize_gripper(s[:, 6])[1:]
    return actions


def ptr_rewards(length: int, success: bool,
                n_success_steps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """PTR rewards for an episode of `length` transitions.

    The last `n_success_steps` steps of a successful trajectory are success (r0 = 1), the
    reward is 11 * r0 - 1 in {-1, +10}, and success steps are terminal (PTR / COG code).
    """
    r0 = np.zeros(length, dtype=np.float32)
    if success and length > 0:
        r0[max(0, length - n_success_steps):] = 1.0
    return 11.0 * r0 - 1.0, r0.copy()
