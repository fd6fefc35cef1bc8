"""MJCF of a WidowX 250 6DOF (wx250s) on a table, written by hand from primitive geoms.

The arm's kinematics are derived from the product-of-exponentials numbers of docs/robot.md
(the same ones `robot/kinematics.py` uses), so MuJoCo's end-effector site and
`WidowXKinematics.fk` agree (a test checks 1 mm): every joint sits on its screw axis,
the point q on an axis follows from v = -w x q, and all link frames are aligned with the
base at the home pose:
  waist        z axis through (0, 0, 0)
  shoulder     y axis through (0, 0, 0.11065)
  elbow        y axis through (0.04975, 0, 0.36065)
  forearm_roll x axis at height 0.36065 (placed at x = 0.17475)
  wrist_angle  y axis through (0.29975, 0, 0.36065)
  wrist_rotate x axis at height 0.36065 (placed at x = 0.36475)
  ee site      (0.458325, 0, 0.36065), identity orientation (HOME_POSE)
Link shapes only roughly follow the real robot; the arm links do not collide (only the
gripper palm and fingers touch the world), which matches how the Bridge data was taken
(nobody drove the forearm into the table).

The scene (objects, containers, drawer) is assembled per task from the catalogues below;
objects not used in an episode are parked on the floor far outside the camera view, so
one compiled model serves every episode of an environment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Sequence

import numpy as np

from vptr_training.robot.kinematics import FINGER_LIMITS, HOME_POSE

SIM_ROBOT_MODEL = 'wx250s'     # the arm this model is (ROBOT_MODELS in robot/kinematics.py)
ARM_JOINTS = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')
FINGER_JOINTS = ('left_finger', 'right_finger')
EE_SITE = 'ee_site'
CAMERA = 'over_shoulder'
TABLE_GEOM = 'table_top'

# The finger's inner face sits this far inside its joint position: a closed gripper
# (0.015 m per finger) leaves a 14 mm gap, an open one (0.037 m) 58 mm.
FINGER_FACE_INSET = 0.008
FINGER_PAD_HALF = (0.02, 0.005, 0.011)  # along the gripper, closing direction, width
# s; 60 physics steps per 5 Hz control step and exactly 3 per 10 ms servo tick. Checked
# with the scripted experts (150/150 successes over every task and condition, as with
# 0.0025 s, for 37% less physics time); 0.004 s drops cubes from the gripper.
TIMESTEP = 1.0 / 300.0
FLOOR_Z = -0.75   # floor under the table
# Unused bodies wait on a shelf inside the (opaque, visual-only) table leg: hidden from
# every viewpoint, and cheap (a far-away floor would cost render time and show up).
PARK_Z = -0.4


def park_object(index: int) -> np.ndarray:
    """Resting place (x, y, z of the body origin + 5 cm) of unused free object `index`."""
    return np.array([-0.02 + 0.07 * (index % 10), -0.05 + 0.08 * (index // 10), PARK_Z + 0.05])


def park_container(index: int) -> np.ndarray:
    return np.array([0.0 + 0.2 * index, 0.32, PARK_Z])


PARK_CABINET = np.array([0.3, -0.25, PARK_Z])

# Fixed camera like Bridge's: elevated, across the table and to the side, looking down
# at the workspace with the arm coming in from the top of the image; 640x480 (4:3).
CAMERA_POS = np.array([0.62, -0.52, 0.62])
# Framed on the table zone (fovy 30 deg, was 42 with the view centred higher): at 64x64 an
# object then spans about twice the pixels. Measured: with the wider frame, image BC fitted
# 50 demos to a low training error and still never grasped (0-1/20), the corn being about
# 6x2 pixels and one pixel about 1.5 cm of table (docs/results.md).
CAMERA_TARGET = np.array([0.30, 0.04, 0.03])
CAMERA_FOVY = 30.0


@dataclass(frozen=True)
class GeomSpec:
    """One primitive of an object, in the object's frame (MJCF type/size/pos/euler)."""
    type: str
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    euler: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fromto: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """A free (movable) object.

    rest_z: height of the body origin when resting on the table; radius: footprint
    radius used for placement; grasp_z: EE height above the table for a top grasp;
    elongated: the object's long axis is its local x (grasp across it).
    """
    name: str
    noun: str
    geoms: tuple[GeomSpec, ...]
    rgba: tuple[float, float, float, float]
    rest_z: float
    radius: float
    grasp_z: float
    mass: float = 0.04
    elongated: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """A static receptacle: objects count as placed when inside `inner_radius` (xy)."""
    name: str
    noun: str
    preposition: str          # 'on' or 'in'
    kind: str                 # 'plate' | 'bowl' | 'towel'
    radius: float             # footprint, for placement
    inner_radius: float
    height: float             # top of the rim / surface above the table
    floor: float              # where a placed object rests (above the table)
    rgba: tuple[float, float, float, float] = (0.9, 0.9, 0.9, 1.0)


def _capsule_x(radius: float, half: float) -> GeomSpec:
    return GeomSpec('capsule', (radius,), fromto=(-half, 0, 0, half, 0, 0))


# Objects the robot data uses (training distribution).
OBJECTS: dict[str, ObjectSpec] = {o.name: o for o in (
    ObjectSpec('carrot', 'carrot', (_capsule_x(0.012, 0.035),), (0.95, 0.45, 0.08, 1),
               rest_z=0.012, radius=0.05, grasp_z=0.012, elongated=True),
    ObjectSpec('cube', 'cube', (GeomSpec('box', (0.017, 0.017, 0.017)),),
               (0.85, 0.1, 0.1, 1), rest_z=0.017, radius=0.03, grasp_z=0.016),
    ObjectSpec('eggplant', 'eggplant', (GeomSpec('ellipsoid', (0.042, 0.02, 0.018)),),
               (0.4, 0.12, 0.5, 1), rest_z=0.018, radius=0.05, grasp_z=0.016,
               elongated=True),
    ObjectSpec('corn', 'corn', (_capsule_x(0.014, 0.03),), (0.95, 0.85, 0.2, 1),
               rest_z=0.014, radius=0.05, grasp_z=0.014, elongated=True),
    ObjectSpec('sponge', 'sponge', (GeomSpec('box', (0.032, 0.02, 0.013)),),
               (0.55, 0.8, 0.25, 1), rest_z=0.013, radius=0.04, grasp_z=0.013,
               elongated=True),
    ObjectSpec('can', 'can', (GeomSpec('cylinder', (0.017, 0.03)),), (0.15, 0.35, 0.85, 1),
               rest_z=0.03, radius=0.03, grasp_z=0.035),
    # Distractors seen in training.
    ObjectSpec('spoon', 'spoon', (GeomSpec('box', (0.045, 0.007, 0.004)),
                                  GeomSpec('ellipsoid', (0.016, 0.012, 0.005),
                                           pos=(0.05, 0, 0))),
               (0.7, 0.7, 0.72, 1), rest_z=0.005, radius=0.07, grasp_z=0.005,
               elongated=True),
    ObjectSpec('mushroom', 'mushroom', (GeomSpec('cylinder', (0.008, 0.012)),
                                        GeomSpec('ellipsoid', (0.022, 0.022, 0.01),
                                                 pos=(0, 0, 0.014))),
               (0.85, 0.75, 0.6, 1), rest_z=0.012, radius=0.03, grasp_z=0.02),
    ObjectSpec('block', 'green block', (GeomSpec('box', (0.025, 0.015, 0.015)),),
               (0.1, 0.6, 0.2, 1), rest_z=0.015, radius=0.035, grasp_z=0.015,
               elongated=True),
    # Distractors never seen in training (condition 'new_distractors').
    ObjectSpec('pepper', 'pepper', (GeomSpec('ellipsoid', (0.025, 0.025, 0.02)),
                                    GeomSpec('cylinder', (0.004, 0.008), pos=(0, 0, 0.025))),
               (0.1, 0.75, 0.7, 1), rest_z=0.02, radius=0.035, grasp_z=0.02),
    ObjectSpec('star', 'star toy', (GeomSpec('box', (0.03, 0.008, 0.008)),
                                    GeomSpec('box', (0.03, 0.008, 0.008), euler=(0, 0, 1.047)),
                                    GeomSpec('box', (0.03, 0.008, 0.008),
                                             euler=(0, 0, 2.094))),
               (0.95, 0.3, 0.75, 1), rest_z=0.008, radius=0.04, grasp_z=0.008),
    ObjectSpec('tower', 'tower', (GeomSpec('box', (0.015, 0.015, 0.012)),
                                  GeomSpec('box', (0.011, 0.011, 0.01), pos=(0, 0, 0.022)),
                                  GeomSpec('box', (0.007, 0.007, 0.008), pos=(0, 0, 0.04))),
               (1.0, 1.0, 1.0, 1), rest_z=0.012, radius=0.03, grasp_z=0.02),
    ObjectSpec('donut', 'donut', tuple(
        GeomSpec('capsule', (0.007,), fromto=(
            0.022 * math.cos(a), 0.022 * math.sin(a), 0,
            0.022 * math.cos(a + 1.047), 0.022 * math.sin(a + 1.047), 0))
        for a in np.arange(6) * 1.047), (0.55, 0.3, 0.1, 1), rest_z=0.007, radius=0.035,
        grasp_z=0.007),
)}

# Extra shapes only the human videos use (a wider object set than the robot saw).
VIDEO_ONLY_OBJECTS: dict[str, ObjectSpec] = {o.name: o for o in (
    ObjectSpec('apple', 'apple', (GeomSpec('sphere', (0.022,)),), (0.8, 0.05, 0.1, 1),
               rest_z=0.022, radius=0.03, grasp_z=0.022),
    ObjectSpec('cup', 'cup', (GeomSpec('cylinder', (0.022, 0.035)),), (0.95, 0.95, 0.3, 1),
               rest_z=0.035, radius=0.03, grasp_z=0.04),
    ObjectSpec('marker', 'marker', (_capsule_x(0.007, 0.05),), (0.1, 0.1, 0.1, 1),
               rest_z=0.007, radius=0.06, grasp_z=0.007, elongated=True),
    ObjectSpec('lemon', 'lemon', (GeomSpec('ellipsoid', (0.03, 0.021, 0.021)),),
               (0.98, 0.95, 0.2, 1), rest_z=0.021, radius=0.035, grasp_z=0.021,
               elongated=True),
)}

CONTAINERS: dict[str, ContainerSpec] = {c.name: c for c in (
    ContainerSpec('plate', 'plate', 'on', 'plate', radius=0.075, inner_radius=0.055,
                  height=0.006, floor=0.006, rgba=(0.92, 0.92, 0.88, 1)),
    ContainerSpec('bowl', 'bowl', 'in', 'bowl', radius=0.08, inner_radius=0.052,
                  height=0.04, floor=0.006, rgba=(0.2, 0.45, 0.8, 1)),
    ContainerSpec('towel', 'towel', 'on', 'towel', radius=0.075, inner_radius=0.055,
                  height=0.004, floor=0.004, rgba=(0.3, 0.3, 0.75, 1)),
)}

# Drawer cabinet (front faces the robot, -x). Dimensions in metres.
DRAWER_TRAVEL = 0.09
CABINET_HALF = (0.07, 0.09, 0.045)       # depth (x), width (y), height (z)
HANDLE_OFFSET = 0.045                     # how far the handle bar stands off the front
HANDLE_Z = 0.045                          # handle height above the table


def lookat_quat(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """MuJoCo quaternion (w, x, y, z) of a camera at pos looking at target (z-up world).

    MuJoCo cameras look along their -z axis with +y up in the image.
    """
    forward = np.asarray(target, float) - np.asarray(pos, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    R = np.stack([right, up, -forward], axis=1)
    return matrix_to_quat(R)


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    w = math.sqrt(max(0.0, 1.0 + R[0, 0] + R[1, 1] + R[2, 2])) / 2.0
    x = math.copysign(math.sqrt(max(0.0, 1.0 + R[0, 0] - R[1, 1] - R[2, 2])) / 2.0,
                      R[2, 1] - R[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1.0 - R[0, 0] + R[1, 1] - R[2, 2])) / 2.0,
                      R[0, 2] - R[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1.0 - R[0, 0] - R[1, 1] + R[2, 2])) / 2.0,
                      R[1, 0] - R[0, 1])
    q = np.array([w, x, y, z])
    return q / np.linalg.norm(q)


def _fmt(values: Sequence[float]) -> str:
    return ' '.join(f'{float(v):.10g}' for v in values)


def _geom_xml(g: GeomSpec, name: str, rgba: Sequence[float], extra: str = '') -> str:
    where = (f'fromto="{_fmt(g.fromto)}"' if g.fromto is not None
             else f'pos="{_fmt(g.pos)}" euler="{_fmt(g.euler)}"')
    return (f'<geom name="{name}" type="{g.type}" size="{_fmt(g.size)}" {where} '
            f'rgba="{_fmt(rgba)}" {extra}/>')


def _arm_xml() -> str:
    """The wx250s arm, bodies nested at the screw-axis points (see module docstring)."""
    lo, hi = FINGER_LIMITS
    ee_x = HOME_POSE[0, 3]
    pad_x, pad_y, pad_z = FINGER_PAD_HALF
    pad_cx = ee_x - 0.013 - 0.36475  # pad centre, in the gripper frame
    # Pad centre offset from the joint position so the inner face is FINGER_FACE_INSET in.
    pad_cy = FINGER_FACE_INSET - pad_y
    visual = 'class="visual"'
    return f"""
    <body name="base_link" pos="0 0 0">
      <geom type="box" size="0.07 0.07 0.02" pos="0 0 0.02" rgba="0.1 0.1 0.1 1" {visual}/>
      <body name="shoulder_link" pos="0 0 0" gravcomp="1">
        <joint name="waist" axis="0 0 1" range="{_fmt(_limit('waist'))}"/>
        <geom type="cylinder" size="0.045 0.035" pos="0 0 0.075" rgba="0.15 0.15 0.15 1"
              {visual}/>
        <body name="upper_arm_link" pos="0 0 0.11065" gravcomp="1">
          <joint name="shoulder" axis="0 1 0" range="{_fmt(_limit('shoulder'))}"/>
          <geom type="capsule" size="0.025" fromto="0 0 0 0.04975 0 0.25"
                rgba="0.12 0.12 0.12 1" {visual}/>
          <body name="forearm_link" pos="0.04975 0 0.25" gravcomp="1">
            <joint name="elbow" axis="0 1 0" range="{_fmt(_limit('elbow'))}"/>
            <geom type="capsule" size="0.023" fromto="0 0 0 0.125 0 0"
                  rgba="0.12 0.12 0.12 1" {visual}/>
            <body name="upper_forearm_link" pos="0.125 0 0" gravcomp="1">
              <joint name="forearm_roll" axis="1 0 0" range="{_fmt(_limit('forearm_roll'))}"/>
              <geom type="capsule" size="0.02" fromto="0 0 0 0.125 0 0"
                    rgba="0.16 0.16 0.16 1" {visual}/>
              <body name="wrist_link" pos="0.125 0 0" gravcomp="1">
                <joint name="wrist_angle" axis="0 1 0" range="{_fmt(_limit('wrist_angle'))}"/>
                <geom type="capsule" size="0.02" fromto="0 -0.02 0 0 0.02 0"
                      rgba="0.1 0.1 0.1 1" {visual}/>
                <geom type="capsule" size="0.017" fromto="0 0 0 0.065 0 0"
                      rgba="0.12 0.12 0.12 1" {visual}/>
                <body name="gripper_link" pos="0.065 0 0" gravcomp="1">
                  <joint name="wrist_rotate" axis="1 0 0"
                         range="{_fmt(_limit('wrist_rotate'))}"/>
                  <geom name="palm" type="box" size="0.018 0.042 0.016" pos="0.032 0 0"
                        rgba="0.08 0.08 0.08 1" class="gripper"/>
                  <site name="{EE_SITE}" pos="{ee_x - 0.36475:.6f} 0 0" size="0.004"
                        rgba="1 0 0 0"/>
                  <geom type="box" size="0.008 0.036 0.01" pos="0.055 0 0"
                        rgba="0.2 0.2 0.2 1" {visual}/>
                  <body name="left_finger_link" pos="0 0 0" gravcomp="1">
                    <joint name="left_finger" type="slide" axis="0 1 0"
                           range="{lo} {hi}" damping="5"/>
                    <geom name="left_pad" type="box" size="{pad_x} {pad_y} {pad_z}"
                          pos="{pad_cx:.6f} {-pad_cy:.6f} 0" rgba="0.75 0.75 0.75 1"
                          class="gripper"/>
                  </body>
                  <body name="right_finger_link" pos="0 0 0" gravcomp="1">
                    <joint name="right_finger" type="slide" axis="0 1 0"
                           range="{-hi} {-lo}" damping="5"/>
                    <geom name="right_pad" type="box" size="{pad_x} {pad_y} {pad_z}"
                          pos="{pad_cx:.6f} {pad_cy:.6f} 0" rgba="0.75 0.75 0.75 1"
                          class="gripper"/>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


def _limit(joint: str) -> tuple[float, float]:
    from vptr_training.robot.kinematics import _LIMITS_WX250S
    return _LIMITS_WX250S[joint]


def _arm_actuators() -> str:
    # Stiff position servos: the Dynamixels hold their goal within a fraction of a degree
    # and reach a 0.2 s goal well inside the step, as the Bridge controller assumes.
    lines = []
    for name in ARM_JOINTS:
        lines.append(f'<position name="{name}" joint="{name}" kp="300" kv="12" '
                     f'ctrlrange="{_fmt(_limit(name))}" forcerange="-40 40"/>')
    lo, hi = FINGER_LIMITS
    # Finite finger force: closing on an object squeezes with ~ kp * error <= 25 N.
    lines.append(f'<position name="left_finger" joint="left_finger" kp="1500" kv="20" '
                 f'ctrlrange="{lo} {hi}" forcerange="-25 25"/>')
    lines.append(f'<position name="right_finger" joint="right_finger" kp="1500" kv="20" '
                 f'ctrlrange="{-hi} {-lo}" forcerange="-25 25"/>')
    return '\n    '.join(lines)


def _object_xml(spec: ObjectSpec, index: int) -> str:
    geoms = '\n      '.join(
        _geom_xml(g, f'{spec.name}_g{i}', spec.rgba, 'class="object"')
        for i, g in enumerate(spec.geoms))
    return f"""
    <body name="obj_{spec.name}" pos="{_fmt(park_object(index))}">
      <freejoint name="obj_{spec.name}_joint"/>
      <inertial pos="0 0 0" mass="{spec.mass}" diaginertia="2e-5 2e-5 2e-5"/>
      {geoms}
    </body>"""


def _container_xml(spec: ContainerSpec, index: int) -> str:
    name = f'cont_{spec.name}'
    parts = []
    if spec.kind == 'plate':
        parts.append(f'<geom name="{name}_base" type="cylinder" size="{spec.radius} 0.003" '
                     f'pos="0 0 0.003" rgba="{_fmt(spec.rgba)}" class="object"/>')
        parts.append(f'<geom name="{name}_rim" type="cylinder" size="{spec.radius - 0.008} '
                     f'0.0005" pos="0 0 0.0065" rgba="{_fmt(np.array(spec.rgba) * 0.85)}" '
                     f'class="visual"/>')
    elif spec.kind == 'towel':
        parts.append(f'<geom name="{name}_base" type="box" size="{spec.radius} '
                     f'{spec.radius * 0.8} 0.002" pos="0 0 0.002" rgba="{_fmt(spec.rgba)}" '
                     f'class="object"/>')
    else:  # bowl: a base and a ring of wall segments
        parts.append(f'<geom name="{name}_base" type="cylinder" size="{spec.inner_radius} '
                     f'0.003" pos="0 0 0.003" rgba="{_fmt(spec.rgba)}" class="object"/>')
        n = 14
        wall_r = (spec.inner_radius + spec.radius) / 2.0
        half_len = wall_r * math.tan(math.pi / n) + 0.002
        thick = (spec.radius - spec.inner_radius) / 2.0
        for k in range(n):
            a = 2 * math.pi * k / n
            parts.append(
                f'<geom name="{name}_wall{k}" type="box" size="{thick:.4f} {half_len:.4f} '
                f'{spec.height / 2:.4f}" pos="{wall_r * math.cos(a):.5f} '
                f'{wall_r * math.sin(a):.5f} {spec.height / 2:.4f}" euler="0 0 {a:.5f}" '
                f'rgba="{_fmt(spec.rgba)}" class="object"/>')
    body = '\n      '.join(parts)
    return f"""
    <body name="{name}" pos="{_fmt(park_container(index))}">
      {body}
    </body>"""


def _drawer_xml() -> str:
    dx, dy, dz = CABINET_HALF
    wall = 0.005
    grey = '0.55 0.4 0.25 1'
    front = '0.7 0.55 0.35 1'
    # Cabinet origin: centre of its footprint on the table. The drawer slides along -x.
    return f"""
    <body name="cabinet" pos="{_fmt(PARK_CABINET)}">
      <geom name="cab_top" type="box" size="{dx} {dy} {wall}" pos="0 0 {2 * dz - wall}"
            rgba="{grey}" class="object"/>
      <geom name="cab_left" type="box" size="{dx} {wall} {dz}" pos="0 {dy - wall} {dz}"
            rgba="{grey}" class="object"/>
      <geom name="cab_right" type="box" size="{dx} {wall} {dz}" pos="0 {-dy + wall} {dz}"
            rgba="{grey}" class="object"/>
      <geom name="cab_back" type="box" size="{wall} {dy} {dz}" pos="{dx - wall} 0 {dz}"
            rgba="{grey}" class="object"/>
      <body name="drawer" pos="0 0 0">
        <joint name="drawer_slide" type="slide" axis="-1 0 0" range="0 {DRAWER_TRAVEL}"
               damping="8" frictionloss="0.5"/>
        <inertial pos="0 0 0.02" mass="0.2" diaginertia="1e-3 1e-3 1e-3"/>
        <geom name="drawer_front" type="box" size="{wall} {dy - 2 * wall} {dz - 2 * wall}"
              pos="{-dx + wall} 0 {dz}" rgba="{front}" class="object"/>
        <geom name="drawer_bottom" type="box" size="{dx - 2 * wall} {dy - 3 * wall} {wall}"
              pos="0 0 {wall + 0.002}" rgba="{front}" class="object"/>
        <geom name="drawer_back" type="box" size="{wall} {dy - 3 * wall} {dz * 0.6}"
              pos="{dx - 3 * wall} 0 {dz * 0.6}" rgba="{front}" class="object"/>
        <geom name="handle_post_l" type="box" size="{HANDLE_OFFSET / 2} 0.005 0.005"
              pos="{-dx - HANDLE_OFFSET / 2} 0.04 {HANDLE_Z}" rgba="0.2 0.2 0.2 1"
              class="object"/>
        <geom name="handle_post_r" type="box" size="{HANDLE_OFFSET / 2} 0.005 0.005"
              pos="{-dx - HANDLE_OFFSET / 2} -0.04 {HANDLE_Z}" rgba="0.2 0.2 0.2 1"
              class="object"/>
        <geom name="handle_bar" type="capsule" size="0.006"
              fromto="{-dx - HANDLE_OFFSET} -0.05 {HANDLE_Z} {-dx - HANDLE_OFFSET} 0.05 {HANDLE_Z}"
              rgba="0.2 0.2 0.2 1" class="object"/>
      </body>
    </body>"""


def _hand_xml() -> str:
    """A floating two-finger 'human hand' (mocap palm, thumb and index on slides), no arm.

    The human videos animate it kinematically (qpos / mocap_pos, no physics)."""
    skin = '0.87 0.67 0.55 1'
    return f"""
    <body name="hand" mocap="true" pos="0.3 0 0.3">
      <geom name="hand_palm" type="ellipsoid" size="0.035 0.05 0.018" pos="0 0 0.065"
            rgba="{skin}" class="visual"/>
      <geom name="hand_wrist" type="capsule" size="0.024" fromto="-0.01 0 0.075 -0.09 0 0.2"
            rgba="{skin}" class="visual"/>
      <geom name="hand_knuckles" type="capsule" size="0.012"
            fromto="0.02 -0.03 0.05 0.02 0.03 0.05" rgba="{skin}" class="visual"/>
      <body name="thumb" pos="0 0 0">
        <joint name="thumb_slide" type="slide" axis="0 1 0" range="-0.05 0"/>
        <geom name="hand_thumb" type="capsule" size="0.0095"
              fromto="0 -0.005 0.055 0 -0.005 0.005" rgba="{skin}" class="visual"/>
      </body>
      <body name="index" pos="0 0 0">
        <joint name="index_slide" type="slide" axis="0 1 0" range="0 0.05"/>
        <geom name="hand_index" type="capsule" size="0.009"
              fromto="0.012 0.005 0.055 0.012 0.005 0.0" rgba="{skin}" class="visual"/>
        <geom name="hand_middle" type="capsule" size="0.009"
              fromto="-0.008 0.008 0.055 -0.008 0.008 0.004" rgba="{skin}" class="visual"/>
      </body>
    </body>"""


@dataclass
class SceneSpec:
    objects: Sequence[str] = field(default_factory=tuple)
    containers: Sequence[str] = field(default_factory=tuple)
    drawer: bool = False
    robot: bool = True
    hand: bool = False


def object_spec(name: str) -> ObjectSpec:
    return OBJECTS[name] if name in OBJECTS else VIDEO_ONLY_OBJECTS[name]


def build_scene_xml(scene: SceneSpec) -> str:
    """The MJCF string of the table scene with the requested bodies."""
    bodies = []
    if scene.robot:
        bodies.append(_arm_xml())
    if scene.hand:
        bodies.append(_hand_xml())
    for i, name in enumerate(scene.containers):
        bodies.append(_container_xml(CONTAINERS[name], i))
    if scene.drawer:
        bodies.append(_drawer_xml())
    for i, name in enumerate(scene.objects):
        bodies.append(_object_xml(object_spec(name), i))
    actuators = _arm_actuators() if scene.robot else ''
    cam_quat = lookat_quat(CAMERA_POS, CAMERA_TARGET)
    return f"""<mujoco model="wx250s_table">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <!-- No shadows, no multisampling (offsamples 0) and coarse curved primitives:
         software GL (llvmpipe) renders the 128 px observation in ~3 ms this way (4x MSAA
         took ~5 ms, ~22 ms at 640x480). Every frame is area-resized to the model size
         afterwards, which does the anti-aliasing: at 64 px the mean pixel difference to a
         multisampled frame is 0.2 levels from 320x240 and 0.6 from 171x128 (bench_sim). -->
    <quality shadowsize="0" offsamples="0" numslices="12" numstacks="6" numquads="1"/>
    <global offwidth="640" offheight="480"/>
    <headlight ambient="0.25 0.25 0.25" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <default>
    <joint armature="0.02" damping="0.5"/>
    <geom friction="1.2 0.01 0.001" solref="0.005 1"/>
    <default class="visual">
      <geom contype="0" conaffinity="0" density="200"/>
    </default>
    <default class="gripper">
      <geom contype="1" conaffinity="1" condim="4" friction="1.8 0.02 0.002" density="300"/>
    </default>
    <default class="object">
      <geom contype="1" conaffinity="1" condim="4" friction="1.5 0.02 0.002"/>
    </default>
  </default>
  <worldbody>
    <light name="key" pos="0.3 -0.3 1.2" dir="0 0.2 -1" directional="true"
           diffuse="0.55 0.55 0.55" specular="0.1 0.1 0.1" castshadow="false"/>
    <light name="fill" pos="0.6 0.5 0.8" dir="-0.3 -0.4 -1" directional="true"
           diffuse="0.25 0.25 0.25" specular="0 0 0" castshadow="false"/>
    <geom name="floor" type="box" size="3 3 0.01" pos="0.3 0 {FLOOR_Z - 0.01}"
          rgba="0.42 0.4 0.38 1" class="visual"/>
    <!-- Parking shelf for unused bodies, inside the table leg (see PARK_Z). -->
    <geom name="parking" type="box" size="0.38 0.43 0.01" pos="0.3 0.05 {PARK_Z - 0.01}"
          rgba="0.3 0.3 0.3 1" class="object"/>
    <geom name="{TABLE_GEOM}" type="box" size="0.45 0.5 0.02" pos="0.3 0.05 -0.02"
          rgba="0.62 0.5 0.38 1" class="object"/>
    <geom name="table_leg" type="box" size="0.4 0.45 {(-FLOOR_Z - 0.04) / 2}"
          pos="0.3 0.05 {(FLOOR_Z - 0.04) / 2}" rgba="0.4 0.3 0.2 1" class="visual"/>
    <geom name="back_wall" type="box" size="0.02 1.2 0.6" pos="-0.4 0.1 0.1"
          rgba="0.82 0.82 0.78 1" class="visual"/>
    <geom name="side_wall" type="box" size="1.0 0.02 0.6" pos="0.4 0.75 0.1"
          rgba="0.78 0.8 0.82 1" class="visual"/>
    <camera name="{CAMERA}" pos="{_fmt(CAMERA_POS)}" quat="{_fmt(cam_quat)}"
            fovy="{CAMERA_FOVY}"/>
    {''.join(bodies)}
  </worldbody>
  <actuator>
    {actuators}
  </actuator>
</mujoco>"""
