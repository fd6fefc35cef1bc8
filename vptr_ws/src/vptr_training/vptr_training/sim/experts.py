"""Scripted experts for the simulated tasks, producing RAW 7-D Bridge actions.

The experts read the simulator's true object poses (privileged state) and move the
controller's TARGET pose through waypoints, one bounded delta per 5 Hz step, exactly the
interface a teleoperator or a policy uses. `noise` adds Gaussian noise to the movement
dimensions (std = noise * the action bound), giving diverse and sometimes failing data as
in Bridge's scripted collections; the expert is closed-loop, so it often recovers.
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


@dataclass
class _Waypoint:
    xyz: np.ndarray
    yaw: float
    gripper: float
    hold_steps: int = 0      # extra steps to stay once reached (gripper motions)
    track: str | None = None  # re-read the object position each step (closed loop)
    carrying: str | None = None  # the object must be in the gripper here (else re-plan)


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
        task = self.env.task
        if task.kind == 'pick_place':
            return self._plan_pick_place()
        if task.kind == 'open_drawer':
            return self._plan_open_drawer()
        return self._plan_close_drawer()

    def _grasp_yaw(self, name: str) -> float:
        """Gripper yaw closing across the object (fingers close along the gripper's y)."""
        yaw = self.env.object_yaw(name)
        period = math.pi if OBJECTS[name].elongated else math.pi / 2
        if name == 'can':
            return 0.0
        return float((yaw + period / 2) % period - period / 2)

    def _plan_pick_place(self) -> list[_Waypoint]:
        env, task = self.env, self.env.task
        obj, cont = OBJECTS[task.obj], CONTAINERS[task.container]
        pos = env.object_position(task.obj)
        cxy = env.container_position(task.container)
        yaw = self._grasp_yaw(task.obj)
        grasp_z = obj.grasp_z
        # Let go with the object's bottom ~1.5 cm above the receptacle's floor.
        release_z = cont.floor + grasp_z + 0.015
        return [
            _Waypoint(np.array([pos[0], pos[1], grasp_z + 0.08]), yaw, 1.0, track=task.obj),
            _Waypoint(np.array([pos[0], pos[1], grasp_z]), yaw, 1.0, hold_steps=1,
                      track=task.obj),
            _Waypoint(np.array([pos[0], pos[1], grasp_z]), yaw, 0.0, hold_steps=2),
            _Waypoint(np.array([pos[0], pos[1], SAFE_Z]), yaw, 0.0, carrying=task.obj),
            _Waypoint(np.array([cxy[0], cxy[1], SAFE_Z]), 0.0, 0.0, carrying=task.obj),
            _Waypoint(np.array([cxy[0], cxy[1], release_z]), 0.0, 0.0, carrying=task.obj),
            _Waypoint(np.array([cxy[0], cxy[1], release_z]), 0.0, 1.0, hold_steps=2),
            _Waypoint(np.array([cxy[0], cxy[1], SAFE_Z]), 0.0, 1.0, hold_steps=100),
        ]

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
        if self.env.episode_id != self._episode_marker:  # a new episode: plan it
            self._episode_marker = self.env.episode_id
            self.reset()
        wp = self._plan[self._index]
        if wp.carrying is not None and not self.env.gripper_touching(wp.carrying):
            self.reset()  # dropped it: go back and pick it up again
            wp = self._plan[self._index]
        target = self.env.target6
        if wp.track is not None and not self.env.gripper_touching(wp.track):
            pos = self.env.object_position(wp.track)
            wp.xyz[:2] = pos[:2]
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
        action = np.clip(delta, ACTION_LOW, ACTION_HIGH)
        # The gripper command switches at the start of a waypoint (open/close in place).
        action[6] = wp.gripper
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


def make_expert(env: WidowXSimEnv, noise: float = 0.0,
                seed: int | None = None) -> ScriptedExpert:
    """The scripted expert of env's task (call `expert(obs)` each step for an action)."""
    return ScriptedExpert(env, noise=noise, seed=seed)
