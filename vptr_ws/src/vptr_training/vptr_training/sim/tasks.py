"""Task registry of the simulated WidowX: scene contents, randomisation, success.

Two skill families, as in the Bridge data the real system is trained on:
- "put X on/in Y" (pick-and-place of an object onto a plate / towel or into a bowl);
- "open / close the drawer" (pull or push the handle of a sliding drawer).

Evaluation conditions follow V-PTR's generalisation tests:
- 'seen': object and receptacle positions from the training distribution, distractors
  from the training pool;
- 'new_positions': the task object (or the cabinet) is placed in a held-out region of
  the table that training never uses;
- 'new_distractors': distractor objects (shapes and colours) that training never shows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Protocol

import numpy as np

from vptr_training.errors import ConfigError
from vptr_training.sim.model import (CABINET_HALF, CONTAINERS, DRAWER_TRAVEL, HANDLE_OFFSET,
                                     OBJECTS, SceneSpec)

CONDITIONS = ('seen', 'new_positions', 'new_distractors')

SEEN_DISTRACTORS = ('spoon', 'mushroom', 'block')
NEW_DISTRACTORS = ('pepper', 'star', 'tower', 'donut')

# Table area where objects and receptacles are placed (centres, base frame, metres).
TABLE_ZONE_LOW = np.array([0.20, -0.15])
TABLE_ZONE_HIGH = np.array([0.42, 0.20])
# Distractors may also sit where the arm does not need to reach.
DISTRACTOR_ZONE_LOW = np.array([0.16, -0.22])
DISTRACTOR_ZONE_HIGH = np.array([0.44, 0.27])
# Held-out region for the task object under 'new_positions' (never used in training).
HELD_OUT_LOW = np.array([0.35, -0.15])
HELD_OUT_HIGH = np.array([0.42, -0.06])
# Cabinet (drawer tasks): x of the closed drawer front, y of the centre.
CABINET_FRONT_X = (0.33, 0.37)
CABINET_Y_SEEN = (-0.06, 0.06)
CABINET_Y_HELD_OUT = (0.09, 0.13)

PLACEMENT_TRIES = 200
PLACEMENT_MARGIN = 0.01

DRAWER_OPEN_SUCCESS = 0.06    # slide (m) at or beyond which the drawer counts as open
DRAWER_CLOSED_SUCCESS = 0.012  # slide (m) at or below which it counts as closed


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str                     # 'pick_place' | 'open_drawer' | 'close_drawer'
    language: str
    obj: str | None = None        # pick_place: the object to move
    container: str | None = None  # pick_place: where it goes


def _pick_place(obj: str, container: str) -> TaskSpec:
    c = CONTAINERS[container]
    return TaskSpec(f'put_{obj}_{c.preposition}_{container}', 'pick_place',
                    f'put the {OBJECTS[obj].noun} {c.preposition} the {c.noun}', obj, container)


TASKS: dict[str, TaskSpec] = {t.name: t for t in (
    _pick_place('carrot', 'plate'),
    _pick_place('carrot', 'bowl'),
    _pick_place('cube', 'plate'),
    _pick_place('cube', 'bowl'),
    _pick_place('eggplant', 'towel'),
    _pick_place('corn', 'bowl'),
    _pick_place('sponge', 'plate'),
    _pick_place('can', 'towel'),
    TaskSpec('open_drawer', 'open_drawer', 'open the drawer'),
    TaskSpec('close_drawer', 'close_drawer', 'close the drawer'),
)}


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise ConfigError(f'unknown sim task {name!r}; known tasks: {", ".join(sorted(TASKS))}')
    return TASKS[name]


def check_condition(condition: str) -> str:
    if condition not in CONDITIONS:
        raise ConfigError(f'unknown evaluation condition {condition!r}; expected one of '
                          f'{", ".join(CONDITIONS)}')
    return condition


def distractor_pool(condition: str) -> tuple[str, ...]:
    return NEW_DISTRACTORS if condition == 'new_distractors' else SEEN_DISTRACTORS


def scene_for(task: TaskSpec, condition: str) -> SceneSpec:
    """Every body an environment of this task and condition may need."""
    objects = [task.obj] if task.obj else []
    objects += list(distractor_pool(condition))
    containers = [task.container] if task.container else []
    return SceneSpec(objects=objects, containers=containers,
                     drawer=task.kind in ('open_drawer', 'close_drawer'))


@dataclass
class Layout:
    """Where everything goes in one episode."""
    objects: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # x, y, yaw
    containers: dict[str, tuple[float, float]] = field(default_factory=dict)
    cabinet: tuple[float, float] | None = None    # centre x, y of the cabinet footprint
    drawer_opening: float = 0.0


class _Footprints:
    """Axis-aligned rectangles already taken on the table."""

    def __init__(self) -> None:
        self.boxes: list[tuple[np.ndarray, np.ndarray]] = []

    def free(self, low: np.ndarray, high: np.ndarray) -> bool:
        for b_low, b_high in self.boxes:
            if np.all(low < b_high + PLACEMENT_MARGIN) and np.all(high > b_low - PLACEMENT_MARGIN):
                return False
        return True

    def add(self, low: np.ndarray, high: np.ndarray) -> None:
        self.boxes.append((low, high))


def _in_held_out(xy: np.ndarray) -> bool:
    return bool(np.all(xy >= HELD_OUT_LOW) and np.all(xy <= HELD_OUT_HIGH))


def _place_disc(rng: np.random.Generator, taken: _Footprints, radius: float, low: np.ndarray,
                high: np.ndarray, what: str, avoid_held_out: bool,
                tries: int = PLACEMENT_TRIES) -> np.ndarray:
    for _ in range(tries):
        xy = rng.uniform(low, high)
        if avoid_held_out and _in_held_out(xy):
            continue
        box_low, box_high = xy - radius, xy + radius
        if taken.free(box_low, box_high):
            taken.add(box_low, box_high)
            return xy
    raise ConfigError(f'cannot place {what}: no free spot of radius {radius:.3f} m in '
                      f'x {low[0]:.2f}..{high[0]:.2f}, y {low[1]:.2f}..{high[1]:.2f} after '
                      f'{tries} tries (objects overlap or are out of reach)')


def sample_layout(task: TaskSpec, condition: str, rng: np.random.Generator,
                  tries: int = PLACEMENT_TRIES) -> Layout:
    """Random placement of the task's bodies and distractors (ConfigError if impossible)."""
    check_condition(condition)
    layout = Layout()
    taken = _Footprints()
    held_out = condition == 'new_positions'
    if task.kind == 'pick_place':
        assert task.obj is not None and task.container is not None
        spec = OBJECTS[task.obj]
        if held_out:
            xy = _place_disc(rng, taken, spec.radius, HELD_OUT_LOW, HELD_OUT_HIGH,
                             task.obj, False, tries)
        else:
            xy = _place_disc(rng, taken, spec.radius, TABLE_ZONE_LOW, TABLE_ZONE_HIGH,
                             task.obj, True, tries)
        layout.objects[task.obj] = (float(xy[0]), float(xy[1]),
                                    float(rng.uniform(-math.pi, math.pi)))
        cont = CONTAINERS[task.container]
        cxy = _place_disc(rng, taken, cont.radius, TABLE_ZONE_LOW, TABLE_ZONE_HIGH,
                          task.container, False, tries)
        layout.containers[task.container] = (float(cxy[0]), float(cxy[1]))
    else:
        front_x = rng.uniform(*CABINET_FRONT_X)
        y = rng.uniform(*(CABINET_Y_HELD_OUT if held_out else CABINET_Y_SEEN))
        dx, dy, _ = CABINET_HALF
        layout.cabinet = (float(front_x + dx), float(y))
        # Keep the cabinet, the open drawer, the handle and the gripper's approach free.
        taken.add(np.array([front_x - DRAWER_TRAVEL - HANDLE_OFFSET - 0.06, y - dy - 0.02]),
                  np.array([front_x + 2 * dx, y + dy + 0.02]))
        if task.kind == 'close_drawer':
            layout.drawer_opening = float(rng.uniform(0.065, DRAWER_TRAVEL))
        else:
            layout.drawer_opening = float(rng.uniform(0.0, 0.008))
    pool = distractor_pool(condition)
    low_count = 1 if condition == 'new_distractors' else 0
    count = int(rng.integers(low_count, 3))
    placed = 0
    # Distractors are optional clutter: one that finds no free spot (a large one, e.g. the
    # spoon, on a crowded table) is left out and the next of the pool tried, so that every
    # seed gives a scene; only the required minimum of 'new_distractors' can fail.
    for name in rng.permutation(np.array(pool)):
        if placed == count:
            break
        name = str(name)
        spec = OBJECTS[name]
        try:
            xy = _place_disc(rng, taken, spec.radius, DISTRACTOR_ZONE_LOW,
                             DISTRACTOR_ZONE_HIGH, f'distractor {name}', False, tries)
        except ConfigError:
            continue
        layout.objects[name] = (float(xy[0]), float(xy[1]),
                                float(rng.uniform(-math.pi, math.pi)))
        placed += 1
    if placed < low_count:
        raise ConfigError(f'cannot place any of the distractors {", ".join(pool)} on the '
                          'table (the task bodies leave no free spot)')
    return layout


# Appearance randomisation (per episode): table colours, light strength/direction, and a
# small perturbation of the camera pose.
TABLE_COLOURS = np.array([[0.62, 0.5, 0.38], [0.7, 0.6, 0.45], [0.5, 0.4, 0.3],
                          [0.75, 0.72, 0.68], [0.45, 0.45, 0.48], [0.58, 0.62, 0.55]])
CAMERA_POS_JITTER = 0.015   # metres
CAMERA_TARGET_JITTER = 0.02
LIGHT_SCALE = (0.75, 1.25)


@dataclass
class Appearance:
    table_rgb: np.ndarray
    light_scale: float
    light_dir_jitter: np.ndarray
    camera_pos_offset: np.ndarray
    camera_target_offset: np.ndarray


def sample_appearance(rng: np.random.Generator) -> Appearance:
    return Appearance(
        table_rgb=TABLE_COLOURS[rng.integers(len(TABLE_COLOURS))] * rng.uniform(0.92, 1.08),
        light_scale=float(rng.uniform(*LIGHT_SCALE)),
        light_dir_jitter=rng.uniform(-0.25, 0.25, size=3),
        camera_pos_offset=rng.uniform(-CAMERA_POS_JITTER, CAMERA_POS_JITTER, size=3),
        camera_target_offset=rng.uniform(-CAMERA_TARGET_JITTER, CAMERA_TARGET_JITTER, size=3),
    )


def task_success(task: TaskSpec, env: 'SuccessView') -> bool:
    """Whether the task is done in the environment's current state.

    pick_place: the object rests inside the receptacle (xy within its inner radius, not
    lifted above it) and the gripper has let go of it. Drawer: the slide is past the
    open / closed threshold.
    """
    if task.kind == 'pick_place':
        assert task.obj is not None and task.container is not None
        pos = env.object_position(task.obj)
        cont = CONTAINERS[task.container]
        cxy = env.container_position(task.container)
        inside = float(np.hypot(*(pos[:2] - cxy))) <= cont.inner_radius
        low_enough = pos[2] <= cont.height + OBJECTS[task.obj].rest_z + 0.025
        return bool(inside and low_enough and not env.gripper_touching(task.obj))
    if task.kind == 'open_drawer':
        return env.drawer_opening() >= DRAWER_OPEN_SUCCESS
    return env.drawer_opening() <= DRAWER_CLOSED_SUCCESS


class SuccessView(Protocol):
    """What `task_success` reads from an environment (WidowXSimEnv implements it)."""

    def object_position(self, name: str) -> np.ndarray: ...

    def container_position(self, name: str) -> np.ndarray: ...

    def drawer_opening(self) -> float: ...

    def gripper_touching(self, name: str) -> bool: ...
