"""WidowX 250 kinematics: product of exponentials in the space frame.

The one kinematics module of the project: the rosbag converter (EE state from joint
positions), the simulated WidowX (its MJCF is checked against `fk`), and the policy node
(IK of the EE target) all use it.

Numbers are Interbotix's `mr_descriptions` for wx250s / wx250 (docs/robot.md). IK follows
Modern Robotics' `IKinSpace` (Newton-Raphson on the space twist error), which is also what
Interbotix's `InterbotixArmXSInterface.set_ee_pose_matrix` and the Bridge controller use:
seeded with the measured joints, 40 iterations, tolerance 1e-3 on both the angular and the
linear error. The matrix exponential is written out (Rodrigues) rather than calling a
general `expm`, because the policy node runs IK every control step and p99 must stay
under a millisecond.
"""
from __future__ import annotations

import math

import numpy as np

# Home pose of the end effector (ee_gripper_link) with all joints at zero.
HOME_POSE = np.array([[1.0, 0.0, 0.0, 0.458325],
                      [0.0, 1.0, 0.0, 0.0],
                      [0.0, 0.0, 1.0, 0.36065],
                      [0.0, 0.0, 0.0, 1.0]])
assert np.array_equal(HOME_POSE[:3, :3], np.eye(3))   # _chain adds only its position

# Space-frame screw axes (w; v) of the 6-DOF wx250s, joint order waist, shoulder, elbow,
# forearm_roll, wrist_angle, wrist_rotate.
_SCREWS_WX250S = np.array([
    [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, -0.11065, 0.0, 0.0],
    [0.0, 1.0, 0.0, -0.36065, 0.0, 0.04975],
    [1.0, 0.0, 0.0, 0.0, 0.36065, 0.0],
    [0.0, 1.0, 0.0, -0.36065, 0.0, 0.29975],
    [1.0, 0.0, 0.0, 0.0, 0.36065, 0.0],
])

_JOINTS_WX250S = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')
_DEG = math.pi / 180.0
_LIMITS_WX250S = {  # radians (Interbotix wx250s.yaml; docs/robot.md)
    'waist': (-math.pi, math.pi),
    'shoulder': (-108 * _DEG, 114 * _DEG),
    'elbow': (-123 * _DEG, 92 * _DEG),
    'forearm_roll': (-math.pi, math.pi),
    'wrist_angle': (-100 * _DEG, 123 * _DEG),
    'wrist_rotate': (-math.pi, math.pi),
}

# Bridge's neutral joints for the wx250s (the pose the arm is reset to between episodes).
NEUTRAL_JOINTS = np.array([-0.1319, -0.7624, 0.4449, -0.0199, 1.7564, -0.1595])

GRIPPER_JOINT = 'gripper'
FINGER_JOINTS = ('left_finger', 'right_finger')
FINGER_LIMITS = (0.015, 0.037)  # metres, per finger


# The IK loop runs FK, the Jacobian and the twist error up to 41 times per control step, on
# 3-vectors and 3x3 matrices. At that size NumPy's per-call overhead (~1 us per operation,
# ~5 us per einsum) dominates the arithmetic, so the kernel below works on plain floats:
# rotations are row-major 9-tuples, vectors 3-tuples. It is ~3x faster per iteration than
# the vectorised NumPy version it replaced (bench/bench_ros.py; p99 target 1 ms).
_Vec = tuple[float, float, float]
_Rot = tuple[float, float, float, float, float, float, float, float, float]


def _cross(a: _Vec, b: _Vec) -> _Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _rot_vec(R: _Rot, x: _Vec) -> _Vec:
    return (R[0] * x[0] + R[1] * x[1] + R[2] * x[2],
            R[3] * x[0] + R[4] * x[1] + R[5] * x[2],
            R[6] * x[0] + R[7] * x[1] + R[8] * x[2])


def _rot_t_vec(R: _Rot, x: _Vec) -> _Vec:
    """R transposed times x."""
    return (R[0] * x[0] + R[3] * x[1] + R[6] * x[2],
            R[1] * x[0] + R[4] * x[1] + R[7] * x[2],
            R[2] * x[0] + R[5] * x[1] + R[8] * x[2])


def _rot_rot(A: _Rot, B: _Rot) -> _Rot:
    return (A[0] * B[0] + A[1] * B[3] + A[2] * B[6], A[0] * B[1] + A[1] * B[4] + A[2] * B[7],
            A[0] * B[2] + A[1] * B[5] + A[2] * B[8],
            A[3] * B[0] + A[4] * B[3] + A[5] * B[6], A[3] * B[1] + A[4] * B[4] + A[5] * B[7],
            A[3] * B[2] + A[4] * B[5] + A[5] * B[8],
            A[6] * B[0] + A[7] * B[3] + A[8] * B[6], A[6] * B[1] + A[7] * B[4] + A[8] * B[7],
            A[6] * B[2] + A[7] * B[5] + A[8] * B[8])


def _transpose(R: _Rot) -> _Rot:
    return (R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8])


def _log_rigid(R: _Rot, p: _Vec) -> tuple[_Vec, _Vec]:
    """Twist (w*theta, v*theta) whose exponential is (R, p) (Modern Robotics MatrixLog6)."""
    cos_theta = max(-1.0, min(1.0, (R[0] + R[4] + R[8] - 1.0) / 2.0))
    theta = math.acos(cos_theta)
    if theta < 1e-9:
        return (0.0, 0.0, 0.0), p
    if math.pi - theta < 1e-6:
        # Near pi the usual formula divides by sin(theta) ~ 0: recover w from R + I.
        k = max(range(3), key=lambda i: R[4 * i])
        scale = 1.0 / math.sqrt(2.0 * (1.0 + R[4 * k]))
        w = tuple((R[3 * row + k] + (1.0 if row == k else 0.0)) * scale for row in range(3))
    else:
        scale = 1.0 / (2.0 * math.sin(theta))
        w = ((R[7] - R[5]) * scale, (R[2] - R[6]) * scale, (R[3] - R[1]) * scale)
    # v * theta = theta G^-1 p with G^-1 = I / theta - W / 2 + (1 / theta - cot(theta/2) / 2) W^2
    w_p = _cross(w, p)
    w_w_p = _cross(w, w_p)
    c2 = theta * (1.0 / theta - 0.5 / math.tan(theta / 2.0))
    v = tuple(p[i] - 0.5 * theta * w_p[i] + c2 * w_w_p[i] for i in range(3))
    return (w[0] * theta, w[1] * theta, w[2] * theta), v


# The Interbotix arm models we support: the 6-DoF wx250s (Bridge's arm, the default) and
# the 5-DoF wx250 (no forearm_roll). Every model list and default in the code comes from here.
ROBOT_MODELS = ('wx250s', 'wx250')
DEFAULT_ROBOT_MODEL = ROBOT_MODELS[0]
_MODEL_JOINTS = {'wx250s': [0, 1, 2, 3, 4, 5], 'wx250': [0, 1, 2, 4, 5]}


class WidowXKinematics:
    """Forward and inverse kinematics of an Interbotix WidowX 250 arm."""

    def __init__(self, model: str = DEFAULT_ROBOT_MODEL) -> None:
        if model not in ROBOT_MODELS:
            raise ValueError(f'unknown WidowX model {model!r}: expected one of {ROBOT_MODELS}')
        keep = _MODEL_JOINTS[model]
        self.model = model
        self.screws = _SCREWS_WX250S[keep].copy()
        self.joint_names: tuple[str, ...] = tuple(_JOINTS_WX250S[i] for i in keep)
        self.num_joints = len(keep)
        self.lower = np.array([_LIMITS_WX250S[n][0] for n in self.joint_names])
        self.upper = np.array([_LIMITS_WX250S[n][1] for n in self.joint_names])
        self.velocity_limits = np.full(self.num_joints, math.pi)  # rad/s, every joint
        self.neutral = NEUTRAL_JOINTS[keep].copy()
        self.home_pose = HOME_POSE.copy()
        # Per screw, the constants of its closed-form exponential (see _chain).
        self._screw_consts = []
        for w, v in zip(self.screws[:, :3].tolist(), self.screws[:, 3:].tolist()):
            w_dot_v = sum(a * b for a, b in zip(w, v))
            self._screw_consts.append((
                tuple(w), tuple(v), _cross(w, v),
                tuple(w[i] * w_dot_v - v[i] for i in range(3)),       # W^2 v for unit w
                (w[0] * w[0], w[1] * w[1], w[2] * w[2], w[0] * w[1], w[0] * w[2], w[1] * w[2])))
        self._home_p = tuple(HOME_POSE[:3, 3].tolist())

    def _chain(self, q: list[float]) -> tuple[_Rot, _Vec, list[tuple[float, ...]]]:
        """End-effector (R, p) and the space Jacobian's columns for joints q.

        e^[S]q = (I + sin q W + (1 - cos q) W^2,  (q I + (1 - cos q) W + (q - sin q) W^2) v)
        (Rodrigues, unit w). Column i of the space Jacobian is Ad(prefix_i) S_i =
        (R w_i, p x R w_i + R v_i), prefix_i being the product of the exponentials before i.
        """
        R: _Rot = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        p: _Vec = (0.0, 0.0, 0.0)
        columns = []
        for angle, (w, v, w_v, w_w_v, ww) in zip(q, self._screw_consts):
            r_w = _rot_vec(R, w)
            r_v = _rot_vec(R, v)
            p_r_w = _cross(p, r_w)
            columns.append((r_w[0], r_w[1], r_w[2],
                            p_r_w[0] + r_v[0], p_r_w[1] + r_v[1], p_r_w[2] + r_v[2]))
            s, c = math.sin(angle), math.cos(angle)
            k = 1.0 - c
            xx, yy, zz, xy, xz, yz = ww
            rot = (c + k * xx, k * xy - s * w[2], k * xz + s * w[1],
                   k * xy + s * w[2], c + k * yy, k * yz - s * w[0],
                   k * xz - s * w[1], k * yz + s * w[0], c + k * zz)
            a, b = angle - s, angle
            trans = (b * v[0] + k * w_v[0] + a * w_w_v[0], b * v[1] + k * w_v[1] + a * w_w_v[1],
                     b * v[2] + k * w_v[2] + a * w_w_v[2])
            r_t = _rot_vec(R, trans)
            p = (p[0] + r_t[0], p[1] + r_t[1], p[2] + r_t[2])
            R = _rot_rot(R, rot)
        r_home = _rot_vec(R, self._home_p)
        return R, (p[0] + r_home[0], p[1] + r_home[1], p[2] + r_home[2]), columns

    def _check(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        if q.shape[0] != self.num_joints:
            raise ValueError(f'{self.model} has {self.num_joints} joints, got {q.shape[0]}')
        return q

    def fk(self, q: np.ndarray) -> np.ndarray:
        """End-effector pose (4x4) in the base frame for joint positions q (rad)."""
        R, p, _ = self._chain(self._check(q).tolist())
        T = np.eye(4)
        T[:3, :3] = np.reshape(R, (3, 3))
        T[:3, 3] = p
        return T

    def space_jacobian(self, q: np.ndarray) -> np.ndarray:
        """The 6 x n space Jacobian (angular rows first) at joint positions q."""
        return np.array(self._chain(self._check(q).tolist())[2]).T

    def closest_reachable_pose(self, T: np.ndarray) -> np.ndarray:
        """The pose nearest T that this arm can reach in orientation (T itself on a wx250s).

        A 5-DoF wx250 (no forearm_roll) keeps the gripper in the vertical plane of its
        waist: its orientations are Rz(waist) Ry(pitch) Rx(wrist_rotate) with the waist
        angle set by the position, atan2(y, x). Interbotix's `set_ee_pose_components` makes
        the same choice for arms with fewer than 6 joints (the yaw follows the position).
        The projection keeps the position, takes the waist angle from it, removes the
        out-of-plane part of the gripper's pointing direction (x axis) and keeps the rotation
        about that axis, so 6-D EE targets (Bridge actions) become targets the 5 joints
        can meet exactly, and Newton-Raphson converges on them.
        """
        T = np.asarray(T, dtype=np.float64)
        if self.num_joints == 6:
            return T.copy()
        waist = math.atan2(T[1, 3], T[0, 3])
        c, s = math.cos(waist), math.sin(waist)
        rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        in_plane = rz.T @ T[:3, :3]            # the orientation seen from the arm's plane
        forward = in_plane[:, 0]
        pitch = math.atan2(-forward[2], forward[0]) if abs(forward[0]) + abs(forward[2]) > 1e-9 \
            else 0.0
        cp, sp = math.cos(pitch), math.sin(pitch)
        ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        rest = ry.T @ in_plane                 # ideally a rotation about x
        roll = math.atan2(rest[2, 1], rest[1, 1])
        cr, sr = math.cos(roll), math.sin(roll)
        rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
        out = T.copy()
        out[:3, :3] = rz @ ry @ rx
        return out

    def within_limits(self, q: np.ndarray, margin: float = 0.0) -> bool:
        q = self._check(q)
        return bool(np.all(q >= self.lower - margin) and np.all(q <= self.upper + margin))

    def ik(self, T_target: np.ndarray, q_seed: np.ndarray, max_iters: int = 40,
           tol: float = 1e-3) -> tuple[np.ndarray, bool]:
        """Joint positions reaching T_target, and whether the solve succeeded.

        Newton-Raphson on the space-frame twist error, seeded with q_seed (the measured
        joints, as the Bridge controller does). A solution must converge within `tol` on
        both the angular and linear error and lie inside the joint limits after wrapping
        the angles to (-pi, pi]; otherwise ok is False and the caller skips the step.
        """
        q = self._check(q_seed).tolist()
        T_target = np.asarray(T_target, dtype=np.float64)
        R_target: _Rot = tuple(T_target[:3, :3].ravel().tolist())
        p_target: _Vec = tuple(T_target[:3, 3].tolist())
        tol_sq = tol * tol
        for _ in range(max_iters + 1):
            R, p, columns = self._chain(q)
            # Body-frame error T^-1 T_target, its log, then the adjoint to the space frame.
            delta = (p_target[0] - p[0], p_target[1] - p[1], p_target[2] - p[2])
            w_body, v_body = _log_rigid(_rot_rot(_transpose(R), R_target), _rot_t_vec(R, delta))
            w_space = _rot_vec(R, w_body)
            r_v = _rot_vec(R, v_body)
            p_w = _cross(p, w_space)
            v_space = (p_w[0] + r_v[0], p_w[1] + r_v[1], p_w[2] + r_v[2])
            if (sum(x * x for x in w_space) < tol_sq and sum(x * x for x in v_space) < tol_sq):
                wrapped = np.mod(np.array(q) + math.pi, 2.0 * math.pi) - math.pi
                return wrapped, self.within_limits(wrapped, margin=1e-9)
            jac = np.array(columns).T
            twist = np.array(w_space + v_space)
            step = None
            if self.num_joints == 6:
                try:
                    step = np.linalg.solve(jac, twist)
                except np.linalg.LinAlgError:  # singular: fall back to least squares
                    pass
            if step is None:
                step = np.linalg.lstsq(jac, twist, rcond=None)[0]
            q = [a + b for a, b in zip(q, step.tolist())]
        return np.array(q), False
