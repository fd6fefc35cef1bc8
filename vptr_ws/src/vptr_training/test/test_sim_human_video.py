"""Human videos: another embodiment (a floating hand, no arm), wider objects, new views."""
import os

os.environ.setdefault('MUJOCO_GL', 'egl')

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vptr_training.errors import ConfigError  # noqa: E402
from vptr_training.sim.human_video import HumanVideoScene, VIDEO_TASKS  # noqa: E402
from vptr_training.sim.model import OBJECTS, VIDEO_ONLY_OBJECTS  # noqa: E402
from vptr_training.sim.tasks import TASKS  # noqa: E402


@pytest.fixture(scope='module')
def scene():
    s = HumanVideoScene(64, 48)
    yield s
    s.close()


def test_the_hand_replaces_the_robot(scene):
    names = [scene.model.joint(i).name for i in range(scene.model.njnt)]
    assert 'waist' not in names and 'left_finger' not in names
    assert scene.model.body('hand').mocapid[0] >= 0
    assert scene.model.nu == 0   # no actuators: nothing to take actions from


def test_video_tasks_cover_the_robot_tasks_and_more_objects():
    assert set(TASKS) <= set(VIDEO_TASKS)
    extra = {t.obj for t in VIDEO_TASKS.values() if t.obj} - set(OBJECTS)
    assert extra == set(VIDEO_ONLY_OBJECTS)


def test_clips_are_frames_with_motion_and_new_viewpoints(scene):
    a = scene.clip('put_lemon_on_towel', seed=1, fps=10)
    view_a = (scene.camera.azimuth, scene.camera.elevation, scene.camera.distance)
    b = scene.clip('open_drawer', seed=2, fps=10)
    view_b = (scene.camera.azimuth, scene.camera.elevation, scene.camera.distance)
    for frames in (a, b):
        assert frames.dtype == np.uint8 and frames.shape[1:] == (48, 64, 3)
        assert len(frames) >= 10
        assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 0.5
    assert view_a != view_b
    again = scene.clip('put_lemon_on_towel', seed=1, fps=10)
    np.testing.assert_array_equal(a, again)   # deterministic per seed


def test_bad_video_inputs(scene):
    with pytest.raises(ConfigError, match='unknown video task'):
        scene.clip('put_lemon_in_space', seed=0)
    with pytest.raises(ConfigError, match='frame size'):
        HumanVideoScene(4000, 3000)
