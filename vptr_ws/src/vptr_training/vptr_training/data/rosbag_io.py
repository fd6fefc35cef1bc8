"""rosbag2 conventions shared by the ROS side (recorder, sim node) and `vptr data rosbag`.

Topic names, message types, the episode-event JSON, the interbotix_xs_msgs types (not in the
standard type stores, so registered from their .msg text), and `DemoBagWriter`, which writes
demos as a ROS 2 recorder would (header stamps = log times = the demo clock) with the pure
Python `rosbags` library, so no ROS install is needed. Keep this API stable: the simulator's
demo generator and the ROS recorder both rely on it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import tempfile
from types import TracebackType
from typing import Any, Sequence

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore
from vptr_training.robot.messages import rgb_to_image_fields, seconds_to_stamp_fields
# The topic names are defined once in robot/topics.py; re-exported here for the converter,
# the demo writer and their tests.
from vptr_training.robot.topics import (  # noqa: F401
    ACTION_TOPIC, COMPRESSED_IMAGE_TOPIC, DEFAULT_ROBOT_NAME, EPISODE_EVENT_TOPIC, IMAGE_TOPIC,
    joint_group_command_topic, joint_single_command_topic, JOINT_STATES_TOPIC,
    joint_states_topic)

# ---- message types -------------------------------------------------------------------------
IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE_TYPE = 'sensor_msgs/msg/CompressedImage'
JOINT_STATE_TYPE = 'sensor_msgs/msg/JointState'
ACTION_TYPE = 'std_msgs/msg/Float32MultiArray'
EPISODE_EVENT_TYPE = 'std_msgs/msg/String'
JOINT_GROUP_COMMAND_TYPE = 'interbotix_xs_msgs/msg/JointGroupCommand'
JOINT_SINGLE_COMMAND_TYPE = 'interbotix_xs_msgs/msg/JointSingleCommand'

ACTION_DIM = 7
EPISODE_EVENTS = ('start', 'end')

# interbotix_xs_msgs, as shipped by interbotix_ros_core (comments dropped).
INTERBOTIX_MSG_DEFINITIONS: dict[str, str] = {
    JOINT_GROUP_COMMAND_TYPE: 'string name\nfloat32[] cmd\n',
    JOINT_SINGLE_COMMAND_TYPE: 'string name\nfloat32 cmd\n',
}


def register_interbotix_types(typestore: Typestore) -> Typestore:
    """Add the interbotix_xs_msgs command types to `typestore` (idempotent); returns it."""
    missing = {name: text for name, text in INTERBOTIX_MSG_DEFINITIONS.items()
               if name not in typestore.fielddefs}
    for name, text in missing.items():
        typestore.register(get_types_from_msg(text, name))
    return typestore


def make_typestore(version: int = 8) -> Typestore:
    """Standard ROS 2 types (Humble for bag version 8, Jazzy for 9) plus interbotix_xs_msgs.

    Also the fallback store for bags that embed no message definitions (Humble sqlite3).
    """
    store = get_typestore(Stores.ROS2_JAZZY if version >= 9 else Stores.ROS2_HUMBLE)
    return register_interbotix_types(store)


def episode_event_json(event: str, task: str, language: str = '', success: bool = True) -> str:
    """The /vptr/episode_event payload: {"event", "task", "language", "success"}."""
    if event not in EPISODE_EVENTS:
        raise ValueError(f'episode event must be one of {EPISODE_EVENTS}, got {event!r}')
    return json.dumps({'event': event, 'task': str(task), 'language': str(language),
                       'success': bool(success)})


def parse_episode_event(text: str) -> dict[str, Any]:
    """Inverse of episode_event_json; ValueError on anything malformed."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f'episode event is not JSON: {exc}') from None
    if not isinstance(payload, dict) or payload.get('event') not in EPISODE_EVENTS:
        raise ValueError(f'episode event needs "event": "start"|"end", got {text!r}')
    return {'event': payload['event'], 'task': str(payload.get('task') or ''),
            'language': str(payload.get('language') or ''),
            'success': bool(payload.get('success', True))}


_STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}


def _to_ns(t_sec: float) -> int:
    sec, nanosec = seconds_to_stamp_fields(t_sec)
    return sec * 1_000_000_000 + nanosec


class DemoBagWriter:
    """Write robot demos to a new rosbag2 folder, with the conventions above.

        with DemoBagWriter('demo_bag', storage='mcap') as bag:
            bag.write_episode_event(0.0, 'start', 'put_cup_in_sink', 'put the cup in the sink')
            bag.write_image(0.0, rgb); bag.write_joint_state(0.0, names, q)
            bag.write_action(0.0, action7) ...
            bag.write_episode_event(t_end, 'end', 'put_cup_in_sink', success=True)

    `path` must not exist. The bag is built in a temporary sibling folder and renamed onto
    `path` on a clean exit, so a crash leaves nothing that looks like a finished bag. Header
    stamps are `t_sec`; log (receive) times are `t_sec + log_time_offset` (a non-zero offset
    mimics sim-time stamps recorded against a wall clock). Messages may be written in any
    time order. version 8 keeps the bag replayable on Humble.
    """

    def __init__(self, path: str | os.PathLike[str], storage: str = 'mcap',
                 robot_name: str = DEFAULT_ROBOT_NAME, version: int = 8,
                 jpeg_quality: int = 95, log_time_offset: float = 0.0) -> None:
        self.path = Path(path)
        if storage not in _STORAGES:
            raise ValueError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
        if version not in (8, 9):
            raise ValueError(f'rosbag2 writer version must be 8 or 9, got {version}')
        if self.path.exists():
            raise FileExistsError(f'{self.path} exists already, not overwriting')
        self.storage = storage
        self.robot_name = robot_name
        self.version = version
        self.jpeg_quality = int(jpeg_quality)
        self.log_time_offset = float(log_time_offset)
        self.typestore = make_typestore(version)
        self.joint_topic = joint_states_topic(robot_name)
        self._tmpdir: Path | None = None
        self._writer: Writer | None = None
        self._connections: dict[str, Any] = {}

    # -- lifecycle --------------------------------------------------------------------------
    def open(self) -> 'DemoBagWriter':
        if self._writer is not None:
            raise RuntimeError('DemoBagWriter is already open')
        if self.path.exists():
            raise FileExistsError(f'{self.path} exists already, not overwriting')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmpdir = Path(tempfile.mkdtemp(prefix=f'.{self.path.name}.', suffix='.tmp',
                                             dir=self.path.parent))
        # The inner folder carries the final name: rosbags names the storage file after it
        # (<name>/<name>.mcap), so the renamed bag looks exactly like a recorded one.
        try:
            self._writer = Writer(self._tmpdir / self.path.name, version=self.version,
                                  storage_plugin=_STORAGES[self.storage])
            self._writer.open()
        except BaseException:
            self.abort()
            raise
        return self

    def close(self) -> None:
        """Finish the bag (index, metadata.yaml) and move it onto `path`."""
        if self._writer is None:
            raise RuntimeError('DemoBagWriter is not open')
        writer, self._writer = self._writer, None
        assert self._tmpdir is not None
        try:
            writer.close()
            if self.path.exists():
                raise FileExistsError(f'{self.path} appeared while writing, not overwriting')
            os.rename(self._tmpdir / self.path.name, self.path)
        finally:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def abort(self) -> None:
        """Drop everything written so far; `path` is left untouched."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.abort()
            except Exception:  # noqa: BLE001 - cleanup must not mask the original error
                pass
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> 'DemoBagWriter':
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()

    # -- messages ---------------------------------------------------------------------------
    def _connection(self, topic: str, msgtype: str) -> Any:
        if self._writer is None:
            raise RuntimeError('DemoBagWriter is not open (use it as a context manager)')
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore)
        return self._connections[topic]

    def _header(self, t_sec: float, frame_id: str = '') -> Any:
        types = self.typestore.types
        sec, nanosec = seconds_to_stamp_fields(t_sec)
        return types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec),
            frame_id=frame_id)

    def write_message(self, topic: str, msgtype: str, t_sec: float, msg: Any) -> None:
        """Serialise `msg` (a typestore message) on `topic`, logged at t_sec + offset."""
        # Integer nanoseconds: a float sum with a wall-clock offset (~1.7e9 s) would round the
        # stamps' sub-microsecond part differently for every message.
        log_ns = _to_ns(t_sec) + _to_ns(self.log_time_offset)
        if log_ns < 0:
            raise ValueError(f'log time {log_ns} ns is negative')
        connection = self._connection(topic, msgtype)
        assert self._writer is not None
        self._writer.write(connection, log_ns, self.typestore.serialize_cdr(msg, msgtype))

    def write_image(self, t_sec: float, rgb: np.ndarray, compressed: bool = False,
                    compressed_format: str = 'jpeg') -> None:
        """(H, W, 3) uint8 RGB on IMAGE_TOPIC as rgb8, or on COMPRESSED_IMAGE_TOPIC as
        'jpeg' (quality `jpeg_quality`) or 'png'."""
        types = self.typestore.types
        header = self._header(t_sec, 'camera')
        if not compressed:
            fields = rgb_to_image_fields(rgb)
            fields['data'] = np.frombuffer(fields['data'], dtype=np.uint8)
            self.write_message(IMAGE_TOPIC, IMAGE_TYPE, t_sec,
                               types[IMAGE_TYPE](header=header, **fields))
            return
        if compressed_format not in ('jpeg', 'png'):
            raise ValueError(f"compressed_format must be 'jpeg' or 'png', "
                             f'got {compressed_format!r}')
        rgb = np.asarray(rgb)
        rgb_to_image_fields(rgb)  # same shape / dtype validation as the raw path
        params = ([cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
                  if compressed_format == 'jpeg' else [])
        ok, encoded = cv2.imencode('.jpg' if compressed_format == 'jpeg' else '.png',
                                   cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise ValueError(f'OpenCV could not encode the image as {compressed_format}')
        self.write_message(COMPRESSED_IMAGE_TOPIC, COMPRESSED_IMAGE_TYPE, t_sec,
                           types[COMPRESSED_IMAGE_TYPE](
                               header=header, format=compressed_format,
                               data=np.asarray(encoded, dtype=np.uint8).reshape(-1)))

    def write_joint_state(self, t_sec: float, names: Sequence[str],
                          positions: Sequence[float]) -> None:
        """JointState on /<robot_name>/joint_states (velocity / effort left empty)."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1)
        if len(names) not in (0, positions.size):
            raise ValueError(f'{len(names)} joint names for {positions.size} positions')
        empty = np.zeros(0, dtype=np.float64)
        msg = self.typestore.types[JOINT_STATE_TYPE](
            header=self._header(t_sec), name=[str(n) for n in names], position=positions,
            velocity=empty, effort=empty)
        self.write_message(self.joint_topic, JOINT_STATE_TYPE, t_sec, msg)

    def write_action(self, t_sec: float, action7: Sequence[float]) -> None:
        """The raw 7-D action (dx, dy, dz, droll, dpitch, dyaw, gripper) on ACTION_TOPIC."""
        action = np.asarray(action7, dtype=np.float32).reshape(-1)
        if action.size != ACTION_DIM:
            raise ValueError(f'action must have {ACTION_DIM} values, got {action.size}')
        types = self.typestore.types
        layout = types['std_msgs/msg/MultiArrayLayout'](
            dim=[types['std_msgs/msg/MultiArrayDimension'](
                label='action', size=ACTION_DIM, stride=ACTION_DIM)],
            data_offset=0)
        self.write_message(ACTION_TOPIC, ACTION_TYPE, t_sec,
                           types[ACTION_TYPE](layout=layout, data=action))

    def write_episode_event(self, t_sec: float, event: str, task: str, language: str = '',
                            success: bool = True) -> None:
        """'start' / 'end' of an episode on EPISODE_EVENT_TOPIC (std_msgs/String JSON)."""
        text = episode_event_json(event, task, language, success)
        self.write_message(EPISODE_EVENT_TOPIC, EPISODE_EVENT_TYPE, t_sec,
                           self.typestore.types[EPISODE_EVENT_TYPE](data=text))
