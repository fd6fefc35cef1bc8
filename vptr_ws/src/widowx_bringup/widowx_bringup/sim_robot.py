"""The simulated WidowX behind the Interbotix driver's interface, without ROS.

`SimRobot` turns driver-level commands (JointGroupCommand 'arm', JointSingleCommand
'gripper' PWM effort or a single arm joint) into `WidowXSimEnv.command_joints` and driver
time into `WidowXSimEnv.advance`, and reads back what the driver would publish on
joint_states: the arm joints, 'gripper' (rad) and 'left_finger' / 'right_finger' (m).
The ROS node (sim_robot_node.py) only moves messages in and out of this class, so a
client such as the policy node cannot tell it from the real driver.
"""
from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

import numpy as np
from vptr_training.robot.kinematics import FINGER_JOINTS, GRIPPER_JOINT

# Sim-only topics for the scripted collector (the real driver has no expert or success).
EXPERT_ACTION_TOPIC = '/vptr/sim/expert_action'   # std_msgs/Float32MultiArray, raw 7-D
SUCCESS_TOPIC = '/vptr/sim/success'               # std_msgs/Bool

# Interbotix gripper linkage of the wx250s and wx250 (interbotix_xsarm_control
# config/wx250s.yaml, grippers.gripper: horn_radius 0.014, arm_length 0.024; 0.022 / 0.036
# are the vx300s values): the driver maps the gripper servo angle to a finger position with
#   finger = r sin(angle) + sqrt(L^2 - (r cos(angle))^2).
GRIPPER_HORN_RADIUS = 0.014
GRIPPER_ARM_LENGTH = 0.024


def finger_to_gripper_angle(finger: float) -> float:
    """Invert the driver's angle -> finger map (monotonic on [-pi/2, pi/2]) by bisection."""
    r, length = GRIPPER_HORN_RADIUS, GRIPPER_ARM_LENGTH

    def finger_of(angle: float) -> float:
        return r * math.sin(angle) + math.sqrt(length ** 2 - (r * math.cos(angle)) ** 2)

    low, high = -math.pi / 2, math.pi / 2
    finger = min(max(float(finger), finger_of(low)), finger_of(high))
    for _ in range(50):
        mid = 0.5 * (low + high)
        if finger_of(mid) < finger:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


@dataclass
class JointStateArrays:
    names: list[str]
    positions: list[float]
    velocities: list[float]


class SimRobot:
    """Driver-like facade over a `WidowXSimEnv` (joint-level API only)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.arm_joint_names = list(env.kin.joint_names)
        self.sim_time = 0.0
        self._arm_goal = np.asarray(env.joint_positions(), dtype=np.float64)
        self._gripper_open = True

    @property
    def arm_goal(self) -> np.ndarray:
        return self._arm_goal.copy()

    @property
    def gripper_open(self) -> bool:
        return self._gripper_open

    def reset(self, seed: int | None = None) -> None:
        """New episode: the env resets the scene and puts the arm at its reset pose."""
        self.env.reset(seed=seed)
        self._arm_goal = np.asarray(self.env.joint_positions(), dtype=np.float64)
        self._gripper_open = True

    # ------------------------------------------------------------------ commands in
    def apply_joint_group(self, name: str, cmd: Any) -> str:
        """JointGroupCommand; returns '' when applied, else why it was ignored (as the
        driver logs and ignores bad commands)."""
        if name != 'arm':
            return f"unknown joint group {name!r} (only 'arm')"
        q = np.asarray(list(cmd), dtype=np.float64)
        if q.shape != (len(self.arm_joint_names),):
            return (f'arm command has {q.size} values, expected '
                    f'{len(self.arm_joint_names)}')
        if not np.all(np.isfinite(q)):
            return 'arm command is not finite'
        self._arm_goal = q
        self._send()
        return ''

    def apply_joint_single(self, name: str, cmd: float) -> str:
        """JointSingleCommand: 'gripper' in PWM mode (effort sign opens/closes), or one
        arm joint's position."""
        value = float(cmd)
        if not math.isfinite(value):
            return f'{name} command is not finite'
        if name == GRIPPER_JOINT:
            if value == 0.0:
                return ''   # zero PWM: the gripper just stops where it is
            self._gripper_open = value > 0.0
        elif name in self.arm_joint_names:
            self._arm_goal[self.arm_joint_names.index(name)] = value
        else:
            return f'unknown joint {name!r}'
        self._send()
        return ''

    def _send(self) -> None:
        self.env.command_joints(self._arm_goal, self._gripper_open)

    # ------------------------------------------------------------------ time and sensing
    def advance(self, seconds: float) -> None:
        self.env.advance(float(seconds))
        self.sim_time += float(seconds)

    def joint_state(self) -> JointStateArrays:
        """What the driver publishes on /<robot>/joint_states."""
        q = np.asarray(self.env.joint_positions(), dtype=np.float64)
        dq = np.asarray(self.env.joint_velocities(), dtype=np.float64)
        left, right = (float(v) for v in self.env.finger_positions())
        names = self.arm_joint_names + [GRIPPER_JOINT, *FINGER_JOINTS]
        positions = [float(v) for v in q] + [finger_to_gripper_angle(left), left, right]
        velocities = [float(v) for v in dq] + [0.0, 0.0, 0.0]
        return JointStateArrays(names, positions, velocities)

    def camera(self, width: int = 640, height: int = 480) -> np.ndarray:
        return self.env.render_camera(int(width), int(height))

    def success(self) -> bool:
        return bool(self.env.success())
