"""The arm's controller: everything a node does per control tick, without ROS.

Used by every node that drives the arm with Bridge actions: the policy node (vptr_policy's
`PolicyController` extends `ArmController` with the checkpoint's checks), the keyboard
teleop and the scripted collector. The action comes from an `ActingPolicy`: a learned
policy, the keys, or the simulator's expert.

One `step()` = the Bridge controller loop at 5 Hz:
image + joint state -> EE state (7,) -> policy.act (which squash-resizes the full frame
exactly as the converters did) -> raw action -> EE target integration (deltas added to
the previous TARGET, not the measured pose, as in Bridge's controller) -> IK seeded with
the measured joints -> safety filter -> joint command + gripper open/close. The arm part is
`vptr_training.robot.arm_step.bridge_arm_step`, shared with the simulator.

Modes: 'paused' (initial; no commands), 'running' (policy in control), 'homing' (drive the
arm to the neutral joints with velocity-limited steps, then pause). The watchdog refuses to
command anything from an image or joint state older than `stale_timeout`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Protocol

import numpy as np
from vptr_training.errors import ConfigError, VptrError
from vptr_training.robot import conventions, kinematics as kinematics_module
from vptr_training.robot.arm_step import bridge_arm_step, gripper_open, GRIPPER_THRESHOLD
from vptr_training.robot.safety import (all_finite, clip_to_workspace, filter_command,
                                        SafetyLimits)

MODE_PAUSED = 'paused'
MODE_RUNNING = 'running'
MODE_HOMING = 'homing'
MODES = (MODE_PAUSED, MODE_RUNNING, MODE_HOMING)


class ActingPolicy(Protocol):
    """What the controller needs from `vptr_training.policy.Policy` (or a stand-in: the
    keyboard, the simulator's expert)."""

    def act(self, image: np.ndarray, state: np.ndarray, task: str) -> np.ndarray: ...


@dataclass
class ControllerConfig:
    """The controller's settings; the nodes' parameter defaults are these defaults."""

    task: str
    control_hz: float = conventions.CONTROL_HZ
    stale_timeout: float = 0.5          # s; older sensor data -> no command
    gripper_threshold: float = GRIPPER_THRESHOLD   # action[6] > threshold -> open
    workspace_low: np.ndarray = field(
        default_factory=lambda: np.asarray(conventions.WORKSPACE_LOW, dtype=np.float64))
    workspace_high: np.ndarray = field(
        default_factory=lambda: np.asarray(conventions.WORKSPACE_HIGH, dtype=np.float64))
    max_joint_step: float = 0.0         # rad per step; <= 0 -> velocity limit x step time
    workspace_margin: float = 0.03      # m of slack when checking the commanded pose
    home_tolerance: float = 0.02        # rad; homing ends when every joint is this close
    ik_max_iters: int = 40              # Bridge controller convention
    ik_tol: float = 1e-3


@dataclass
class StepResult:
    arm_cmd: np.ndarray | None        # joint positions to send (group 'arm'), None = send nothing
    gripper_cmd: bool | None          # True open, False close, None = send nothing
    reason: str                       # '' on a clean policy step, else why (logged/diagnosed)
    latency: float                    # s of compute inside step()
    action: np.ndarray | None = None  # raw 7-D action the policy returned
    state: np.ndarray | None = None   # (7,) EE state fed to the policy
    mode: str = MODE_PAUSED
    image_age: float | None = None    # s between the image stamp and `now`


def controller_kinematics(robot_model: str) -> kinematics_module.WidowXKinematics:
    """The kinematics of `robot_model` for a PolicyController, checked at start-up: an
    unknown model is a ConfigError before anything slow is loaded. A 5-DoF wx250 follows
    each 6-D target projected onto the poses it can reach (closest_reachable_pose)."""
    try:
        return kinematics_module.WidowXKinematics(robot_model)
    except ValueError as exc:
        raise ConfigError(f'robot_model: {exc}') from exc


def neutral_joints(kin: object) -> np.ndarray:
    """Bridge's neutral joints for this model (wx250 lacks forearm_roll, index 3)."""
    neutral = getattr(kin, 'neutral', None)   # WidowXKinematics: already per model
    if neutral is None:
        neutral = kinematics_module.NEUTRAL_JOINTS
    neutral = np.asarray(neutral, dtype=np.float64)
    if neutral.shape[0] == 6 and kin.num_joints == 5:
        neutral = np.delete(neutral, 3)
    return neutral


class ArmController:
    """Holds the acting policy, kinematics, safety limits, the mode and the EE target."""

    def __init__(self, policy: ActingPolicy, kinematics: object,
                 config: ControllerConfig) -> None:
        if config.control_hz <= 0:
            raise ConfigError(f'control_hz must be positive, got {config.control_hz}')
        self.policy = policy
        self.kin = kinematics
        self.config = config
        self.step_time = 1.0 / config.control_hz
        self.limits = SafetyLimits.from_kinematics(
            kinematics, self.step_time, config.workspace_low, config.workspace_high,
            config.max_joint_step, config.workspace_margin)
        self.neutral = neutral_joints(kinematics)
        self._mode = MODE_PAUSED
        self._target: np.ndarray | None = None   # (6,) EE target [x,y,z,roll,pitch,yaw]

    # ------------------------------------------------------------------ transitions
    @property
    def mode(self) -> str:
        return self._mode

    @property
    def target(self) -> np.ndarray | None:
        return None if self._target is None else self._target.copy()

    def start(self) -> tuple[bool, str]:
        """Hand control to the policy. The EE target restarts from the measured pose at
        the next step, so a start never jumps to a stale target."""
        if self._mode == MODE_RUNNING:
            return True, 'already running'
        self._mode = MODE_RUNNING
        self._target = None
        return True, f'running task {self.config.task!r}'

    def stop(self) -> tuple[bool, str]:
        """Pause: no more commands (the driver holds the last position goal)."""
        previous = self._mode
        self._mode = MODE_PAUSED
        self._target = None
        return True, f'paused (was {previous})'

    def home(self) -> tuple[bool, str]:
        """Drive to the neutral joints with velocity-limited steps, then pause."""
        self._mode = MODE_HOMING
        self._target = None
        return True, 'homing to the neutral pose'

    # ------------------------------------------------------------------ the tick
    def step(self, image_rgb: np.ndarray | None, image_stamp: float | None,
             joint_positions: np.ndarray | None, finger_position: float | None,
             joint_stamp: float | None, now: float) -> StepResult:
        """One control tick; never raises on bad sensor data, it reports why it held."""
        t0 = time.perf_counter()
        result = self._step(image_rgb, image_stamp, joint_positions, finger_position,
                            joint_stamp, now)
        result.latency = time.perf_counter() - t0
        result.mode = self._mode
        if image_stamp is not None:
            result.image_age = float(now - image_stamp)
        return result

    def _stale(self, what: str, stamp: float | None, now: float) -> str:
        if stamp is None:
            return f'no {what} received yet'
        age = now - stamp
        # A stamp from the future beyond the timeout means mismatched clocks (sim time vs
        # wall time): just as unusable as an old one.
        if abs(age) > self.config.stale_timeout:
            return (f'stale {what}: age {age:.3f} s exceeds '
                    f'{self.config.stale_timeout:.3f} s')
        return ''

    def _step(self, image_rgb, image_stamp, joint_positions, finger_position, joint_stamp,
              now) -> StepResult:
        if self._mode == MODE_PAUSED:
            return StepResult(None, None, 'paused', 0.0)
        problem = self._stale('joint state', joint_stamp if joint_positions is not None
                              else None, now)
        if problem:
            return StepResult(None, None, problem, 0.0)
        q_measured = np.asarray(joint_positions, dtype=np.float64)
        if q_measured.shape != (self.kin.num_joints,):
            return StepResult(None, None, f'joint state has {q_measured.shape} positions, '
                              f'expected {self.kin.num_joints}', 0.0)
        if not all_finite(q_measured):
            return StepResult(None, None, 'hold: non-finite joint measurement', 0.0)
        if self._mode == MODE_HOMING:
            return self._home_step(q_measured)
        return self._policy_step(image_rgb, image_stamp, q_measured, finger_position, now)

    def _home_step(self, q_measured: np.ndarray) -> StepResult:
        if np.max(np.abs(q_measured - self.neutral)) <= self.config.home_tolerance:
            self._mode = MODE_PAUSED
            return StepResult(None, True, 'home reached; paused', 0.0)
        verdict = filter_command(self.neutral, q_measured, self.limits, check_workspace=False)
        return StepResult(verdict.joints, True, 'homing' + (
            f'; {verdict.reason}' if verdict.reason else ''), 0.0)

    def _policy_step(self, image_rgb, image_stamp, q_measured, finger_position,
                     now) -> StepResult:
        """The acting policy's step: fresh image -> EE state -> policy.act -> the shared
        arm step (target, IK, safety filter; robot/arm_step.py) + the gripper command."""
        problem = self._stale('image', image_stamp if image_rgb is not None else None, now)
        if problem:
            return StepResult(None, None, problem, 0.0)
        if finger_position is None or not np.isfinite(finger_position):
            return StepResult(None, None, 'hold: no finite left_finger position', 0.0)
        state = conventions.ee_state_from_joints(self.kin, q_measured, float(finger_position))
        if self._target is None:
            measured6 = conventions.pose_to_state6(self.kin.fk(q_measured))
            measured6[:3] = clip_to_workspace(measured6[:3], self.config.workspace_low,
                                              self.config.workspace_high)
            self._target = np.asarray(measured6, dtype=np.float64)
        try:
            action = np.asarray(self.policy.act(image_rgb, state, self.config.task),
                                dtype=np.float64).reshape(-1)
        except (VptrError, ValueError, RuntimeError) as exc:
            # A failing forward pass (bad frame, device error) holds the arm and is
            # reported; it must not take the control loop down with it.
            return StepResult(None, None, f'hold: policy failed: {exc}', 0.0, state=state)
        if action.shape != (7,) or not all_finite(action):
            return StepResult(None, None, f'hold: policy returned a bad action {action}', 0.0,
                              action=action, state=state)
        gripper = gripper_open(action, self.config.gripper_threshold)
        arm = bridge_arm_step(self.kin, self._target, action, q_measured, self.limits,
                              self.config.ik_max_iters, self.config.ik_tol)
        self._target = arm.target
        return StepResult(arm.joints, gripper, arm.reason, 0.0, action=action,
                          state=state)
