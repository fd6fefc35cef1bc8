"""`vptr sim generate` outputs: the exact Bridge raw layout, rosbag2 demos, mp4 videos,
and that the project's own converters read them."""
import datetime
import json
import os
import pickle
import re

os.environ.setdefault('MUJOCO_GL', 'egl')

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from rosbags.rosbag2 import Reader  # noqa: E402

from vptr_training import cli  # noqa: E402
from vptr_training.data.rosbag_io import (ACTION_TOPIC, EPISODE_EVENT_TOPIC,  # noqa: E402
                                          IMAGE_TOPIC, JOINT_STATES_TOPIC, make_typestore,
                                          parse_episode_event)
from vptr_training.data.store import EpisodeStore  # noqa: E402
from vptr_training.errors import ConfigError  # noqa: E402
from vptr_training.sim import generate  # noqa: E402

FRAME = (64, 48)
DATED = re.compile(r'^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$')


@pytest.fixture(scope='module')
def bridge_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('sim') / 'bridge_raw'
    summary = generate.write_bridge_raw(root, ['close_drawer', 'put_cube_on_plate'],
                                        {'close_drawer': 2, 'put_cube_on_plate': 1},
                                        frame_size=FRAME, seed=3, trajs_per_folder=1)
    assert summary == dict(summary, trajectories=3, written=3, successes=3, cached=False)
    return root


def _trajs(root):
    return sorted(p.parent for p in root.rglob('obs_dict.pkl'))


def test_bridge_raw_tree_has_the_exact_layout(bridge_root):
    trajs = _trajs(bridge_root)
    assert len(trajs) == 3
    for traj in trajs:
        rel = traj.relative_to(bridge_root).parts
        # <task>/00/<YYYY-MM-DD_HH-MM-SS>/raw/traj_group0/traj<N>
        assert len(rel) == 6 and rel[1] == '00' and rel[3:5] == ('raw', 'traj_group0')
        assert rel[0] in ('close_drawer', 'put_cube_on_plate')
        assert DATED.match(rel[2]) and re.match(r'^traj\d+$', rel[5])
        date = datetime.datetime.strptime(rel[2], '%Y-%m-%d_%H-%M-%S')
        assert date > datetime.datetime(2021, 7, 23)  # no camera-latency shift
        assert sorted(p.name for p in traj.iterdir()) == [
            'agent_data.pkl', 'images0', 'lang.txt', 'obs_dict.pkl', 'policy_out.pkl']
    # three trajectories, one per dated folder (trajs_per_folder=1)
    assert len({t.parent.parent.parent for t in trajs}) == 3
    assert not list(bridge_root.rglob('.*tmp*'))


def test_bridge_raw_files_have_the_real_shapes(bridge_root):
    for traj in _trajs(bridge_root):
        with open(traj / 'obs_dict.pkl', 'rb') as f:
            obs = pickle.load(f)
        with open(traj / 'policy_out.pkl', 'rb') as f:
            policy = pickle.load(f)
        n = len(obs['full_state'])
        assert n >= 5
        assert obs['full_state'].shape == (n, 7) and obs['state'].shape == (n, 7)
        assert obs['qpos'].shape == (n, 6) and obs['qvel'].shape == (n, 6)
        assert obs['eef_transform'].shape == (n, 4, 4)
        assert obs['desired_state'].shape == (n, 7) and obs['time_stamp'].shape == (n,)
        assert np.all(np.diff(obs['time_stamp']) == pytest.approx(0.2, abs=1e-6))
        np.testing.assert_allclose(obs['eef_transform'][:, :3, 3], obs['full_state'][:, :3],
                                   atol=1e-5)
        assert isinstance(policy, list) and len(policy) == n - 1
        assert all(np.asarray(step['actions']).shape == (7,) for step in policy)
        images = sorted((traj / 'images0').iterdir(), key=lambda p: int(p.stem[3:]))
        assert [p.name for p in images] == [f'im_{t}.jpg' for t in range(n)]
        img = cv2.imread(str(images[0]))
        assert img.shape == (FRAME[1], FRAME[0], 3)
        lines = (traj / 'lang.txt').read_text().splitlines()
        assert lines[0] in ('close the drawer', 'put the cube on the plate')
        assert any('confidence' in line for line in lines[1:])
        # agent_data.pkl holds ROS 1 classes, like the real data: unloadable without ROS
        with pytest.raises((ModuleNotFoundError, ImportError)):
            pickle.loads((traj / 'agent_data.pkl').read_bytes())


def test_bridge_raw_is_cached_and_resumable(bridge_root):
    again = generate.write_bridge_raw(bridge_root, ['close_drawer', 'put_cube_on_plate'],
                                      {'close_drawer': 2, 'put_cube_on_plate': 1},
                                      frame_size=FRAME, seed=3, trajs_per_folder=1)
    assert again['cached'] is True
    # different parameters: existing trajectories are kept, only the new one is made
    more = generate.write_bridge_raw(bridge_root, ['close_drawer', 'put_cube_on_plate'],
                                     {'close_drawer': 3, 'put_cube_on_plate': 1},
                                     frame_size=FRAME, seed=3, trajs_per_folder=1)
    assert more['written'] == 1 and more['skipped_existing'] == 3
    assert len(_trajs(bridge_root)) == 4


def test_vptr_data_bridge_converts_the_tree(bridge_root, tmp_path):
    dst = tmp_path / 'store'
    assert cli.main(['data', 'bridge', str(bridge_root), str(dst), '--size', '32']) == 0
    store = EpisodeStore(dst)
    assert store.tasks == ['close_drawer', 'put_cube_on_plate']
    assert len(store) == len(_trajs(bridge_root))
    ep = store.episode(0)
    assert ep['images'].shape[1:] == (32, 32, 3)
    assert ep['actions'].shape == (len(ep['images']) - 1, 7)


def test_target_rosbags_hold_the_recorded_topics(tmp_path):
    out = tmp_path / 'bags'
    summary = generate.write_target_rosbags(out, 'open_drawer', 1, frame_size=FRAME, seed=1,
                                            joint_state_hz=20.0)
    assert summary['written'] == 1 and summary['successes'] == 1
    bag = out / 'open_drawer_demo_0000'
    assert (bag / 'metadata.yaml').is_file() and list(bag.glob('*.mcap'))
    ts = make_typestore(8)
    counts, events, duration = {}, [], 0.0
    with Reader(bag) as reader:
        for conn, stamp, raw in reader.messages():
            counts[conn.topic] = counts.get(conn.topic, 0) + 1
            if conn.topic == EPISODE_EVENT_TOPIC:
                events.append(parse_episode_event(ts.deserialize_cdr(raw, conn.msgtype).data))
            if conn.topic == IMAGE_TOPIC and counts[conn.topic] == 1:
                msg = ts.deserialize_cdr(raw, conn.msgtype)
                assert (msg.encoding, msg.width, msg.height) == ('rgb8', *FRAME)
        duration = (reader.end_time - reader.start_time) / 1e9
    assert counts[IMAGE_TOPIC] == counts[ACTION_TOPIC] + 1
    # joint states at 20 Hz: four per 5 Hz control step
    assert abs(counts[JOINT_STATES_TOPIC] - 20 * duration) <= 3
    assert [e['event'] for e in events] == ['start', 'end'] and events[1]['success']
    assert events[0]['task'] == 'open_drawer'
    dst = tmp_path / 'store'
    assert cli.main(['data', 'rosbag', str(out), str(dst), '--size', '32']) == 0
    assert EpisodeStore(dst).tasks == ['open_drawer']


def test_human_videos_are_readable_mp4_clips(tmp_path):
    out = tmp_path / 'videos'
    summary = generate.write_human_videos(out, 2, fps=8.0, frame_size=FRAME, seed=0,
                                          tasks=['put_apple_in_bowl', 'close_drawer'])
    assert summary['written'] == 2
    clips = sorted(out.rglob('*.mp4'))
    assert {c.parent.name for c in clips} == {'put_apple_in_bowl', 'close_drawer'}
    assert all(re.match(r'^clip_\d{4}\.mp4$', c.name) for c in clips)
    for clip in clips:
        cap = cv2.VideoCapture(str(clip))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        assert len(frames) >= 10 and frames[0].shape == (FRAME[1], FRAME[0], 3)
        assert np.std(np.stack(frames).astype(float), axis=0).mean() > 1  # things move
    dst = tmp_path / 'store'
    assert cli.main(['data', 'video', str(out), str(dst), '--size', '32']) == 0
    assert sorted(EpisodeStore(dst).tasks) == ['close_drawer', 'put_apple_in_bowl']


def test_cli_generate_and_bad_inputs(tmp_path, capsys):
    out = tmp_path / 'gen'
    args = ['sim', 'generate', str(out), '--robot-episodes', '1', '--target-demos', '0',
            '--videos', '1', '--frame-size', '64x48', '--video-size', '64x48',
            '--target-task', 'open_drawer', '--image-size', '32']
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['bridge_raw']['written'] == 1 and summary['human_videos']['written'] == 1
    assert 'target_rosbags' not in summary
    assert len(list((out / 'bridge_raw').rglob('obs_dict.pkl'))) == 1
    assert cli.main(args) == 0
    assert json.loads(capsys.readouterr().out)['bridge_raw']['cached'] is True
    assert cli.main(['sim', 'generate', str(out), '--target-task', 'fly_away']) == 2
    assert 'fly_away' in capsys.readouterr().err
    assert cli.main(['sim', 'generate', str(out), '--frame-size', '64by48']) == 2
    with pytest.raises(ConfigError, match='unknown sim task'):
        generate.write_bridge_raw(tmp_path / 'x', ['put_moon_in_bowl'], 1)
    with pytest.raises(ConfigError, match='unknown video task'):
        generate.write_human_videos(tmp_path / 'v', 1, tasks=['juggle'])
