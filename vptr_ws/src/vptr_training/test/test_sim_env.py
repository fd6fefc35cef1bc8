"""WidowXSimEnv: gym API, Bridge controller semantics, tasks, randomisation, conditions."""
import math
import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vptr_training.errors import ConfigError  # noqa: E402
from vptr_training.robot.conventions import RESET_STATE6, WORKSPACE_HIGH  # noqa: E402
from vptr_training.robot.kinematics import FINGER_LIMITS  # noqa: E402
from vptr_training.sim import tasks as sim_tasks  # noqa: E402
from vptr_training.sim.env import WidowXSimEnv  # noqa: E402
from vptr_training.sim.model import CONTAINERS, OBJECTS  # noqa: E402
from vptr_training.sim.tasks import (CONDITIONS, get_task, NEW_DISTRACTORS,  # noqa: E402
                                     sample_layout, SEEN_DISTRACTORS, TASKS)


@pytest.fixture(scope='module')
def env():
    e = WidowXSimEnv('put_carrot_on_plate', image_size=64, seed=0)
    yield e
    e.close()


def test_reset_and_step_shapes_and_reset_pose(env):
    obs, info = env.reset(seed=3)
    assert obs['image'].shape == (64, 64, 3) and obs['image'].dtype == np.uint8
    assert obs['state'].shape == (7,) and obs['state'].dtype == np.float32
    assert env.observation_space.contains(obs)
    # Bridge reset pose: EE (0.3, 0, 0.15), gripper down (zero angles), open.
    np.testing.assert_allclose(obs['state'][:3], RESET_STATE6[:3], atol=3e-3)
    np.testing.assert_allclose(obs['state'][3:6], 0.0, atol=2e-2)
    assert obs['state'][6] > 0.95
    assert info['success'] is False and info['language'] == 'put the carrot on the plate'
    assert obs['image'].std() > 5  # a rendered scene, not a blank frame
    obs, reward, terminated, truncated, info = env.step(np.array([0.02, 0, 0, 0, 0, 0, 1.0]))
    assert obs['image'].shape == (64, 64, 3) and obs['state'].shape == (7,)
    assert isinstance(reward, float) and not terminated and not truncated
    assert info['ik_ok']


def test_actions_move_the_target_and_the_arm_follows(env):
    env.reset(seed=4)
    for _ in range(3):
        obs, *_ = env.step(np.array([0.03, 0.02, -0.02, 0, 0, 0.2, 1.0], np.float32))
    np.testing.assert_allclose(env.target6[:3], RESET_STATE6[:3] + [0.09, 0.06, -0.06],
                               atol=1e-9)
    np.testing.assert_allclose(env.target6[5], 0.6, atol=1e-9)
    # deltas are applied to the TARGET; the measured state tracks it within millimetres
    np.testing.assert_allclose(obs['state'][:3], env.target6[:3], atol=4e-3)
    assert abs(obs['state'][5] - 0.6) < 0.02
    # the gripper is absolute and thresholded at 0.5
    obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, 0.49]))
    obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, 0.49]))
    assert env.finger_positions()[0] < FINGER_LIMITS[0] + 2e-3 and obs['state'][6] < 0.3
    obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, 0.51]))
    obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, 0.51]))
    assert obs['state'][6] > 0.95


def test_out_of_box_actions_are_clipped_to_the_bridge_bounds_and_workspace(env):
    env.reset(seed=5)
    env.step(np.array([1.0, 0, 0, 0, 0, 0, 1]))            # clipped to 5 cm
    np.testing.assert_allclose(env.target6[0], RESET_STATE6[0] + 0.05, atol=1e-9)
    for _ in range(6):
        env.step(np.array([0, 0, 0.05, 0, 0, 0, 1]))
    assert env.target6[2] <= WORKSPACE_HIGH[2] + 1e-9


def test_unreachable_targets_hold_the_step(env):
    env.reset(seed=6)
    before = env.target6
    q_before = env.joint_positions()
    # pitching the gripper up by 0.25 rad per step soon has no IK solution inside the
    # joint limits; the controller must then skip the step and keep its target
    held = False
    for _ in range(16):
        _, _, _, _, info = env.step(np.array([0, 0, 0, 0, -0.25, 0, 1]))
        if not info['ik_ok']:
            held = True
            target = env.target6
            _, _, _, _, info = env.step(np.array([0, 0, 0, 0, -0.25, 0, 1]))
            if not info['ik_ok']:
                np.testing.assert_allclose(env.target6, target)
            break
    assert held, 'expected an infeasible pitch'
    assert not np.allclose(env.target6, before) or not np.allclose(env.joint_positions(),
                                                                   q_before)


def test_bad_actions_are_rejected(env):
    env.reset(seed=7)
    with pytest.raises(ValueError):
        env.step(np.zeros(6))
    with pytest.raises(ValueError):
        env.step(np.array([np.nan, 0, 0, 0, 0, 0, 1]))


def test_truncation_after_max_steps():
    e = WidowXSimEnv('close_drawer', render=False, max_episode_steps=2)
    e.reset(seed=0)
    assert not e.step(np.zeros(7))[3]
    assert e.step(np.zeros(7))[3]


def test_same_seed_same_scene_other_seed_other_scene(env):
    obs_a, _ = env.reset(seed=11)
    layout_a, look_a = env.layout, env.appearance
    obs_b, _ = env.reset(seed=11)
    np.testing.assert_array_equal(obs_a['image'], obs_b['image'])
    assert env.layout.objects == layout_a.objects
    obs_c, _ = env.reset(seed=12)
    assert env.layout.objects['carrot'] != layout_a.objects['carrot']
    assert env.layout.containers['plate'] != layout_a.containers['plate']
    assert not np.allclose(env.appearance.table_rgb, look_a.table_rgb)
    assert env.appearance.light_scale != look_a.light_scale
    assert not np.allclose(env.model.cam_pos[env._camera], env._base_cam_pos + look_a.
                           camera_pos_offset)
    assert np.abs(obs_c['image'].astype(int) - obs_a['image'].astype(int)).mean() > 2


def test_conditions_differ():
    task = get_task('put_cube_in_bowl')
    rng = np.random.default_rng(0)
    for _ in range(40):
        seen = sample_layout(task, 'seen', rng)
        held = sample_layout(task, 'new_positions', rng)
        new = sample_layout(task, 'new_distractors', rng)
        xy = np.array(seen.objects['cube'][:2])
        assert not sim_tasks._in_held_out(xy)
        assert sim_tasks._in_held_out(np.array(held.objects['cube'][:2]))
        assert set(seen.objects) - {'cube'} <= set(SEEN_DISTRACTORS)
        others = set(new.objects) - {'cube'}
        assert others and others <= set(NEW_DISTRACTORS)
    assert not set(SEEN_DISTRACTORS) & set(NEW_DISTRACTORS)
    drawer = get_task('open_drawer')
    ys_seen = [sample_layout(drawer, 'seen', rng).cabinet[1] for _ in range(20)]
    ys_new = [sample_layout(drawer, 'new_positions', rng).cabinet[1] for _ in range(20)]
    assert max(ys_seen) < min(ys_new)


def test_condition_envs_build_the_right_distractor_bodies():
    e = WidowXSimEnv('put_cube_in_bowl', condition='new_distractors', render=False)
    e.reset(seed=0)
    assert set(e.scene.objects) == {'cube', *NEW_DISTRACTORS}
    placed = set(e.layout.objects) - {'cube'}
    for name in placed:   # placed distractors rest on the table, the others are hidden
        assert abs(e.object_position(name)[2] - OBJECTS[name].rest_z) < 0.01
    for name in set(NEW_DISTRACTORS) - placed:
        assert e.object_position(name)[2] < -0.2


def test_every_seed_gives_a_scene_even_when_a_distractor_does_not_fit():
    """A large distractor (the spoon) may find no free spot on a crowded table: it is left
    out instead of failing the episode (3 of these 30,000 layouts raised before)."""
    for name in TASKS:
        task = get_task(name)
        for condition in CONDITIONS:
            for seed in range(1000):
                layout = sample_layout(task, condition, np.random.default_rng(seed))
                distractors = set(layout.objects) - {task.obj}
                if condition == 'new_distractors':
                    assert distractors and distractors <= set(NEW_DISTRACTORS)
                else:
                    assert distractors <= set(SEEN_DISTRACTORS)


def test_unknown_task_condition_and_impossible_placement():
    with pytest.raises(ConfigError, match='put_carrot_on_plate'):
        WidowXSimEnv('put_unicorn_on_plate')
    with pytest.raises(ConfigError, match='new_positions'):
        WidowXSimEnv('put_carrot_on_plate', condition='sideways')
    task = get_task('put_carrot_on_plate')
    rng = np.random.default_rng(0)
    # a table zone smaller than the plate cannot hold carrot and plate apart
    old = sim_tasks.TABLE_ZONE_LOW, sim_tasks.TABLE_ZONE_HIGH
    try:
        sim_tasks.TABLE_ZONE_LOW = np.array([0.30, 0.0])
        sim_tasks.TABLE_ZONE_HIGH = np.array([0.31, 0.01])
        with pytest.raises(ConfigError, match='cannot place'):
            sample_layout(task, 'seen', rng, tries=20)
    finally:
        sim_tasks.TABLE_ZONE_LOW, sim_tasks.TABLE_ZONE_HIGH = old


def _put(env, name, xyz):
    adr = env._obj_qadr[name]
    env.data.qpos[adr:adr + 3] = xyz
    env.data.qpos[adr + 3:adr + 7] = (1, 0, 0, 0)
    env.data.qvel[:] = 0


def test_pick_place_success_detection(env):
    env.reset(seed=8)
    assert not env.success()
    cxy = env.container_position('plate')
    _put(env, 'carrot', [cxy[0] + 0.01, cxy[1], CONTAINERS['plate'].floor + 0.013])
    env.advance(0.4)
    assert env.success()
    # outside the plate: not a success
    _put(env, 'carrot', [cxy[0] + 0.09, cxy[1], 0.013])
    env.advance(0.4)
    assert not env.success()
    # above the plate but held high: not a success
    _put(env, 'carrot', [cxy[0], cxy[1], 0.2])
    mujoco.mj_forward(env.model, env.data)
    assert not env.success()


def test_drawer_success_detection():
    e = WidowXSimEnv('open_drawer', render=False)
    e.reset(seed=0)
    assert not e.success() and e.drawer_opening() < 0.01
    e.data.qpos[e._drawer_qadr] = 0.08
    e.advance(0.02)
    assert e.success()
    c = WidowXSimEnv('close_drawer', render=False)
    c.reset(seed=0)
    assert not c.success() and c.drawer_opening() > 0.06
    c.data.qpos[c._drawer_qadr] = 0.0
    c.advance(0.02)
    assert c.success()


def test_joint_level_api(env):
    env.reset(seed=9)
    q0 = env.joint_positions()
    assert q0.shape == (6,) and env.finger_positions().shape == (2,)
    left, right = env.finger_positions()
    assert left == pytest.approx(-right, abs=1e-3) and left > 0.03
    goal = q0 + np.array([0.3, -0.1, 0.1, 0.0, 0.1, -0.4])
    env.command_joints(goal, gripper_open=False)
    env.advance(0.05)
    mid = env.joint_positions()
    assert np.all(np.abs(mid - q0) <= math.pi * 0.05 + 0.02)  # velocity-limited motion
    env.advance(0.6)
    np.testing.assert_allclose(env.joint_positions(), goal, atol=0.01)
    assert env.finger_positions()[0] < FINGER_LIMITS[0] + 2e-3
    frame = env.render_camera(160, 120)
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert env.render_camera().shape == (480, 640, 3)


def test_every_task_resets_in_every_condition():
    for name in TASKS:
        for condition in CONDITIONS:
            e = WidowXSimEnv(name, condition=condition, render=False)
            obs, info = e.reset(seed=1)
            assert obs['state'].shape == (7,) and not info['success'], (name, condition)
