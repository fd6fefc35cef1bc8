"""Scripted experts for the simulated tasks, producing RAW 7-D Bridge actions.

The experts read the simulator's true object poses (privileged state) and send one bounded
end-effector delta per 5 Hz step, exactly the interface a teleoperator or a policy uses.
`noise` adds Gaussian noise to the movement dimensions (std = noise * the action bound),
giving diverse and sometimes failing data as in Bridge's scripted collections.

Pick-and-place is a *reactive* controller: its action is a function of what the policy
observes (the measured 7-D state, and the object's and receptacle's poses, which the
camera shows), with no hidden phase, counter or plan. A learner can therefore imitate it
from the observation alone, and noisy episodes show it recovering (re-grasping after a
miss or a drop) from wherever the noise left it. The waypoint expert it replaced followed
hold counters and re-planned from hidden state: a privileged-state BC policy could not
imitate it (0/30 from noise-free demos, docs/results.md). The drawer experts still follow
waypoints (prior-data tasks only).
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from vptr_training.robot.conventions import ACTION_HIGH, ACTION_LOW, wrap_angle
from vptr_training.sim.env import WidowXSimEnv
from vptr_training.sim.model import (CONTAINERS, DRAWER_TRAVEL, HANDLE_OFFSET, HANDLE_Z,
                                     OBJECTS)

POS_TOL = 0.004      # m: waypoint reached (target pose)
YAW_TOL = 0.03       # rad
SAFE_Z = 0.13        # travel height above the table (clears bowl rims and the cabinet)
HOOK_Z = HANDLE_Z - 0.015  # EE height: the pads face the bar with their flat sides
PAD_HALF_WIDTH = 0.011     # half the finger pad's extent across the closing direction
HANDLE_RADIUS = 0.006
NOISE_FADE_DISTANCE = 0.03  # m from the waypoint below which the noise fades
NOISE_FLOOR = 0.15          # fraction of the noise left at the waypoint
GRIPPER_SLIP_RATE = 0.1     # per-step chance of a flipped gripper command, per unit noise
# Reactive pick-and-place.
HOVER_HEIGHT = 0.07         # m above the grasp height while the gripper is still far in xy
DESCEND_START = 0.015       # xy distance (m) below which the gripper starts to descend
DESCEND_YAW = 0.3           # yaw error (rad) below which the gripper starts to descend
GRASP_XY_TOL = 0.01         # m: close the gripper when this well aligned over the object
GRASP_Z_TOL = 0.01
GRASP_YAW_TOL = 0.15        # rad
CARRY_MIN_Z = 0.08          # lift at least this high before moving towards the receptacle
RELEASE_XY_TOL = 0.015
RELEASE_Z_TOL = 0.012
GRIPPER_CLOSED_BELOW = 0.9  # measured opening: below it the fingers are shut (on an object or not)


@dataclass
class _Waypoint:
    xyz: np.ndarray
    yaw: float
    gripper: float
    hold_steps: int = 0      # extra steps to stay once reached (gripper motions)


class ScriptedExpert:
    """Waypoint-following expert; call it with the current observation each step."""

    def __init__(self, env: WidowXSimEnv, noise: float = 0.0, seed: int | None = None) -> None:
        self.env = env
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)
        self._episode_marker: object = None
        self._plan: list[_Waypoint] = []
        self._index = 0
        self._held = 0

    # Planning ---------------------------------------------------------------------
    def _plan_episode(self) -> list[_Waypoint]:
        if self.env.task.kind == 'open_drawer':
            return self._plan_open_drawer()
        return self._plan_close_drawer()

    def _grasp_yaw(self, name: str) -> float:
        """Gripper yaw closing across the object (fingers close along the gripper's y)."""
        yaw = self.env.object_yaw(name)
        period = math.pi if OBJECTS[name].elongated else math.pi / 2
        if name == 'can':
            return 0.0
        return float((yaw + period / 2) % period - period / 2)

    def _front_x(self) -> float:
        """x of the drawer's front face now."""
        bar = self.env.handle_position()
        return float(bar[0] + HANDLE_OFFSET)

    def _plan_open_drawer(self) -> list[_Waypoint]:
        bar = self.env.handle_position()
        # Closed fingers go down between the handle bar and the drawer front, then pull.
        hook_x = bar[0] + (HANDLE_RADIUS + HANDLE_OFFSET) / 2
        y = bar[1]
        pull_x = hook_x - DRAWER_TRAVEL
        return [
            _Waypoint(np.array([hook_x, y, SAFE_Z]), 0.0, 0.0),
            _Waypoint(np.array([hook_x, y, HOOK_Z]), 0.0, 0.0),
            _Waypoint(np.array([pull_x, y, HOOK_Z]), 0.0, 0.0, hold_steps=1),
            _Waypoint(np.array([pull_x - 0.01, y, SAFE_Z]), 0.0, 1.0, hold_steps=100),
        ]

    def _plan_close_drawer(self) -> list[_Waypoint]:
        bar = self.env.handle_position()
        # Closed fingers go down on the robot side of the bar and push it home.
        push_x = bar[0] - HANDLE_RADIUS - PAD_HALF_WIDTH - 0.012
        y = bar[1]
        closed_bar_x = bar[0] + self.env.drawer_opening()
        end_x = closed_bar_x - HANDLE_RADIUS - PAD_HALF_WIDTH + 0.006
        return [
            _Waypoint(np.array([push_x, y, SAFE_Z]), 0.0, 0.0),
            _Waypoint(np.array([push_x, y, HOOK_Z]), 0.0, 0.0),
            _Waypoint(np.array([end_x, y, HOOK_Z]), 0.0, 0.0, hold_steps=1),
            _Waypoint(np.array([end_x - 0.04, y, SAFE_Z]), 0.0, 1.0, hold_steps=100),
        ]

    # Acting -----------------------------------------------------------------------
    def reset(self) -> None:
        self._plan = self._plan_episode()
        self._index = 0
        self._held = 0

    def __call__(self, obs: dict | None = None) -> np.ndarray:
        if self.env.task.kind == 'pick_place':
            return self._with_noise(*self._pick_place_action())
        if self.env.episode_id != self._episode_marker:  # a new episode: plan it
            self._episode_marker = self.env.episode_id
            self.reset()
        wp = self._plan[self._index]
        target = self.env.target6
        delta = np.zeros(7)
        delta[:3] = wp.xyz - target[:3]
        delta[3:5] = wrap_angle(-target[3:5])
        delta[5] = wrap_angle(wp.yaw - target[5])
        reached = (np.linalg.norm(delta[:3]) < POS_TOL and abs(delta[5]) < YAW_TOL)
        if reached:
            if self._held >= wp.hold_steps and self._index < len(self._plan) - 1:
                self._index += 1
                self._held = 0
            else:
                self._held += 1
        # The gripper command switches at the start of a waypoint (open/close in place).
        return self._with_noise(delta, wp.gripper)

    def _pick_place_action(self) -> tuple[np.ndarray, float]:
        """(movement delta (7,), gripper command) from the observable state alone."""
        env, task = self.env, self.env.task
        obj, cont = OBJECTS[task.obj], CONTAINERS[task.container]
        state = env.ee_state()
        ee, yaw, opening = state[:3].astype(np.float64), float(state[5]), float(state[6])
        obj_pos = env.object_position(task.obj)
        cxy = env.container_position(task.container)
        holding = env.gripper_touching(task.obj) and opening < GRIPPER_CLOSED_BELOW
        goal, goal_yaw, gripper = ee.copy(), yaw, 1.0
        if env.success():
            goal[2] = SAFE_Z                       # done: let go and back off upwards
        elif holding:
            gripper = 0.0
            release_z = cont.floor + obj.grasp_z + 0.015
            to_cont = float(np.linalg.norm(cxy - ee[:2]))
            if to_cont > RELEASE_XY_TOL:
                goal[2] = SAFE_Z
                if ee[2] >= CARRY_MIN_Z:           # lift clear first, then travel
                    goal[:2] = cxy
            else:
                goal[:2] = cxy
                goal[2] = release_z
                if abs(ee[2] - release_z) < RELEASE_Z_TOL:
                    gripper = 1.0                  # over the receptacle: open
        elif opening < GRIPPER_CLOSED_BELOW:
            goal[2] = ee[2] + 0.02                 # closed on nothing: open and rise a little
        else:
            # The grasp yaw nearest the gripper's (the grasp is symmetric in its period).
            period = math.pi if obj.elongated else math.pi / 2
            turn = self._grasp_yaw(task.obj) - yaw
            goal_yaw = yaw + (turn + period / 2) % period - period / 2
            goal[:2] = obj_pos[:2]
            xy_error = float(np.linalg.norm(obj_pos[:2] - ee[:2]))
            # Descend along a cone over the object: high while far or still turning, at the
            # grasp height once aligned, so the fingers do not sweep the object away.
            misalignment = max((xy_error - GRASP_XY_TOL) / DESCEND_START,
                               (abs(goal_yaw - yaw) - GRASP_YAW_TOL) / DESCEND_YAW)
            height = HOVER_HEIGHT * float(np.clip(misalignment, 0.0, 1.0))
            goal[2] = obj.grasp_z + height
            aligned = (xy_error < GRASP_XY_TOL and abs(ee[2] - obj.grasp_z) < GRASP_Z_TOL
                       and abs(goal_yaw - yaw) < GRASP_YAW_TOL)
            if aligned:
                goal, gripper = ee.copy(), 0.0     # in place: close
        delta = np.zeros(7)
        delta[:3] = goal - ee
        delta[3:5] = wrap_angle(-state[3:5])
        delta[5] = goal_yaw - yaw
        return delta, gripper

    def _with_noise(self, delta: np.ndarray, gripper: float) -> np.ndarray:
        """Clip a movement delta to the action bounds, set the gripper, add the noise."""
        action = np.clip(delta, ACTION_LOW, ACTION_HIGH)
        action[6] = gripper
        if self.noise > 0:
            # Full noise in transit, fading near the waypoint (like a teleoperator slowing
            # down for the fine part), so noisy episodes still reach their waypoints.
            scale = float(np.clip(np.linalg.norm(delta[:3]) / NOISE_FADE_DISTANCE,
                                  NOISE_FLOOR, 1.0))
            action[:6] += self.rng.normal(0.0, self.noise * scale, 6) * ACTION_HIGH[:6]
            if self.rng.random() < GRIPPER_SLIP_RATE * self.noise:
                action[6] = 1.0 - action[6]   # an occasional wrong gripper command
            action = np.clip(action, ACTION_LOW, ACTION_HIGH)
        return action.astype(np.float32)


PRIVILEGED_DIM = 14


def privileged_observation(env: WidowXSimEnv, state: np.ndarray) -> np.ndarray:
    """What the pick-and-place expert acts on, as one vector (privileged-state baselines):
    the 7-D robot state, the object's position (3) and yaw as (sin 2y, cos 2y) (the grasp
    is symmetric under half turns), and the receptacle's xy."""
    task = env.task
    yaw = env.object_yaw(task.obj)
    return np.concatenate([state, env.object_position(task.obj),
                           [math.sin(2 * yaw), math.cos(2 * yaw)],
                           env.container_position(task.container)]).astype(np.float32)


def make_expert(env: WidowXSimEnv, noise: float = 0.0,
                seed: int | None = None) -> ScriptedExpert:
    """The scripted expert of env's task (call `expert(obs)` each step for an action)."""
    return ScriptedExpert(env, noise=noise, seed=seed)
