"""The simulated WidowX 250 as a gymnasium environment, with the Bridge controller on top.

Step semantics follow the Bridge WidowX controller (docs/robot.md, docs/method.md):
- action: RAW 7-D [dx, dy, dz, droll, dpitch, dyaw, gripper], deltas applied to the
  previous TARGET pose (`conventions.integrate_target`, workspace-clipped), gripper
  absolute, open above `arm_step.GRIPPER_THRESHOLD` (`arm_step.gripper_open`);
- the arm step is the policy node's (`robot/arm_step.py::bridge_arm_step`): IK with the
  shared `WidowXKinematics` (Newton-Raphson, seeded with the measured joints, 40
  iterations, tol 1e-3), then the shared safety filter (joint limits, workspace box, a step
  larger than velocity limit x 0.2 s scaled down). No IK solution or a held filter holds
  the step: the arm keeps its goal and the target is not advanced;
- 5 Hz: each step runs 0.2 s of physics; servo goals move towards the new goal at the
  joint velocity limit (a stand-in for the Dynamixel motion profile);
- observation: the fixed camera rendered at the camera's 4:3 aspect, then
  `squash_resize` to (S, S) like every real frame; state via `ee_state_from_joints`.

The joint-level API (`joint_positions`, `finger_positions`, `command_joints`, `advance`,
`render_camera`) is what the ROS simulation node drives instead of `step`.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable

os.environ.setdefault('MUJOCO_GL', 'egl')  # headless rendering; must precede the import

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from vptr_training.robot.arm_step import bridge_arm_step, gripper_open  # noqa: E402
from vptr_training.robot.conventions import (  # noqa: E402
    ACTION_HIGH, ACTION_LOW, ee_state_from_joints, pose_to_state6, RESET_STATE6,
    state6_to_pose, WORKSPACE_HIGH, WORKSPACE_LOW)
from vptr_training.robot.image import squash_resize  # noqa: E402
from vptr_training.robot.kinematics import (  # noqa: E402
    FINGER_LIMITS, NEUTRAL_JOINTS, WidowXKinematics)
from vptr_training.robot.safety import SafetyLimits  # noqa: E402
from vptr_training.sim import model as sim_model  # noqa: E402
from vptr_training.sim.tasks import (  # noqa: E402
    Appearance, check_condition, CONTAINERS, get_task, Layout, OBJECTS, sample_appearance,
    sample_layout, scene_for, task_success)

CONTROL_PERIOD = 0.2          # s (5 Hz)
FINGER_SPEED = 0.15           # m/s of the finger goal
SETTLE_TIME = 0.3             # s of physics after a reset, so objects come to rest
CAMERA_ASPECT = 4.0 / 3.0     # 640x480
CTRL_TICK_SECONDS = 0.01      # servo goals are updated every 10 ms
# Observation bounds of the 7-D state: metres, euler angles, gripper opening.
STATE_LOW = np.array([-1, -1, -1, -math.pi, -math.pi / 2, -math.pi, 0], np.float32)
STATE_HIGH = np.array([1, 1, 1, math.pi, math.pi / 2, math.pi, 1], np.float32)


class WidowXSimEnv(gym.Env):
    """Simulated WidowX 250 (wx250s) on a table, doing one task of `TASKS`.

    Args:
        task: a name from `sim.tasks.TASKS` (ConfigError otherwise).
        image_size: S of the (S, S, 3) observation image.
        condition: 'seen' | 'new_positions' | 'new_distractors'.
        seed: seeds the episode randomisation (reset(seed=...) overrides).
        max_episode_steps: steps before `truncated`.
        render: False skips the image (zeros) for fast scripted rollouts.
        terminate_on_success: end the episode at the first successful step.
        render_scale: the camera is rendered at (render_scale * S * 4/3, render_scale * S)
            and squashed to S; 1 is fastest, larger approaches a squashed 640x480 frame.
    """

    metadata = {'render_modes': ['rgb_array'], 'render_fps': 5}

    def __init__(self, task: str, image_size: int = 128, condition: str = 'seen',
                 seed: int | None = None, max_episode_steps: int = 40, render: bool = True,
                 terminate_on_success: bool = True, render_scale: float = 1.0) -> None:
        super().__init__()
        self.task = get_task(task)
        self.task_name = self.task.name
        self.language = self.task.language
        self.condition = check_condition(condition)
        self.image_size = int(image_size)
        self.max_episode_steps = int(max_episode_steps)
        self.render_images = bool(render)
        self.terminate_on_success = bool(terminate_on_success)
        self.render_mode = 'rgb_array'
        self.obs_height = max(1, int(round(self.image_size * render_scale)))
        self.obs_width = max(1, int(round(self.obs_height * CAMERA_ASPECT)))
        self.kin = WidowXKinematics(sim_model.SIM_ROBOT_MODEL)
        # The policy node's defaults (ControllerConfig): Bridge's workspace box, a joint step
        # of at most velocity limit x control period.
        self._limits = SafetyLimits.from_kinematics(self.kin, CONTROL_PERIOD, WORKSPACE_LOW,
                                                    WORKSPACE_HIGH)
        self.scene = scene_for(self.task, self.condition)
        self.model = mujoco.MjModel.from_xml_string(sim_model.build_scene_xml(self.scene))
        self.data = mujoco.MjData(self.model)
        self._index_model()
        self.observation_space = gym.spaces.Dict({
            'image': gym.spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8),
            'state': gym.spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32),
        })
        self.action_space = gym.spaces.Box(ACTION_LOW, ACTION_HIGH, dtype=np.float32)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._rng = np.random.default_rng(seed)
        self._target6 = RESET_STATE6.copy()
        self._arm_goal = NEUTRAL_JOINTS.copy()
        self._finger_goal = FINGER_LIMITS[1]
        self._steps = 0
        self.layout = Layout()
        self.appearance: Appearance | None = None
        self.episode_id = 0  # counts resets (experts re-plan on a new episode)
        # Optional per-physics-tick observer (joint-state recording for rosbags).
        self.tick_callback: Callable[[float], None] | None = None

    # ------------------------------------------------------------------ model indices
    def _index_model(self) -> None:
        m = self.model
        self._arm_qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in sim_model.ARM_JOINTS])
        self._arm_vadr = np.array([m.jnt_dofadr[m.joint(n).id] for n in sim_model.ARM_JOINTS])
        self._finger_qadr = np.array([m.jnt_qposadr[m.joint(n).id]
                                      for n in sim_model.FINGER_JOINTS])
        self._arm_act = np.array([m.actuator(n).id for n in sim_model.ARM_JOINTS])
        self._finger_act = np.array([m.actuator(n).id for n in sim_model.FINGER_JOINTS])
        self._ee_site = m.site(sim_model.EE_SITE).id
        self._camera = m.camera(sim_model.CAMERA).id
        self._base_cam_pos = sim_model.CAMERA_POS.copy()
        self._table_geom = m.geom(sim_model.TABLE_GEOM).id
        self._base_light_diffuse = m.light_diffuse.copy()
        self._base_light_dir = m.light_dir.copy()
        self._obj_qadr = {n: m.jnt_qposadr[m.joint(f'obj_{n}_joint').id]
                          for n in self.scene.objects}
        self._obj_body = {n: m.body(f'obj_{n}').id for n in self.scene.objects}
        self._obj_geoms = {n: np.flatnonzero(m.geom_bodyid == b)
                           for n, b in self._obj_body.items()}
        self._cont_body = {n: m.body(f'cont_{n}').id for n in self.scene.containers}
        self._pad_geoms = {m.geom('left_pad').id, m.geom('right_pad').id}
        if self.scene.drawer:
            self._cabinet_body = m.body('cabinet').id
            self._drawer_qadr = m.jnt_qposadr[m.joint('drawer_slide').id]
            self._handle_geom = m.geom('handle_bar').id

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.layout = sample_layout(self.task, self.condition, self._rng)
        self.appearance = sample_appearance(self._rng)
        mujoco.mj_resetData(self.model, self.data)
        self._apply_appearance(self.appearance)
        self._apply_layout(self.layout)
        q_reset, ok = self.kin.ik(state6_to_pose(RESET_STATE6), NEUTRAL_JOINTS)
        if not ok:  # pragma: no cover - the reset pose is inside the workspace
            raise RuntimeError('IK failed for the Bridge reset pose')
        self.data.qpos[self._arm_qadr] = q_reset
        self.data.qpos[self._finger_qadr] = [FINGER_LIMITS[1], -FINGER_LIMITS[1]]
        self._arm_goal = q_reset.copy()
        self._finger_goal = FINGER_LIMITS[1]
        self.data.ctrl[self._arm_act] = q_reset
        self.data.ctrl[self._finger_act] = [FINGER_LIMITS[1], -FINGER_LIMITS[1]]
        mujoco.mj_forward(self.model, self.data)
        self.advance(SETTLE_TIME)
        self.data.time = 0.0
        self._target6 = RESET_STATE6.copy()
        self._steps = 0
        self.episode_id += 1
        return self._observation(), self._info(ik_ok=True)

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool,
                                                dict]:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (7,) or not np.all(np.isfinite(a)):
            raise ValueError(f'action must be 7 finite numbers, got {np.asarray(action)!r}')
        # The policy node's arm step (robot/arm_step.py), so scores here transfer to ROS.
        arm = bridge_arm_step(self.kin, self._target6, a, self.joint_positions(),
                              self._limits)
        self._target6 = arm.target
        if arm.joints is not None:
            self._arm_goal = arm.joints
        ok = arm.joints is not None
        self._finger_goal = FINGER_LIMITS[1] if gripper_open(a) else FINGER_LIMITS[0]
        self.advance(CONTROL_PERIOD)
        self._steps += 1
        info = self._info(ik_ok=bool(ok))
        terminated = bool(info['success'] and self.terminate_on_success)
        truncated = self._steps >= self.max_episode_steps
        reward = 1.0 if info['success'] else 0.0
        return self._observation(), reward, terminated, truncated, info

    def render(self) -> np.ndarray:
        return self.render_camera()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    # ------------------------------------------------------------------ joint-level API
    def joint_positions(self) -> np.ndarray:
        """Measured arm joints (6,), rad, order waist..wrist_rotate."""
        return self.data.qpos[self._arm_qadr].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self._arm_vadr].copy()

    def finger_positions(self) -> np.ndarray:
        """(left_finger, right_finger) in metres, Interbotix signs (right is negative)."""
        return self.data.qpos[self._finger_qadr].copy()

    def command_joints(self, q: np.ndarray, gripper_open: bool) -> None:
        """Set the arm's joint goal (clipped to the limits) and the gripper state."""
        q = np.clip(np.asarray(q, dtype=np.float64).reshape(-1), self.kin.lower, self.kin.upper)
        if q.shape != (6,):
            raise ValueError(f'expected 6 joint positions, got shape {q.shape}')
        self._arm_goal = q
        self._finger_goal = FINGER_LIMITS[1] if gripper_open else FINGER_LIMITS[0]
        self._target6 = pose_to_state6(self.kin.fk(q))

    def advance(self, seconds: float) -> None:
        """Run the physics for `seconds` (rounded to the physics timestep), moving the
        servo goals towards the commanded joints at their speed limits."""
        m, d = self.model, self.data
        # Servo goals are updated every 10 ms and the physics in between runs inside MuJoCo
        # (nstep), which keeps Python out of the inner loop.
        dt = m.opt.timestep
        substeps = max(1, int(round(CTRL_TICK_SECONDS / dt)))
        total = max(0, int(round(seconds / dt)))
        chunks = [substeps] * (total // substeps) + ([total % substeps] if total % substeps
                                                     else [])
        if not chunks:
            return
        # The whole goal ramp of this call at once (goals move at the speed limits):
        # ctrl(t) = ctrl_0 + clip(goal - ctrl_0, -t * speed, t * speed) at each chunk start.
        ctrl0 = d.ctrl.copy()
        goal = ctrl0.copy()
        goal[self._arm_act] = self._arm_goal
        goal[self._finger_act] = (self._finger_goal, -self._finger_goal)
        speed = np.zeros(m.nu)
        speed[self._arm_act] = self.kin.velocity_limits
        speed[self._finger_act] = FINGER_SPEED
        elapsed = np.cumsum(chunks)[:, None] * dt
        ramp = ctrl0 + np.clip(goal - ctrl0, -elapsed * speed, elapsed * speed)
        for ctrl, n in zip(ramp, chunks):
            d.ctrl[:] = ctrl
            mujoco.mj_step(m, d, nstep=n)
            if self.tick_callback is not None:
                self.tick_callback(d.time)

    def render_camera(self, width: int = 640, height: int = 480) -> np.ndarray:
        """The fixed camera's RGB frame (height, width, 3) uint8."""
        key = (int(width), int(height))
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = mujoco.Renderer(self.model, height=key[1], width=key[0])
            self._renderers[key] = renderer
        renderer.update_scene(self.data, camera=self._camera)
        return renderer.render()

    # ------------------------------------------------------------------ state queries
    @property
    def target6(self) -> np.ndarray:
        return self._target6.copy()

    @property
    def steps(self) -> int:
        return self._steps

    def ee_state(self) -> np.ndarray:
        return ee_state_from_joints(self.kin, self.joint_positions(),
                                    float(self.finger_positions()[0]))

    def ee_site_pose(self) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = self.data.site_xmat[self._ee_site].reshape(3, 3)
        T[:3, 3] = self.data.site_xpos[self._ee_site]
        return T

    def object_position(self, name: str) -> np.ndarray:
        return self.data.xpos[self._obj_body[name]].copy()

    def object_yaw(self, name: str) -> float:
        R = self.data.xmat[self._obj_body[name]].reshape(3, 3)
        return math.atan2(R[1, 0], R[0, 0])

    def container_position(self, name: str) -> np.ndarray:
        return self.data.xpos[self._cont_body[name]][:2].copy()

    def drawer_opening(self) -> float:
        return float(self.data.qpos[self._drawer_qadr])

    def handle_position(self) -> np.ndarray:
        """World position of the drawer handle bar's centre."""
        return self.data.geom_xpos[self._handle_geom].copy()

    def gripper_touching(self, name: str) -> bool:
        body = self._obj_body[name]
        d = self.data
        for i in range(d.ncon):
            g1, g2 = d.contact[i].geom1, d.contact[i].geom2
            if g1 in self._pad_geoms and self.model.geom_bodyid[g2] == body:
                return True
            if g2 in self._pad_geoms and self.model.geom_bodyid[g1] == body:
                return True
        return False

    def success(self) -> bool:
        return task_success(self.task, self)

    # ------------------------------------------------------------------ internals
    def _observation(self) -> dict[str, np.ndarray]:
        if self.render_images:
            frame = self.render_camera(self.obs_width, self.obs_height)
            image = squash_resize(frame, self.image_size)
        else:
            image = np.zeros((self.image_size, self.image_size, 3), np.uint8)
        return {'image': image, 'state': self.ee_state()}

    def _info(self, ik_ok: bool) -> dict[str, Any]:
        success = self.success()
        return {'success': success, 'is_success': success, 'ik_ok': ik_ok,
                'task': self.task_name, 'language': self.language,
                'condition': self.condition, 'steps': self._steps}

    def _apply_appearance(self, look: Appearance) -> None:
        m = self.model
        m.geom_rgba[self._table_geom, :3] = np.clip(look.table_rgb, 0.0, 1.0)
        m.light_diffuse[:] = np.clip(self._base_light_diffuse * look.light_scale, 0.0, 1.0)
        light_dir = self._base_light_dir + look.light_dir_jitter
        m.light_dir[:] = light_dir / np.linalg.norm(light_dir, axis=1, keepdims=True)
        cam_pos = self._base_cam_pos + look.camera_pos_offset
        m.cam_pos[self._camera] = cam_pos
        m.cam_quat[self._camera] = sim_model.lookat_quat(
            cam_pos, sim_model.CAMERA_TARGET + look.camera_target_offset)

    def _apply_layout(self, layout: Layout) -> None:
        m, d = self.model, self.data
        for i, name in enumerate(self.scene.objects):
            adr = self._obj_qadr[name]
            if name in layout.objects:
                x, y, yaw = layout.objects[name]
                z = OBJECTS[name].rest_z + 0.002
            else:  # parked inside the table leg, out of view
                (x, y, z), yaw = sim_model.park_object(i), 0.0
            # Parked objects float without contacts or gravity: resting on a shelf they
            # would still cost the contact solver every physics step.
            active = name in layout.objects
            m.geom_contype[self._obj_geoms[name]] = int(active)
            m.geom_conaffinity[self._obj_geoms[name]] = int(active)
            m.body_gravcomp[self._obj_body[name]] = 0.0 if active else 1.0
            d.qpos[adr:adr + 3] = (x, y, z)
            d.qpos[adr + 3:adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        for i, name in enumerate(self.scene.containers):
            if name in layout.containers:
                m.body_pos[self._cont_body[name]] = (*layout.containers[name], 0.0)
            else:
                m.body_pos[self._cont_body[name]] = sim_model.park_container(i)
        if self.scene.drawer and layout.cabinet is not None:
            m.body_pos[self._cabinet_body] = (*layout.cabinet, 0.0)
            d.qpos[self._drawer_qadr] = layout.drawer_opening


__all__ = ['WidowXSimEnv', 'CONTAINERS', 'OBJECTS', 'CONTROL_PERIOD']
