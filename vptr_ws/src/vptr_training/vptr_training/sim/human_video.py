"""Synthetic "human video": a different embodiment doing the robot's kinds of tasks.

A floating skin-coloured hand (palm, thumb and two fingers, no arm) moves objects onto
plates / towels, into bowls, and opens / closes the drawer, over a wider object set than
the robot data (`VIDEO_ONLY_OBJECTS` too), seen from a new random viewpoint per clip,
with random lighting and table colour. Like Ego4D clips these are frames only: no
actions, no robot state. The animation is kinematic (poses set directly, no physics), so
clips are cheap and always complete the task.
"""
from __future__ import annotations

from dataclasses import dataclass
import math
import os

os.environ.setdefault('MUJOCO_GL', 'egl')  # headless rendering; must precede the import

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from vptr_training.errors import ConfigError  # noqa: E402
from vptr_training.sim import model as sim_model  # noqa: E402
from vptr_training.sim.model import (CABINET_HALF, CONTAINERS, DRAWER_TRAVEL,  # noqa: E402
                                     HANDLE_OFFSET, HANDLE_Z, object_spec, OBJECTS,
                                     VIDEO_ONLY_OBJECTS)
from vptr_training.sim.tasks import (_Footprints, _place_disc, Layout,  # noqa: E402
                                     sample_appearance, TaskSpec)

VIDEO_PICK_OBJECTS = ('carrot', 'cube', 'eggplant', 'corn', 'sponge', 'can',
                      *VIDEO_ONLY_OBJECTS)
VIDEO_ZONE_LOW = np.array([0.15, -0.2])
VIDEO_ZONE_HIGH = np.array([0.45, 0.25])
HAND_SPEED = (0.25, 0.45)   # m/s, varies per clip
FINGER_OPEN = 0.04


def _video_tasks() -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for obj in VIDEO_PICK_OBJECTS:
        for cont in CONTAINERS.values():
            name = f'put_{obj}_{cont.preposition}_{cont.name}'
            tasks[name] = TaskSpec(name, 'pick_place',
                                   f'put the {object_spec(obj).noun} {cont.preposition} '
                                   f'the {cont.noun}', obj, cont.name)
    tasks['open_drawer'] = TaskSpec('open_drawer', 'open_drawer', 'open the drawer')
    tasks['close_drawer'] = TaskSpec('close_drawer', 'close_drawer', 'close the drawer')
    return tasks


VIDEO_TASKS: dict[str, TaskSpec] = _video_tasks()


@dataclass
class _Key:
    """One keyframe of the hand: position, yaw, finger opening, what it carries."""
    pos: np.ndarray
    yaw: float
    opening: float
    carry: bool = False
    drawer: float | None = None


class HumanVideoScene:
    """All video objects, containers and the drawer in one model; one clip at a time."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        if width < 16 or height < 16 or width > 640 or height > 480:
            raise ConfigError(f'video frame size must be within 16x16..640x480, '
                              f'got {width}x{height}')
        scene = sim_model.SceneSpec(objects=list(VIDEO_PICK_OBJECTS) + ['spoon', 'mushroom',
                                                                        'pepper', 'star'],
                                    containers=list(CONTAINERS), drawer=True, robot=False,
                                    hand=True)
        self.scene = scene
        self.model = mujoco.MjModel.from_xml_string(sim_model.build_scene_xml(scene))
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._hand_mocap = m.body_mocapid[m.body('hand').id]
        self._thumb = m.jnt_qposadr[m.joint('thumb_slide').id]
        self._index = m.jnt_qposadr[m.joint('index_slide').id]
        self._obj_qadr = {n: m.jnt_qposadr[m.joint(f'obj_{n}_joint').id]
                          for n in scene.objects}
        self._cont_body = {n: m.body(f'cont_{n}').id for n in scene.containers}
        self._cabinet = m.body('cabinet').id
        self._drawer = m.jnt_qposadr[m.joint('drawer_slide').id]
        self._table = m.geom(sim_model.TABLE_GEOM).id
        self._base_diffuse = m.light_diffuse.copy()
        self.renderer = mujoco.Renderer(m, height=height, width=width)
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE

    def close(self) -> None:
        self.renderer.close()

    # ---------------------------------------------------------------- scene set-up
    def _set_object(self, name: str, xyz: np.ndarray, yaw: float) -> None:
        adr = self._obj_qadr[name]
        self.data.qpos[adr:adr + 3] = xyz
        self.data.qpos[adr + 3:adr + 7] = (math.cos(yaw / 2), 0, 0, math.sin(yaw / 2))

    def _layout(self, task: TaskSpec, rng: np.random.Generator) -> Layout:
        layout = Layout()
        taken = _Footprints()
        if task.kind == 'pick_place':
            assert task.obj is not None and task.container is not None
            xy = _place_disc(rng, taken, object_spec(task.obj).radius, VIDEO_ZONE_LOW,
                             VIDEO_ZONE_HIGH, task.obj, False)
            layout.objects[task.obj] = (xy[0], xy[1], rng.uniform(-math.pi, math.pi))
            cxy = _place_disc(rng, taken, CONTAINERS[task.container].radius, VIDEO_ZONE_LOW,
                              VIDEO_ZONE_HIGH, task.container, False)
            layout.containers[task.container] = (cxy[0], cxy[1])
        else:
            dx, dy, _ = CABINET_HALF
            front = rng.uniform(0.3, 0.4)
            y = rng.uniform(-0.12, 0.15)
            layout.cabinet = (front + dx, y)
            taken.add(np.array([front - 0.2, y - dy]), np.array([front + 2 * dx, y + dy]))
            layout.drawer_opening = (rng.uniform(0.06, DRAWER_TRAVEL)
                                     if task.kind == 'close_drawer' else 0.0)
        others = [n for n in self.scene.objects if n not in layout.objects]
        for name in rng.permutation(np.array(others))[:int(rng.integers(0, 4))]:
            spec = object_spec(str(name))
            try:
                xy = _place_disc(rng, taken, spec.radius, VIDEO_ZONE_LOW - 0.05,
                                 VIDEO_ZONE_HIGH + 0.05, str(name), False, tries=30)
            except ConfigError:
                continue  # a crowded table just gets fewer distractors
            layout.objects[str(name)] = (xy[0], xy[1], rng.uniform(-math.pi, math.pi))
        return layout

    def _apply(self, layout: Layout, rng: np.random.Generator) -> None:
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        for i, name in enumerate(self.scene.objects):
            if name in layout.objects:
                x, y, yaw = layout.objects[name]
                self._set_object(name, np.array([x, y, object_spec(name).rest_z]), yaw)
            else:
                self._set_object(name, sim_model.park_object(i), 0.0)
        for i, name in enumerate(self.scene.containers):
            if name in layout.containers:
                m.body_pos[self._cont_body[name]] = (*layout.containers[name], 0.0)
            else:
                m.body_pos[self._cont_body[name]] = sim_model.park_container(i)
        if layout.cabinet is not None:
            m.body_pos[self._cabinet] = (*layout.cabinet, 0.0)
        else:
            m.body_pos[self._cabinet] = sim_model.PARK_CABINET
        d.qpos[self._drawer] = layout.drawer_opening
        look = sample_appearance(rng)
        m.geom_rgba[self._table, :3] = np.clip(look.table_rgb, 0, 1)
        m.light_diffuse[:] = np.clip(self._base_diffuse * look.light_scale, 0, 1)
        # A new viewpoint per clip: anywhere around the front half of the table.
        self.camera.lookat[:] = (rng.uniform(0.22, 0.36), rng.uniform(-0.05, 0.1), 0.03)
        self.camera.distance = rng.uniform(0.6, 1.0)
        self.camera.azimuth = rng.uniform(-160.0, -20.0)
        self.camera.elevation = rng.uniform(-65.0, -25.0)

    # ---------------------------------------------------------------- animation
    def _keys(self, task: TaskSpec, layout: Layout, rng: np.random.Generator) -> list[_Key]:
        start = np.array([rng.uniform(0.1, 0.25), rng.uniform(-0.25, 0.25),
                          rng.uniform(0.2, 0.3)])
        if task.kind == 'pick_place':
            assert task.obj is not None and task.container is not None
            x, y, yaw = layout.objects[task.obj]
            spec = object_spec(task.obj)
            cx, cy = layout.containers[task.container]
            grip_yaw = yaw if spec.elongated else yaw % (math.pi / 2)
            place_z = CONTAINERS[task.container].height + spec.rest_z
            hover = max(0.1, place_z + 0.08)
            width = spec.radius * 0.45
            return [
                _Key(start, rng.uniform(-1, 1), FINGER_OPEN),
                _Key(np.array([x, y, spec.rest_z + 0.09]), grip_yaw, FINGER_OPEN),
                _Key(np.array([x, y, 0.004]), grip_yaw, FINGER_OPEN),
                _Key(np.array([x, y, 0.004]), grip_yaw, width, carry=True),
                _Key(np.array([x, y, hover]), grip_yaw, width, carry=True),
                _Key(np.array([cx, cy, hover]), grip_yaw + rng.uniform(-0.5, 0.5), width,
                     carry=True),
                _Key(np.array([cx, cy, place_z - spec.rest_z + 0.004]), grip_yaw, width,
                     carry=True),
                _Key(np.array([cx, cy, place_z - spec.rest_z + 0.004]), grip_yaw,
                     FINGER_OPEN),
                _Key(start + rng.uniform(-0.05, 0.05, 3), 0.0, FINGER_OPEN),
            ]
        front_x = layout.cabinet[0] - CABINET_HALF[0] if layout.cabinet else 0.35
        y = layout.cabinet[1] if layout.cabinet else 0.0
        opening = layout.drawer_opening
        end = DRAWER_TRAVEL * rng.uniform(0.8, 1.0) if task.kind == 'open_drawer' else 0.0
        bar = front_x - HANDLE_OFFSET
        return [
            _Key(start, 0.0, FINGER_OPEN),
            _Key(np.array([bar - opening, y, HANDLE_Z + 0.06]), math.pi / 2, FINGER_OPEN,
                 drawer=opening),
            _Key(np.array([bar - opening, y, HANDLE_Z - 0.02]), math.pi / 2, 0.012,
                 drawer=opening),
            _Key(np.array([bar - end, y, HANDLE_Z - 0.02]), math.pi / 2, 0.012, drawer=end),
            _Key(np.array([bar - end, y, HANDLE_Z + 0.06]), math.pi / 2, FINGER_OPEN,
                 drawer=end),
            _Key(start + rng.uniform(-0.05, 0.05, 3), 0.0, FINGER_OPEN, drawer=end),
        ]

    def _hand_pose(self, pos: np.ndarray, yaw: float, opening: float) -> None:
        d = self.data
        d.mocap_pos[self._hand_mocap] = pos
        d.mocap_quat[self._hand_mocap] = (math.cos(yaw / 2), 0, 0, math.sin(yaw / 2))
        d.qpos[self._thumb] = -opening
        d.qpos[self._index] = opening

    def clip(self, task_name: str, seed: int, fps: float = 10.0) -> np.ndarray:
        """Frames (N, H, W, 3) uint8 of one clip of `task_name` (a VIDEO_TASKS name)."""
        if task_name not in VIDEO_TASKS:
            raise ConfigError(f'unknown video task {task_name!r}; known: '
                              f'{", ".join(sorted(VIDEO_TASKS))}')
        task = VIDEO_TASKS[task_name]
        rng = np.random.default_rng(seed)
        layout = self._layout(task, rng)
        self._apply(layout, rng)
        keys = self._keys(task, layout, rng)
        speed = rng.uniform(*HAND_SPEED)
        dt = 1.0 / fps
        frames = []
        carried: tuple[str, np.ndarray, float] | None = None
        for k0, k1 in zip(keys[:-1], keys[1:]):
            distance = float(np.linalg.norm(k1.pos - k0.pos))
            duration = max(2 * dt, distance / speed, abs(k1.opening - k0.opening) / 0.1)
            steps = max(2, int(round(duration / dt)))
            for s in range(steps):
                u = (s + 1) / steps
                u = 0.5 - 0.5 * math.cos(math.pi * u)   # ease in / out like a human reach
                pos = (1 - u) * k0.pos + u * k1.pos
                yaw = (1 - u) * k0.yaw + u * k1.yaw
                opening = (1 - u) * k0.opening + u * k1.opening
                self._hand_pose(pos, yaw, opening)
                if k0.carry and k1.carry and task.obj is not None:
                    if carried is None:
                        x, y, obj_yaw = layout.objects[task.obj]
                        carried = (task.obj, np.array([x, y, object_spec(task.obj).rest_z])
                                   - k0.pos, obj_yaw - k0.yaw)
                    name, offset, dyaw = carried
                    self._set_object(name, pos + offset, yaw + dyaw)
                if k0.drawer is not None and k1.drawer is not None:
                    self.data.qpos[self._drawer] = (1 - u) * k0.drawer + u * k1.drawer
                mujoco.mj_forward(self.model, self.data)
                self.renderer.update_scene(self.data, camera=self.camera)
                frames.append(self.renderer.render().copy())
        return np.stack(frames)


__all__ = ['HumanVideoScene', 'VIDEO_TASKS', 'VIDEO_PICK_OBJECTS', 'OBJECTS']
