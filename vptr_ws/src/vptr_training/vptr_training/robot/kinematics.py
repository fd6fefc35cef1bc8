"""WidowX 250 kinematics: product of exponentials in the space frame.

The one kinematics module of the project: the rosbag converter (EE state from joint
positions), the simulated WidowX (its MJCF is checked against `fk`), and the policy node
(IK of the EE target) all use it.

Numbers are Interbotix's `mr_descriptions` for wx250s / wx250 (see ROBOT.md). IK follows
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
_LIMITS_WX250S = {  # radians (ROBOT.md; Interbotix wx250s.yaml)
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


def _skew(w: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def _adjoint(T: np.ndarray) -> np.ndarray:
    R, p = T[:3, :3], T[:3, 3]
    ad = np.zeros((6, 6))
    ad[:3, :3] = R
    ad[3:, 3:] = R
    ad[3:, :3] = _skew(p) @ R
    return ad


def _inv_transform(T: np.ndarray) -> np.ndarray:
    R, p = T[:3, :3], T[:3, 3]
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ p
    return out


def _log_transform(T: np.ndarray) -> np.ndarray:
    """Twist (w*theta; v*theta) whose exponential is T (Modern Robotics MatrixLog6)."""
    R, p = T[:3, :3], T[:3, 3]
    cos_theta = max(-1.0, min(1.0, (np.trace(R) - 1.0) / 2.0))
    theta = math.acos(cos_theta)
    if theta < 1e-9:
        return np.concatenate([np.zeros(3), p])
    if math.pi - theta < 1e-6:
        # Near pi the usual formula divides by sin(theta) ~ 0: recover w from R + I.
        k = int(np.argmax(np.diag(R)))
        w = (R[:, k] + np.eye(3)[:, k]) / math.sqrt(2.0 * (1.0 + R[k, k]))
    else:
        w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
        w /= 2.0 * math.sin(theta)
    w_hat = _skew(w)
    half_cot = 1.0 / theta - 0.5 / math.tan(theta / 2.0)
    g_inv = np.eye(3) / theta - 0.5 * w_hat + half_cot * (w_hat @ w_hat)
    return np.concatenate([w * theta, g_inv @ p * theta])


class WidowXKinematics:
    """Forward and inverse kinematics of an Interbotix WidowX 250 arm."""

    def __init__(self, model: str = 'wx250s') -> None:
        if model == 'wx250s':
            keep = [0, 1, 2, 3, 4, 5]
        elif model == 'wx250':
            keep = [0, 1, 2, 4, 5]  # no forearm_roll
        else:
            raise ValueError(f"unknown WidowX model {model!r}: expected 'wx250s' or 'wx250'")
        self.model = model
        self.screws = _SCREWS_WX250S[keep].copy()
        self.joint_names: tuple[str, ...] = tuple(_JOINTS_WX250S[i] for i in keep)
        self.num_joints = len(keep)
        self.lower = np.array([_LIMITS_WX250S[n][0] for n in self.joint_names])
        self.upper = np.array([_LIMITS_WX250S[n][1] for n in self.joint_names])
        self.velocity_limits = np.full(self.num_joints, math.pi)  # rad/s, every joint
        self.neutral = NEUTRAL_JOINTS[keep].copy()
        self.home_pose = HOME_POSE.copy()
        # Pre-split each screw for the closed-form exponential.
        self._w = self.screws[:, :3]
        self._v = self.screws[:, 3:]
        self._w_hat = np.stack([_skew(w) for w in self._w])
        self._w_hat2 = np.einsum('nij,njk->nik', self._w_hat, self._w_hat)
        # e^[S]q = [[I + sin q W + (1 - cos q) W^2, (q I + (1 - cos q) W + (q - sin q) W^2) v],
        #           [0, 1]]; precompute the matrices multiplying each coefficient.
        self._exp_base = np.tile(np.eye(4), (self.num_joints, 1, 1))
        self._rot_basis = np.stack([self._w_hat, self._w_hat2], axis=1)  # (n, 2, 3, 3)
        self._trans_basis = np.stack([  # (n, 3, 3): for coefficients (1 - cos, q, q - sin)
            np.einsum('nij,nj->ni', self._w_hat, self._v), self._v,
            np.einsum('nij,nj->ni', self._w_hat2, self._v)], axis=1)

    def _exps(self, q: np.ndarray) -> np.ndarray:
        """All joint exponentials e^[S_i] q_i at once, (n, 4, 4), vectorised (Rodrigues)."""
        s, c = np.sin(q), np.cos(q)
        # One (n, 3, 3) x 3 contraction instead of per-joint 3x3 arithmetic: a 6-joint FK is
        # run up to 41 times per IK call, so Python-level overhead is what costs.
        coeffs = np.stack([s, 1.0 - c, q, q - s], axis=1)  # (n, 4)
        out = self._exp_base.copy()
        out[:, :3, :3] += np.einsum('nk,nkij->nij', coeffs[:, :2], self._rot_basis)
        out[:, :3, 3] = np.einsum('nk,nki->ni', coeffs[:, 1:], self._trans_basis)
        return out

    def _check(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        if q.shape[0] != self.num_joints:
            raise ValueError(f'{self.model} has {self.num_joints} joints, got {q.shape[0]}')
        return q

    def fk(self, q: np.ndarray) -> np.ndarray:
        """End-effector pose (4x4) in the base frame for joint positions q (rad)."""
        return self._fk_and_jacobian(self._check(q))[0]

    def _fk_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        exps = self._exps(q)
        # prefix[i] = e^[S_0]q_0 ... e^[S_{i-1}]q_{i-1}; the space Jacobian's column i is
        # Ad(prefix[i]) S_i = (R w_i; p x R w_i + R v_i) for a revolute screw.
        prefix = np.empty((self.num_joints + 1, 4, 4))
        prefix[0] = np.eye(4)
        for i in range(self.num_joints):
            prefix[i + 1] = prefix[i] @ exps[i]
        R, p = prefix[:-1, :3, :3], prefix[:-1, :3, 3]
        rw = np.einsum('nij,nj->ni', R, self._w)
        rv = np.einsum('nij,nj->ni', R, self._v)
        jac = np.empty((6, self.num_joints))
        jac[:3] = rw.T
        jac[3:] = (np.cross(p, rw) + rv).T
        return prefix[-1] @ HOME_POSE, jac

    def space_jacobian(self, q: np.ndarray) -> np.ndarray:
        return self._fk_and_jacobian(self._check(q))[1]

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
        q = self._check(q_seed).copy()
        T_target = np.asarray(T_target, dtype=np.float64)
        for _ in range(max_iters + 1):
            T, jac = self._fk_and_jacobian(q)
            twist_body = _log_transform(_inv_transform(T) @ T_target)
            twist_space = _adjoint(T) @ twist_body
            if (np.linalg.norm(twist_space[:3]) < tol
                    and np.linalg.norm(twist_space[3:]) < tol):
                q = np.mod(q + math.pi, 2.0 * math.pi) - math.pi
                return q, self.within_limits(q, margin=1e-9)
            if self.num_joints == 6:
                try:
                    q = q + np.linalg.solve(jac, twist_space)
                    continue
                except np.linalg.LinAlgError:  # singular: fall back to least squares
                    pass
            q = q + np.linalg.lstsq(jac, twist_space, rcond=None)[0]
        return q, False
