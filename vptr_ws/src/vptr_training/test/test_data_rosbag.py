"""`vptr data rosbag` and the rosbag2 conventions (DemoBagWriter), on bags written here in
both storages (mcap, sqlite3) with DemoBagWriter and with raw rosbags Writer calls."""
from __future__ import annotations

from pathlib import Path
import shutil
import sqlite3
from typing import Any

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores
from vptr_training.cli import main
from vptr_training.data import rosbag_io
from vptr_training.data.rosbag import convert_bag, find_bags, RosbagOptions
from vptr_training.data.rosbag_io import DemoBagWriter
from vptr_training.data.store import EpisodeStore
from vptr_training.errors import DataError
from vptr_training.robot import conventions
from vptr_training.robot.image import squash_resize
from vptr_training.robot.kinematics import NEUTRAL_JOINTS, WidowXKinematics
from vptr_training.robot.messages import WX250S_JOINT_STATE_ORDER
import yaml

SIZE = 16
HEIGHT, WIDTH = 48, 64
KIN = WidowXKinematics('wx250s')
PERIOD_MS = 200                     # 5 Hz control
IMAGE_MS, IMAGE_PHASE = 100, -30    # camera at 10 Hz, 30 ms ahead of the control ticks
JOINT_MS, JOINT_PHASE = 20, -10     # joint_states at 50 Hz


# ------------------------------------------------------------------ synthetic robot world

def frame_at(ms: int) -> np.ndarray:
    """A smooth (JPEG-friendly) frame that differs clearly from one time to the next."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    phase = ms / 1000.0
    rgb = np.stack([128 + 100 * np.sin(xx / 9 + 3 * phase), 128 + 100 * np.cos(yy / 7 - phase),
                    128 + 100 * np.sin((xx + yy) / 13 + 5 * phase)], axis=2)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def joints_at(ms: int) -> np.ndarray:
    """9 joint_states positions (wx250s order) along a smooth trajectory within limits."""
    t = ms / 1000.0
    arm = NEUTRAL_JOINTS + 0.3 * np.sin(1.7 * t + np.arange(6))
    finger = 0.026 + 0.010 * np.sin(2.3 * t)
    return np.concatenate([arm, [0.5 * np.sin(t), finger, -finger]])


def action_at(ms: int) -> np.ndarray:
    t = ms / 1000.0
    return np.array([0.01 * np.sin(t), 0.02 * np.cos(t), -0.01, 0.05, -0.05, 0.1 * t,
                     float(int(t * 5) % 2)], dtype=np.float32)


def stream_times(lo_ms: int, hi_ms: int, period: int, phase: int) -> list[int]:
    first = lo_ms + phase
    return [ms for ms in range(first, hi_ms + 1, period)]


def write_streams(bag: DemoBagWriter, lo_ms: int, hi_ms: int, compressed: bool = False,
                  only: Any = None) -> tuple[list[int], list[int]]:
    """Camera and joint_states over [lo, hi] (optionally only the times `only` accepts)."""
    keep = only or (lambda ms: True)
    images = [ms for ms in stream_times(lo_ms, hi_ms, IMAGE_MS, IMAGE_PHASE) if keep(ms)]
    joints = [ms for ms in stream_times(lo_ms, hi_ms, JOINT_MS, JOINT_PHASE) if keep(ms)]
    for ms in images:
        bag.write_image(ms / 1000, frame_at(ms), compressed=compressed)
    for ms in joints:
        bag.write_joint_state(ms / 1000, WX250S_JOINT_STATE_ORDER, joints_at(ms))
    return images, joints


def write_episode(bag: DemoBagWriter, start_ms: int, n_ticks: int, task: str = 'sweep',
                  language: str = 'sweep the beans', success: bool = True,
                  actions: bool = True, events: bool = True) -> list[int]:
    """Actions at each control tick but the last, start/end events around them."""
    ticks = [start_ms + PERIOD_MS * k for k in range(n_ticks)]
    if events:
        bag.write_episode_event((start_ms - 5) / 1000, 'start', task, language)
        bag.write_episode_event((ticks[-1] + 5) / 1000, 'end', task, language, success)
    if actions:
        for ms in ticks[:-1]:
            bag.write_action(ms / 1000, action_at(ms))
    return ticks


def expected_episode(ticks: list[int], image_ms: list[int], joint_ms: list[int]
                     ) -> dict[str, np.ndarray]:
    """Brute force: latest image / joint state at or before each tick."""
    img = [max(t for t in image_ms if t <= tick) for tick in ticks]
    jnt = [max(t for t in joint_ms if t <= tick) for tick in ticks]
    states = np.stack([conventions.ee_state_from_joints(KIN, joints_at(t)[:6], joints_at(t)[7])
                       for t in jnt])
    return {'images': np.stack([squash_resize(frame_at(t), SIZE) for t in img]),
            'states': states, 'timestamps': np.array(ticks) / 1000.0,
            'actions': np.stack([action_at(t) for t in ticks[:-1]])}


def convert(src: Path, dst: Path, *extra: str) -> int:
    return main(['data', 'rosbag', str(src), str(dst), '--size', str(SIZE), *extra])


def check_episode(got: dict[str, Any], want: dict[str, np.ndarray], image_tol: float = 0.0,
                  derived_actions: bool = False) -> None:
    assert got['length'] == len(want['timestamps'])
    np.testing.assert_allclose(got['timestamps'], want['timestamps'], atol=1e-9)
    np.testing.assert_allclose(got['states'], want['states'], atol=1e-5)
    error = np.abs(got['images'].astype(int) - want['images'].astype(int))
    if image_tol == 0:
        assert error.max() == 0
    else:
        assert error.mean() <= image_tol
    if derived_actions:
        np.testing.assert_allclose(
            got['actions'], conventions.relabel_actions_from_states(want['states']), atol=1e-5)
    else:
        np.testing.assert_allclose(got['actions'], want['actions'], atol=1e-7)
    assert (np.asarray(got['rewards']) == 0).all()


def demo_bag(path: Path, storage: str = 'mcap', version: int = 8, n_ticks: int = 6,
             **writer_kw: Any) -> dict[str, np.ndarray]:
    """One-episode DemoBagWriter bag; returns the expected converted episode."""
    with DemoBagWriter(path, storage=storage, version=version, **writer_kw) as bag:
        ticks = write_episode(bag, 1000, n_ticks)
        images, joints = write_streams(bag, 900, ticks[-1] + 50)
    return expected_episode(ticks, images, joints)


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize('storage,version,log_offset', [
    ('mcap', 9, 1.7e9),      # sim-time stamps recorded against a wall clock
    ('sqlite3', 8, 0.0),
])
def test_demo_round_trip(tmp_path: Path, storage: str, version: int,
                         log_offset: float) -> None:
    want = demo_bag(tmp_path / 'bag', storage, version, log_time_offset=log_offset)
    assert (tmp_path / 'bag' / 'metadata.yaml').is_file()
    assert yaml.safe_load((tmp_path / 'bag' / 'metadata.yaml').read_text())[
        'rosbag2_bagfile_information']['version'] == version
    assert convert(tmp_path / 'bag', tmp_path / 'store', '--task', 'fallback') == 0
    store = EpisodeStore(tmp_path / 'store')
    assert store.meta['kind'] == 'robot' and store.meta['image_size'] == SIZE
    assert len(store) == 1
    got = store.episode(0)
    assert (got['task'], got['language'], got['success']) == ('sweep', 'sweep the beans', True)
    assert got['source'] == str(tmp_path / 'bag')
    check_episode(got, want)


def test_several_episodes_from_events_compressed_jpeg(tmp_path: Path) -> None:
    with DemoBagWriter(tmp_path / 'bag', storage='sqlite3') as bag:
        eps = [write_episode(bag, 1000, 5, 'sweep', 'sweep it', True),
               write_episode(bag, 3000, 4, 'sweep', 'sweep it', False),
               write_episode(bag, 5000, 6, 'stack', '', True)]
        images, joints = write_streams(bag, 100, 7000, compressed=True)
    # no --task: every event names its task
    assert convert(tmp_path / 'bag', tmp_path / 'store') == 0
    store = EpisodeStore(tmp_path / 'store')
    assert [(e.task, e.success, e.length) for e in store.episodes] == [
        ('sweep', True, 5), ('sweep', False, 4), ('stack', True, 6)]
    assert [e.language for e in store.episodes] == ['sweep it', 'sweep it', '']
    # the recorded outcome: a successful episode ends in a terminal state, a failed one not
    assert [bool(store.episode(i)['is_terminal'][-1]) for i in range(3)] == [True, False, True]
    for i, ticks in enumerate(eps):
        check_episode(store.episode(i), expected_episode(ticks, images, joints), image_tol=4.0)


def test_no_action_topic_derives_bridge_actions(tmp_path: Path) -> None:
    with DemoBagWriter(tmp_path / 'bag', storage='mcap') as bag:
        images, joints = write_streams(bag, 100, 1600)
    assert convert(tmp_path / 'bag', tmp_path / 'store', '--task', 'wipe') == 0
    store = EpisodeStore(tmp_path / 'store')
    got = store.episode(0)
    assert got['task'] == 'wipe' and got['success']
    # whole bag, ticks from the first instant with both an image and a joint state
    ready, last = max(images[0], joints[0]), min(images[-1], joints[-1])
    ticks = list(range(ready, last + PERIOD_MS // 2 + 1, PERIOD_MS))
    check_episode(got, expected_episode(ticks, images, joints), derived_actions=True)


def test_bare_mcap_split_files_and_missing_metadata(tmp_path: Path) -> None:
    want = demo_bag(tmp_path / 'bag', 'mcap', 9)
    # a bare .mcap file
    bare = tmp_path / 'bare.mcap'
    shutil.copy(tmp_path / 'bag' / 'bag.mcap', bare)
    assert convert(bare, tmp_path / 's1') == 0
    check_episode(EpisodeStore(tmp_path / 's1').episode(0), want)
    # a bag folder that lost its metadata.yaml
    (tmp_path / 'bag' / 'metadata.yaml').unlink()
    assert convert(tmp_path / 'bag', tmp_path / 's2') == 0
    check_episode(EpisodeStore(tmp_path / 's2').episode(0), want)


def _drop_mcap_index(src: Path, dst: Path) -> None:
    """Copy an .mcap with the footer's summary offsets zeroed: the file then has no usable
    index (like a recording whose summary was never written) and must be scanned."""
    data = bytearray(src.read_bytes())
    data[-28:-12] = bytes(16)  # footer: summary_start, summary_offset_start (uint64 each)
    dst.write_bytes(bytes(data))


def test_unindexed_mcap_is_scanned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # ros2 bag record writes in receive order; written in time order here as well
    with DemoBagWriter(tmp_path / 'bag', storage='mcap') as bag:
        for ms in range(1000, 2201, 100):
            bag.write_image(ms / 1000, frame_at(ms))
            bag.write_joint_state(ms / 1000, WX250S_JOINT_STATE_ORDER, joints_at(ms))
    ticks = list(range(1000, 2201, PERIOD_MS))
    want = expected_episode(ticks, list(range(1000, 2201, 100)), list(range(1000, 2201, 100)))
    _drop_mcap_index(tmp_path / 'bag' / 'bag.mcap', tmp_path / 'noindex.mcap')
    assert convert(tmp_path / 'noindex.mcap', tmp_path / 'store', '--task', 't') == 0
    check_episode(EpisodeStore(tmp_path / 'store').episode(0), want, derived_actions=True)
    # out of time order, a file without index cannot be streamed: a clear error
    demo_bag(tmp_path / 'unordered', 'mcap')
    _drop_mcap_index(tmp_path / 'unordered' / 'unordered.mcap', tmp_path / 'unordered.mcap')
    _fails(tmp_path, tmp_path / 'unordered.mcap', capsys, str(tmp_path / 'unordered.mcap'),
           'timestamp order')


def _split_bag(tmp_path: Path, storage: str) -> tuple[Path, dict[str, np.ndarray]]:
    """A bag split in two storage files, as `ros2 bag record --max-bag-duration` leaves."""
    ext = '.mcap' if storage == 'mcap' else '.db3'
    with DemoBagWriter(tmp_path / 'a', storage=storage) as bag:
        ticks = write_episode(bag, 1000, 6)
        images_a, joints_a = write_streams(bag, 900, ticks[-1] + 50, only=lambda ms: ms < 1600)
    with DemoBagWriter(tmp_path / 'b', storage=storage) as bag:
        images_b, joints_b = write_streams(bag, 900, ticks[-1] + 50,
                                           only=lambda ms: ms >= 1600)
    split = tmp_path / 'split'
    split.mkdir()
    shutil.copy(tmp_path / 'a' / f'a{ext}', split / f'split_0{ext}')
    shutil.copy(tmp_path / 'b' / f'b{ext}', split / f'split_1{ext}')
    meta_a = yaml.safe_load((tmp_path / 'a' / 'metadata.yaml').read_text())
    meta_b = yaml.safe_load((tmp_path / 'b' / 'metadata.yaml').read_text())
    info_a = meta_a['rosbag2_bagfile_information']
    info_b = meta_b['rosbag2_bagfile_information']
    topics = {t['topic_metadata']['name']: t for t in info_a['topics_with_message_count']}
    for entry in info_b['topics_with_message_count']:
        name = entry['topic_metadata']['name']
        if name in topics:
            topics[name]['message_count'] += entry['message_count']
        else:
            topics[name] = entry
    info_a['topics_with_message_count'] = list(topics.values())
    info_a['relative_file_paths'] = [f'split_0{ext}', f'split_1{ext}']
    info_a['files'][0]['path'] = f'split_0{ext}'
    info_a['files'].append(dict(info_b['files'][0], path=f'split_1{ext}'))
    info_a['message_count'] += info_b['message_count']
    (split / 'metadata.yaml').write_text(yaml.safe_dump(meta_a))
    return split, expected_episode(ticks, images_a + images_b, joints_a + joints_b)


def test_split_bag_with_and_without_metadata(tmp_path: Path) -> None:
    split, want = _split_bag(tmp_path, 'mcap')
    assert [u.paths for u in find_bags(split)] == [(str(split),)]
    assert convert(split, tmp_path / 's1') == 0
    check_episode(EpisodeStore(tmp_path / 's1').episode(0), want)
    (split / 'metadata.yaml').unlink()
    units = find_bags(split)
    assert len(units) == 1 and [Path(p).name for p in units[0].paths] == [
        'split_0.mcap', 'split_1.mcap']
    assert convert(split, tmp_path / 's2') == 0
    check_episode(EpisodeStore(tmp_path / 's2').episode(0), want)


@pytest.mark.parametrize('version', [4, 5, 7])
def test_older_metadata_versions(tmp_path: Path, version: int) -> None:
    want = demo_bag(tmp_path / 'bag', 'sqlite3', 9)
    path = tmp_path / 'bag' / 'metadata.yaml'
    meta = yaml.safe_load(path.read_text())
    info = meta['rosbag2_bagfile_information']
    info['version'] = version
    for key in ('ros_distro', 'custom_data') + (('files',) if version < 5 else ()):
        info.pop(key, None)
    for topic in info['topics_with_message_count']:
        topic['topic_metadata']['offered_qos_profiles'] = ''  # v4-8: a YAML string
        if version < 7:
            topic['topic_metadata'].pop('type_description_hash', None)
    path.write_text(yaml.safe_dump(meta))
    assert convert(tmp_path / 'bag', tmp_path / 'store') == 0
    check_episode(EpisodeStore(tmp_path / 'store').episode(0), want)


def test_humble_db3_without_embedded_definitions(tmp_path: Path) -> None:
    """Humble's sqlite3 bags carry no message definitions: the standard store decodes them."""
    want = demo_bag(tmp_path / 'bag', 'sqlite3', 8)
    with sqlite3.connect(tmp_path / 'bag' / 'bag.db3') as db:
        db.execute('DROP TABLE message_definitions')
        db.execute('UPDATE schema SET schema_version = 3')
    with Reader(tmp_path / 'bag') as reader:
        assert reader.connections and all(c.msgdef.data == '' for c in reader.connections)
    assert convert(tmp_path / 'bag', tmp_path / 'store') == 0
    check_episode(EpisodeStore(tmp_path / 'store').episode(0), want)


def test_folder_of_bags_with_workers(tmp_path: Path) -> None:
    want_a = demo_bag(tmp_path / 'bags' / 'day1' / 'a', 'mcap')
    want_b = demo_bag(tmp_path / 'bags' / 'day2' / 'b', 'sqlite3', n_ticks=4)
    assert convert(tmp_path / 'bags', tmp_path / 'store', '--workers', '2') == 0
    store = EpisodeStore(tmp_path / 'store')
    assert [e.source for e in store.episodes] == [str(tmp_path / 'bags' / 'day1' / 'a'),
                                                  str(tmp_path / 'bags' / 'day2' / 'b')]
    check_episode(store.episode(0), want_a)
    check_episode(store.episode(1), want_b)


# ------------------------------------------------------------------ raw rosbags writer

def _yuv422_uyvy(rgb: np.ndarray) -> np.ndarray:
    """RGB -> packed UYVY (BT.601 video range), the `yuv422` encoding's byte order."""
    rgb = rgb.astype(np.float64)
    y = 16 + 0.257 * rgb[..., 0] + 0.504 * rgb[..., 1] + 0.098 * rgb[..., 2]
    u = 128 - 0.148 * rgb[..., 0] - 0.291 * rgb[..., 1] + 0.439 * rgb[..., 2]
    v = 128 + 0.439 * rgb[..., 0] - 0.368 * rgb[..., 1] - 0.071 * rgb[..., 2]
    u = (u[:, 0::2] + u[:, 1::2]) / 2
    v = (v[:, 0::2] + v[:, 1::2]) / 2
    packed = np.empty((rgb.shape[0], rgb.shape[1] * 2))
    packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = \
        u, y[:, 0::2], v, y[:, 1::2]
    return np.clip(np.round(packed), 0, 255).astype(np.uint8)


def _encode(kind: str, rgb: np.ndarray, pad: int) -> tuple[dict[str, Any], np.ndarray]:
    """Image / CompressedImage fields for `kind`, and the RGB a correct reader must see."""
    if kind in ('png', 'jpeg'):
        ok, data = cv2.imencode('.png' if kind == 'png' else '.jpg',
                                cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        assert ok
        return {'format': kind, 'data': data.reshape(-1)}, rgb
    if kind == 'bgr8':
        rows, expected = rgb[:, :, ::-1].reshape(HEIGHT, -1), rgb
    elif kind == 'mono8':
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        rows, expected = gray, np.repeat(gray[:, :, None], 3, 2)
    elif kind == 'yuv422':
        rows = _yuv422_uyvy(rgb)
        expected = cv2.cvtColor(rows.reshape(HEIGHT, WIDTH, 2), cv2.COLOR_YUV2RGB_UYVY)
    else:  # an encoding nobody supports
        rows, expected = rgb.reshape(HEIGHT, -1), rgb
    padded = np.concatenate([rows, np.full((HEIGHT, pad), 7, np.uint8)], axis=1)
    return {'height': HEIGHT, 'width': WIDTH, 'encoding': kind, 'is_bigendian': 0,
            'step': padded.shape[1], 'data': padded.reshape(-1)}, expected


def raw_bag(path: Path, storage: str, image_kind: str, pad: int = 0, names: str = 'plain',
            image_topic: str = '/camera/camera/color/image_raw', n_ticks: int = 5,
            zero_joint_stamps: bool = False) -> dict[str, np.ndarray]:
    """Images and joint states at the control ticks, written with rosbags' own Writer."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    compressed = image_kind in ('png', 'jpeg')
    image_type = 'sensor_msgs/msg/CompressedImage' if compressed else 'sensor_msgs/msg/Image'
    joint_names = {'plain': list(WX250S_JOINT_STATE_ORDER), 'empty': [],
                   'spaces': [f' {n.replace("_", " ").title()} ' for n in
                              WX250S_JOINT_STATE_ORDER]}[names]
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    expected_images, states = [], []

    def header(ms: int) -> Any:
        return types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=ms // 1000,
                                                       nanosec=(ms % 1000) * 1_000_000),
            frame_id='camera')

    with Writer(path, version=9, storage_plugin=plugin) as writer:
        image_conn = writer.add_connection(image_topic, image_type, typestore=store)
        joint_conn = writer.add_connection('/wx250s/joint_states', 'sensor_msgs/msg/JointState',
                                           typestore=store)
        for k in range(n_ticks):
            ms = 2000 + PERIOD_MS * k
            fields, expected = _encode(image_kind, frame_at(ms), pad)
            msg = types[image_type](header=header(ms), **fields)
            writer.write(image_conn, ms * 1_000_000 + 3_000_000,
                         store.serialize_cdr(msg, image_type))
            q = joints_at(ms)
            joint = types['sensor_msgs/msg/JointState'](
                header=header(0 if zero_joint_stamps else ms), name=joint_names, position=q,
                velocity=np.zeros(0), effort=np.zeros(0))
            writer.write(joint_conn, ms * 1_000_000 + 1_000_000,  # received 1 ms later
                         store.serialize_cdr(joint, 'sensor_msgs/msg/JointState'))
            expected_images.append(squash_resize(expected, SIZE))
            states.append(conventions.ee_state_from_joints(KIN, q[:6], q[7]))
    return {'images': np.stack(expected_images), 'states': np.stack(states),
            'timestamps': 2.0 + 0.2 * np.arange(n_ticks)}


@pytest.mark.parametrize('storage,kind,pad,names,zero_stamps', [
    ('mcap', 'bgr8', 6, 'empty', False),
    ('sqlite3', 'mono8', 3, 'spaces', True),
    ('mcap', 'yuv422', 4, 'plain', False),
    ('sqlite3', 'png', 0, 'empty', False),
])
def test_raw_bags_encodings_and_joint_names(tmp_path: Path, storage: str, kind: str, pad: int,
                                            names: str, zero_stamps: bool) -> None:
    want = raw_bag(tmp_path / 'bag', storage, kind, pad, names,
                   zero_joint_stamps=zero_stamps)
    assert convert(tmp_path / 'bag', tmp_path / 'store', '--task', 'pour') == 0
    got = EpisodeStore(tmp_path / 'store').episode(0)
    assert got['task'] == 'pour'
    # zero joint stamps: their log time, moved onto the stamp clock by the image latency
    check_episode(got, want, derived_actions=True)


def test_wx250_split_joint_messages_and_stream_gap(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """wx250 (no forearm_roll) under /wx250, arm and fingers in separate JointState messages
    (merged by carrying values forward), and a camera dropout that is reported."""
    kin = WidowXKinematics('wx250')
    arm_names = list(kin.joint_names)
    image_ms = [ms for ms in range(1000, 3001, 100) if not 1900 <= ms <= 2400]
    arm_ms, finger_ms = list(range(1000, 3001, 20)), list(range(1005, 3001, 40))
    with DemoBagWriter(tmp_path / 'bag', storage='sqlite3', robot_name='wx250') as bag:
        for ms in image_ms:
            bag.write_image(ms / 1000, frame_at(ms))
        for ms in arm_ms:
            bag.write_joint_state(ms / 1000, arm_names, np.delete(joints_at(ms)[:6], 3))
        for ms in finger_ms:
            bag.write_joint_state(ms / 1000, ['gripper', 'left_finger', 'right_finger'],
                                  joints_at(ms)[6:])
    assert convert(tmp_path / 'bag', tmp_path / 'store', '--task', 'fold', '--robot-model',
                   'wx250') == 0
    assert 'older than 0.40 s' in capsys.readouterr().err
    got = EpisodeStore(tmp_path / 'store').episode(0)
    # from the first instant with arm and fingers known to half a period after the last data
    ticks = list(range(1005, 3000 + PERIOD_MS // 2 + 1, PERIOD_MS))
    assert got['length'] == len(ticks)
    for k, tick in enumerate(ticks):
        arm_t = max(t for t in arm_ms if t <= tick)
        finger_t = max(t for t in finger_ms if t <= tick)
        want = conventions.ee_state_from_joints(kin, np.delete(joints_at(arm_t)[:6], 3),
                                                joints_at(finger_t)[7])
        np.testing.assert_allclose(got['states'][k], want, atol=1e-5)
        image_t = max(t for t in image_ms if t <= tick)
        np.testing.assert_array_equal(got['images'][k], squash_resize(frame_at(image_t), SIZE))


def test_direct_convert_bag_api_and_topic_options(tmp_path: Path) -> None:
    raw_bag(tmp_path / 'bag', 'mcap', 'bgr8', image_topic='/cam_a/image')
    unit = find_bags(tmp_path / 'bag')[0]
    with pytest.raises(DataError, match='no image topic'):
        convert_bag(unit, RosbagOptions(task='t', image_topic='/nope', image_size=SIZE))
    with pytest.raises(DataError, match='no task name'):
        convert_bag(unit, RosbagOptions(image_size=SIZE))
    (episode,) = convert_bag(unit, RosbagOptions(task='t', image_topic='/cam_a/image',
                                                 joint_topic='/wx250s/joint_states',
                                                 image_size=SIZE, control_hz=10.0))
    # 10 Hz over 5 ticks 0.2 s apart: 9 ticks, odd ones repeat the previous image
    assert episode.images.shape == (9, SIZE, SIZE, 3)
    np.testing.assert_array_equal(episode.images[1], episode.images[0])
    np.testing.assert_allclose(np.diff(episode.timestamps), 0.1)


def test_interbotix_types_round_trip_in_a_bag(tmp_path: Path) -> None:
    store = rosbag_io.make_typestore(8)
    cmd = store.types[rosbag_io.JOINT_GROUP_COMMAND_TYPE](
        name='arm', cmd=np.array([0.1, -0.2, 0.3, 0.0, 1.0, -1.0], dtype=np.float32))
    raw = store.serialize_cdr(cmd, rosbag_io.JOINT_GROUP_COMMAND_TYPE)
    back = store.deserialize_cdr(raw, rosbag_io.JOINT_GROUP_COMMAND_TYPE)
    assert back.name == 'arm' and np.allclose(back.cmd, cmd.cmd)
    with DemoBagWriter(tmp_path / 'bag', storage='mcap') as bag:
        ticks = write_episode(bag, 1000, 4)
        images, joints = write_streams(bag, 900, ticks[-1] + 50)
        topic = rosbag_io.joint_single_command_topic()
        single = store.types[rosbag_io.JOINT_SINGLE_COMMAND_TYPE](name='gripper', cmd=250.0)
        bag.write_message(topic, rosbag_io.JOINT_SINGLE_COMMAND_TYPE, 1.0, single)
    with AnyReader([tmp_path / 'bag']) as reader:  # types come from the embedded schemas
        (conn,) = [c for c in reader.connections if c.topic == topic]
        msg = reader.deserialize(next(reader.messages([conn]))[2], conn.msgtype)
        assert (msg.name, msg.cmd) == ('gripper', 250.0)
    assert convert(tmp_path / 'bag', tmp_path / 'store') == 0
    check_episode(EpisodeStore(tmp_path / 'store').episode(0),
                  expected_episode(ticks, images, joints))


def test_demo_bag_writer_is_atomic_and_validates(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match='boom'):
        with DemoBagWriter(tmp_path / 'bag', storage='sqlite3') as bag:
            bag.write_image(0.0, frame_at(0))
            raise RuntimeError('boom')
    assert list(tmp_path.iterdir()) == []
    with DemoBagWriter(tmp_path / 'bag') as bag:
        with pytest.raises(ValueError, match='7 values'):
            bag.write_action(0.0, [0.0] * 6)
        with pytest.raises(ValueError, match='start'):
            bag.write_episode_event(0.0, 'begin', 'task')
        bag.write_image(0.0, frame_at(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bag']
    with pytest.raises(FileExistsError):
        DemoBagWriter(tmp_path / 'bag')
    assert rosbag_io.joint_states_topic('wx250') == '/wx250/joint_states'
    assert rosbag_io.parse_episode_event(
        rosbag_io.episode_event_json('end', 'a', 'b', False)) == {
        'event': 'end', 'task': 'a', 'language': 'b', 'success': False}


# ------------------------------------------------------------------ bad input

def _fails(tmp_path: Path, src: Path, capsys: pytest.CaptureFixture[str], *needles: str,
           extra: tuple[str, ...] = ('--task', 't')) -> None:
    dst = tmp_path / 'out_store'
    assert convert(src, dst, *extra) == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    assert not dst.exists()


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_truncated_storage_file(tmp_path: Path, storage: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    demo_bag(tmp_path / 'bag', storage)
    file = tmp_path / 'bag' / ('bag.mcap' if storage == 'mcap' else 'bag.db3')
    data = file.read_bytes()
    file.write_bytes(data[:len(data) // 2])
    # the problem, not just "error:": a crash of the converter would print that too
    _fails(tmp_path, tmp_path / 'bag', capsys, str(tmp_path / 'bag'), 'cannot open the bag',
           'truncated or not closed cleanly')


def test_truncated_bare_mcap_and_missing_storage_file(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    demo_bag(tmp_path / 'bag', 'mcap')
    bare = tmp_path / 'bare.mcap'
    bare.write_bytes((tmp_path / 'bag' / 'bag.mcap').read_bytes()[:-100])
    _fails(tmp_path, bare, capsys, str(bare), 'truncated')
    (tmp_path / 'bag' / 'bag.mcap').unlink()  # metadata.yaml names a file that is gone
    _fails(tmp_path, tmp_path / 'bag', capsys, str(tmp_path / 'bag'), 'missing')


def test_unknown_image_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw_bag(tmp_path / 'bag', 'mcap', 'bayer_grbg8')
    _fails(tmp_path, tmp_path / 'bag', capsys, str(tmp_path / 'bag'), 'bayer_grbg8')


def test_empty_bag_and_missing_topics(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with DemoBagWriter(tmp_path / 'empty', storage='sqlite3'):
        pass
    _fails(tmp_path, tmp_path / 'empty', capsys, str(tmp_path / 'empty'), 'no image')
    with DemoBagWriter(tmp_path / 'images_only', storage='mcap') as bag:
        bag.write_image(0.0, frame_at(0))
    _fails(tmp_path, tmp_path / 'images_only', capsys, 'joint state', '/camera/image_raw')
    (tmp_path / 'nothing').mkdir()
    _fails(tmp_path, tmp_path / 'nothing', capsys, 'no rosbag2 bags')
    (tmp_path / 'notes.txt').write_text('hi')
    _fails(tmp_path, tmp_path / 'notes.txt', capsys, 'not a rosbag2 storage file')


def _edit_metadata(bag: Path, topic: str, edit: Any) -> None:
    path = bag / 'metadata.yaml'
    meta = yaml.safe_load(path.read_text())
    for entry in meta['rosbag2_bagfile_information']['topics_with_message_count']:
        if entry['topic_metadata']['name'] == topic:
            edit(entry)
    path.write_text(yaml.safe_dump(meta))


def test_metadata_count_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo_bag(tmp_path / 'bag', 'mcap')
    _edit_metadata(tmp_path / 'bag', '/wx250s/joint_states',
                   lambda e: e.update(message_count=e['message_count'] + 3))
    _fails(tmp_path, tmp_path / 'bag', capsys, str(tmp_path / 'bag'), 'declares')


def test_metadata_qos_disagreeing_with_storage(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    demo_bag(tmp_path / 'bag', 'mcap', version=9)
    qos = [{'history': 'keep_last', 'depth': 1, 'reliability': 'best_effort',
            'durability': 'volatile', 'deadline': {'sec': 0, 'nsec': 0},
            'lifespan': {'sec': 0, 'nsec': 0}, 'liveliness': 'automatic',
            'liveliness_lease_duration': {'sec': 0, 'nsec': 0},
            'avoid_ros_namespace_conventions': False}]
    _edit_metadata(tmp_path / 'bag', '/camera/image_raw',
                   lambda e: e['topic_metadata'].update(offered_qos_profiles=qos))
    # rosbags' directory reader silently yields nothing for that topic: we must not
    _fails(tmp_path, tmp_path / 'bag', capsys, str(tmp_path / 'bag'), 'read 0 of')


def test_skip_bad_keeps_the_good_bags(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    want = demo_bag(tmp_path / 'bags' / 'good', 'mcap')
    demo_bag(tmp_path / 'bags' / 'bad', 'mcap')
    bad_file = tmp_path / 'bags' / 'bad' / 'bad.mcap'
    bad_file.write_bytes(bad_file.read_bytes()[:300])
    assert convert(tmp_path / 'bags', tmp_path / 'store', '--skip-bad') == 0
    out = capsys.readouterr().out
    assert 'skipped 1' in out and str(tmp_path / 'bags' / 'bad') in out
    store = EpisodeStore(tmp_path / 'store')
    assert len(store) == 1
    check_episode(store.episode(0), want)


def test_held_tick_gets_zero_movement_not_the_previous_action(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A tick without its own action message (the controller held) must not repeat the
    previous step's movement: the arm did not move then."""
    ticks = [1000 + PERIOD_MS * k for k in range(6)]
    with DemoBagWriter(tmp_path / 'bag', storage='mcap') as bag:
        bag.write_episode_event(0.995, 'start', 'sweep', '')
        bag.write_episode_event((ticks[-1] + 5) / 1000, 'end', 'sweep', '', True)
        for k, ms in enumerate(ticks[:-1]):
            if k != 3:                                   # no command at tick 3
                bag.write_action(ms / 1000, action_at(ms))
        write_streams(bag, 900, ticks[-1] + 50)
    assert convert(tmp_path / 'bag', tmp_path / 'store') == 0
    actions = EpisodeStore(tmp_path / 'store').episode(0)['actions']
    np.testing.assert_allclose(actions[3, :6], 0.0)
    assert actions[3, 6] == action_at(ticks[2])[6]      # the gripper command still in effect
    np.testing.assert_allclose(actions[4], action_at(ticks[4]), atol=1e-7)
    assert '1 of 5 steps have no action message of their own' in capsys.readouterr().err


def test_half_written_bag_in_a_hidden_temp_folder_is_ignored(tmp_path: Path) -> None:
    demo_bag(tmp_path / 'bags' / 'good')
    writer = DemoBagWriter(tmp_path / 'bags' / 'killed', storage='mcap')
    writer.open()
    writer.write_image(1.0, frame_at(1000))              # never closed: a killed recorder
    units = find_bags(tmp_path / 'bags')
    assert [Path(u.label).name for u in units] == ['good']
