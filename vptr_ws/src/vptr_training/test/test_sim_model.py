"""The hand-written wx250s MJCF against the shared kinematics (docs/robot.md numbers)."""
import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vptr_training.robot.kinematics import FINGER_LIMITS, WidowXKinematics  # noqa: E402
from vptr_training.sim import model as sim_model  # noqa: E402
from vptr_training.sim.tasks import scene_for, TASKS  # noqa: E402


@pytest.fixture(scope='module')
def compiled():
    scene = sim_model.SceneSpec(objects=list(sim_model.OBJECTS), containers=list(
        sim_model.CONTAINERS), drawer=True)
    m = mujoco.MjModel.from_xml_string(sim_model.build_scene_xml(scene))
    return m, mujoco.MjData(m)


def _arm_qpos_adr(m):
    return [m.jnt_qposadr[m.joint(n).id] for n in sim_model.ARM_JOINTS]


def test_ee_site_matches_fk_at_random_configurations(compiled):
    m, d = compiled
    kin = WidowXKinematics('wx250s')
    rng = np.random.default_rng(0)
    adr = _arm_qpos_adr(m)
    site = m.site(sim_model.EE_SITE).id
    worst_pos, worst_rot = 0.0, 0.0
    for _ in range(300):
        q = rng.uniform(kin.lower, kin.upper)
        d.qpos[adr] = q
        mujoco.mj_kinematics(m, d)
        T = kin.fk(q)
        worst_pos = max(worst_pos, np.linalg.norm(d.site_xpos[site] - T[:3, 3]))
        worst_rot = max(worst_rot, np.abs(d.site_xmat[site].reshape(3, 3) - T[:3, :3]).max())
    assert worst_pos < 1e-3
    assert worst_rot < 1e-3


def test_home_pose_and_joint_limits_match_robot_md(compiled):
    m, d = compiled
    kin = WidowXKinematics('wx250s')
    d.qpos[:] = 0
    mujoco.mj_kinematics(m, d)
    np.testing.assert_allclose(d.site_xpos[m.site(sim_model.EE_SITE).id],
                               [0.458325, 0.0, 0.36065], atol=1e-9)
    for i, name in enumerate(sim_model.ARM_JOINTS):
        np.testing.assert_allclose(m.jnt_range[m.joint(name).id], [kin.lower[i], kin.upper[i]])
        np.testing.assert_allclose(m.actuator_ctrlrange[m.actuator(name).id],
                                   [kin.lower[i], kin.upper[i]])
    np.testing.assert_allclose(m.jnt_range[m.joint('left_finger').id], FINGER_LIMITS)
    np.testing.assert_allclose(m.jnt_range[m.joint('right_finger').id],
                               [-FINGER_LIMITS[1], -FINGER_LIMITS[0]])


def test_rendering_setup_has_no_shadows_and_a_4_3_camera(compiled):
    m, _ = compiled
    assert m.vis.quality.shadowsize == 0
    assert not m.light_castshadow.any()
    assert m.nlight >= 1
    cam = m.camera(sim_model.CAMERA).id
    assert 20 < m.cam_fovy[cam] < 80


def test_the_camera_frames_the_whole_table_zone_and_the_reset_gripper(compiled):
    """The tight framing (objects twice the pixels at 64x64) still shows every place an
    object or receptacle can be put, with margin for the per-episode camera jitter."""
    from vptr_training.robot.conventions import RESET_STATE6
    from vptr_training.sim.tasks import TABLE_ZONE_HIGH, TABLE_ZONE_LOW
    m, d = compiled
    mujoco.mj_forward(m, d)
    cam = m.camera(sim_model.CAMERA).id
    rotation, position = d.cam_xmat[cam].reshape(3, 3), d.cam_xpos[cam]
    half_height = np.tan(np.radians(m.cam_fovy[cam]) / 2)
    half_width = half_height * 4.0 / 3.0
    points = [np.array([x, y, 0.0]) for x in (TABLE_ZONE_LOW[0], TABLE_ZONE_HIGH[0])
              for y in (TABLE_ZONE_LOW[1], TABLE_ZONE_HIGH[1])]
    points.append(RESET_STATE6[:3])
    for point in points:
        local = rotation.T @ (point - position)   # MuJoCo cameras look along -z, y up
        assert local[2] < 0
        u, v = local[0] / -local[2] / half_width, local[1] / -local[2] / half_height
        assert abs(u) < 0.95 and abs(v) < 0.95, (point, u, v)


def test_every_task_scene_compiles_with_its_bodies():
    for task in TASKS.values():
        scene = scene_for(task, 'new_distractors')
        m = mujoco.MjModel.from_xml_string(sim_model.build_scene_xml(scene))
        for name in scene.objects:
            assert m.body(f'obj_{name}').id > 0
        if task.kind != 'pick_place':
            assert m.joint('drawer_slide').id >= 0


def test_lookat_quaternion_points_the_camera_at_the_target():
    pos, target = np.array([0.6, -0.5, 0.6]), np.array([0.3, 0.0, 0.0])
    q = sim_model.lookat_quat(pos, target)
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, q)
    forward = -R.reshape(3, 3)[:, 2]      # cameras look along -z
    expected = (target - pos) / np.linalg.norm(target - pos)
    np.testing.assert_allclose(forward, expected, atol=1e-9)
