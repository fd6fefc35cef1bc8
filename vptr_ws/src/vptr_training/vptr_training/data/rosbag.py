"""`vptr data rosbag SRC DST --task NAME`: rosbag2 demos (mcap or sqlite3) -> robot store.

SRC is a bag folder, a folder of bag folders, or a bare storage file (.mcap / .db3). A folder
holding storage files but no metadata.yaml is read from the storage files themselves (split
files in order), which is what `ros2 bag reindex` would otherwise be needed for.

Per bag (one conversion unit, read with rosbags' AnyReader so message types come from the
schemas embedded in the bag, with the standard Humble store + interbotix_xs_msgs as fallback):

1. Pass 1 reads every message of the used topics except image payloads: image stamps, joint
   states, actions (/vptr/action) and episode events (/vptr/episode_event), then compares the
   per-topic counts with the storage's own counts (and metadata.yaml's): a disagreement, e.g.
   metadata QoS that makes the reader skip a topic silently, is an error, not an empty result.
2. Times: header.stamp where the message has one (non-zero); messages without a stamp
   (actions, events) or with a zero stamp are put on the same clock by removing the median
   (log time - stamp) offset measured on stamped messages, so sim-time stamps recorded
   against a wall clock line up.
3. Episodes: between 'start' / 'end' events (task, language, success from them, --task as
   fallback), else the whole bag. Control ticks at --control-hz, anchored on the first action
   of the episode when there are actions (the controller's own ticks), else on the first
   instant where both an image and a joint state exist. Each tick takes the latest image and
   the latest joint state at or before it; the state is ee_state_from_joints (FK + finger).
   The action of step k is the last action message up to half a period after tick k (the
   command issued for obs k, robust to latency and jitter, that moved the robot to obs k+1);
   without action messages actions are derived from the states with the Bridge rule.
4. Pass 2 decodes only the selected images and squashes them with squash_resize.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import functools
import logging
import os
from pathlib import Path
import re
import sqlite3
from typing import Any, Iterator, Sequence

import numpy as np
from vptr_training.data import rosbag_io
from vptr_training.data.convert import (add_common_arguments, check_workers, require_source,
                                        run_conversion)
from vptr_training.data.store import EpisodeData
from vptr_training.errors import DataError
from vptr_training.robot import conventions
from vptr_training.robot.image import squash_resize
from vptr_training.robot.kinematics import DEFAULT_ROBOT_MODEL, ROBOT_MODELS, WidowXKinematics
from vptr_training.robot.messages import (compressed_image_to_rgb, image_msg_to_rgb,
                                          joint_state_to_arrays)

STORAGE_SUFFIXES = ('.mcap', '.db3')
IMAGE_TYPES = (rosbag_io.IMAGE_TYPE, rosbag_io.COMPRESSED_IMAGE_TYPE)
ACTION_TYPES = ('std_msgs/msg/Float32MultiArray', 'std_msgs/msg/Float64MultiArray')
_NS = 1_000_000_000
# Sub-millisecond differences between a sample's stamp and a tick are clock rounding and
# jitter (e.g. an action's log time mapped onto the stamp clock), not ordering.
SAMPLE_TOLERANCE_NS = 1_000_000
logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------- finding bags

@dataclass(frozen=True)
class BagUnit:
    """One bag: a folder with metadata.yaml, or storage files read without metadata."""

    label: str                  # what errors and the summary name
    paths: tuple[str, ...]      # handed to AnyReader: (folder,) or the storage files
    has_metadata: bool


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', path.name)]


def _units_from_storage_files(folder: Path, files: list[Path]) -> list[BagUnit]:
    """Storage files without metadata.yaml: `<name>_<k>.<ext>` with one name and extension
    are the splits of one bag (ros2 bag's naming); anything else is one bag per file."""
    files = sorted(files, key=_natural_key)
    split = [re.fullmatch(r'(.*)_(\d+)(\.mcap|\.db3)', f.name) for f in files]
    if len(files) > 1 and all(split) and len({(m.group(1), m.group(3)) for m in split}) == 1:
        return [BagUnit(str(folder), tuple(str(f) for f in files), False)]
    return [BagUnit(str(f), (str(f),), False) for f in files]


def find_bags(src: Path) -> list[BagUnit]:
    """Every bag under SRC (see the module docstring), in a stable order."""
    if src.is_file():
        if src.suffix not in STORAGE_SUFFIXES:
            raise DataError(src, 'not a rosbag2 storage file (expected .mcap or .db3, or a '
                            'bag folder)')
        return [BagUnit(str(src), (str(src),), False)]
    units: list[BagUnit] = []
    for root, dirs, files in os.walk(src):
        # Hidden folders are writers' temp folders (DemoBagWriter builds `.NAME.*.tmp`
        # beside NAME): a killed recorder leaves a half-written bag there.
        dirs[:] = sorted((d for d in dirs if not d.startswith('.')),
                         key=lambda d: _natural_key(Path(d)))
        folder = Path(root)
        if 'metadata.yaml' in files:
            units.append(BagUnit(str(folder), (str(folder),), True))
            dirs.clear()  # a bag folder holds no further bags
            continue
        storage = [folder / f for f in files
                   if not f.startswith('.') and Path(f).suffix in STORAGE_SUFFIXES]
        units.extend(_units_from_storage_files(folder, storage))
    if not units:
        raise DataError(src, 'no rosbag2 bags found (folders with metadata.yaml, or .mcap / '
                        '.db3 files)')
    return units


# ------------------------------------------------------------------------- options

@dataclass(frozen=True)
class RosbagOptions:
    task: str | None = None
    image_topic: str | None = None          # None: /camera/image_raw, its compressed twin,
    joint_topic: str | None = None          # or the only image topic; None: /<model>/...
    action_topic: str = rosbag_io.ACTION_TOPIC
    event_topic: str = rosbag_io.EPISODE_EVENT_TOPIC
    robot_model: str = DEFAULT_ROBOT_MODEL
    image_size: int = 128
    control_hz: float = conventions.CONTROL_HZ


# ------------------------------------------------------------------------- reading

class _BagReader:
    """AnyReader plus the checks and fallbacks this converter needs; errors -> DataError."""

    def __init__(self, unit: BagUnit) -> None:
        from rosbags.highlevel import AnyReader  # deferred: keeps `vptr --help` light
        self.unit = unit
        self.label = unit.label
        self.fallback_types = rosbag_io.make_typestore()
        with self._errors('cannot open'):
            self.reader = AnyReader([Path(p) for p in unit.paths],
                                    default_typestore=self.fallback_types)
            self.reader.open()
        self.topics = self.reader.topics

    def close(self) -> None:
        if self.reader.stack is not None:
            self.reader.close()

    def _errors(self, doing: str) -> Any:
        return _translate_errors(self.label, doing)

    def connections(self, topic: str) -> list[Any]:
        return [c for c in self.reader.connections if c.topic == topic]

    def msgtype(self, topic: str) -> str | None:
        info = self.topics.get(topic)
        return None if info is None else info.msgtype

    def stored_counts(self) -> dict[str, int]:
        """Per-topic message counts according to the storage files themselves."""
        counts: dict[str, int] = {}
        for reader in self.reader.readers:
            storages = getattr(reader.storage, 'storages', None)  # DirectoryReader
            for storage in (storages if storages is not None else [reader.storage]):
                for conn in storage.connections:
                    counts[conn.topic] = counts.get(conn.topic, 0) + int(conn.msgcount)
        return counts

    def check_declared_counts(self, topics: Sequence[str]) -> dict[str, int]:
        """metadata.yaml's counts must match the storage's; returns the storage counts."""
        stored = self.stored_counts()
        for topic in topics:
            declared = self.topics[topic].msgcount
            if self.unit.has_metadata and declared != stored.get(topic, 0):
                raise DataError(self.label, f'metadata.yaml declares {declared} messages on '
                                f'{topic} but the storage files hold {stored.get(topic, 0)} '
                                '(stale metadata: move metadata.yaml away to read the '
                                'storage files directly, or run `ros2 bag reindex`)')
        return stored

    def messages(self, topics: Sequence[str]) -> Iterator[tuple[str, str, int, Any, int]]:
        """(topic, msgtype, log time ns, message, per-topic index) in the bag's order."""
        conns = [c for t in topics for c in self.connections(t)]
        index = {t: 0 for t in topics}
        with self._errors('cannot read'):
            for conn, log_ns, raw in self.reader.messages(connections=conns):
                msg = self.deserialize(raw, conn.msgtype, conn.topic, index[conn.topic])
                yield conn.topic, conn.msgtype, int(log_ns), msg, index[conn.topic]
                index[conn.topic] += 1

    def raw_messages(self, topic: str) -> Iterator[tuple[int, int, bytes, str]]:
        """(per-topic index, log time ns, raw CDR, msgtype) of one topic, for pass 2."""
        with self._errors('cannot read'):
            for i, (conn, log_ns, raw) in enumerate(
                    self.reader.messages(connections=self.connections(topic))):
                yield i, int(log_ns), raw, conn.msgtype

    def deserialize(self, raw: bytes, msgtype: str, topic: str, index: int) -> Any:
        # Embedded schemas first (they describe what was recorded); the standard store for
        # types the bag does not describe (bags recorded without definitions, or mixed).
        store = (self.reader.typestore if msgtype in self.reader.typestore.fielddefs
                 else self.fallback_types)
        if msgtype not in store.fielddefs:
            raise DataError(self.label, f'{topic}: message type {msgtype} is neither described '
                            'in the bag nor a standard ROS 2 type')
        try:
            return store.deserialize_cdr(raw, msgtype)
        except Exception as exc:  # noqa: BLE001 - any decoder failure is bad data here
            raise DataError(self.label, f'{topic} message {index}: cannot deserialise '
                            f'{msgtype}: {exc}') from None


class _translate_errors:
    """Context manager: rosbags / sqlite / OS failures -> DataError naming the bag."""

    def __init__(self, label: str, doing: str) -> None:
        self.label, self.doing = label, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, (DataError, KeyboardInterrupt, GeneratorExit)):
            return False
        if not isinstance(exc, _reader_errors()):
            return False
        text = ' '.join(str(a) for a in getattr(exc, 'args', ())) or type(exc).__name__
        hint = ''
        if 'magic' in text or 'Truncated' in text or 'malformed' in text.lower() \
                or 'not a database' in text.lower():
            hint = (' (truncated or not closed cleanly: repair the storage file first, e.g. '
                    '`mcap recover` for .mcap, `sqlite3 FILE .recover` for .db3)')
        raise DataError(self.label, f'{self.doing} the bag: {text}{hint}') from None


@functools.lru_cache(maxsize=1)
def _reader_errors() -> tuple[type[BaseException], ...]:
    import apsw
    from rosbags.highlevel import AnyReaderError
    from rosbags.rosbag2 import ReaderError
    from rosbags.serde import SerdeError
    from rosbags.typesys import TypesysError
    return (AnyReaderError, ReaderError, SerdeError, TypesysError, apsw.Error, sqlite3.Error,
            OSError, EOFError, UnicodeDecodeError, AssertionError, TypeError, ValueError,
            IndexError, KeyError)


# ------------------------------------------------------------------------- topics

def _pick_topic(bag: _BagReader, wanted: str | None, defaults: Sequence[str],
                types: Sequence[str], what: str, option: str) -> str:
    available = {t: info.msgtype for t, info in bag.topics.items()}
    if wanted is not None:
        if wanted not in available:
            raise DataError(bag.label, f'no {what} topic {wanted!r} in the bag (topics: '
                            f'{_describe_topics(bag)})')
        if available[wanted] not in types:
            raise DataError(bag.label, f'{wanted} has type {available[wanted]}, expected one '
                            f'of {", ".join(types)}')
        return wanted
    for topic in defaults:
        if available.get(topic) in types and bag.topics[topic].msgcount > 0:
            return topic
    candidates = [t for t, msgtype in sorted(available.items())
                  if msgtype in types and bag.topics[t].msgcount > 0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(bag.label, f'no {what} messages ({", ".join(types)}) in the bag '
                        f'(topics: {_describe_topics(bag)})')
    raise DataError(bag.label, f'several {what} topics {candidates}: choose one with {option}')


def _describe_topics(bag: _BagReader) -> str:
    if not bag.topics:
        return 'none'
    return ', '.join(f'{t} [{info.msgtype}] x{info.msgcount}'
                     for t, info in sorted(bag.topics.items()))


# ------------------------------------------------------------------------- pass 1

@dataclass
class _Stream:
    """One topic's messages on the bag's stamp clock, sorted by time."""

    stamp_ns: list[int] = field(default_factory=list)    # header stamps (0 = none)
    log_ns: list[int] = field(default_factory=list)
    index: list[int] = field(default_factory=list)       # per-topic index in reader order
    values: list[Any] = field(default_factory=list)
    time_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def add(self, stamp_ns: int, log_ns: int, index: int, value: Any) -> None:
        self.stamp_ns.append(stamp_ns)
        self.log_ns.append(log_ns)
        self.index.append(index)
        self.values.append(value)

    def finish(self, offset_ns: int) -> None:
        """Put every message on the stamp clock and sort by that time (stable)."""
        times = [s if s > 0 else log - offset_ns for s, log in zip(self.stamp_ns, self.log_ns)]
        order = sorted(range(len(times)), key=lambda i: times[i])
        self.time_ns = np.array([times[i] for i in order], dtype=np.int64)
        self.index = [self.index[i] for i in order]
        self.values = [self.values[i] for i in order]

    def __len__(self) -> int:
        return len(self.index)


def _header_stamp_ns(msg: Any) -> int:
    header = getattr(msg, 'header', None)
    if header is None:
        return 0
    return int(header.stamp.sec) * _NS + int(header.stamp.nanosec)


def _read_streams(bag: _BagReader, image_topic: str, joint_topic: str,
                  action_topic: str | None, event_topic: str | None,
                  joint_names: Sequence[str]) -> dict[str, _Stream]:
    topics = [t for t in (image_topic, joint_topic, action_topic, event_topic) if t]
    stored = bag.check_declared_counts(topics)
    streams = {t: _Stream() for t in topics}
    for topic, msgtype, log_ns, msg, index in bag.messages(topics):
        stream = streams[topic]
        if topic == image_topic:
            # (log time, stamp) identifies the frame in pass 2: storage order among messages
            # with equal log times is not guaranteed to repeat (SQL ORDER BY ties), and two
            # frames with the same times are interchangeable for the tick they serve.
            stamp = _header_stamp_ns(msg)
            stream.add(stamp, log_ns, index, (log_ns, stamp))
        elif topic == joint_topic:
            try:
                positions, _ = joint_state_to_arrays(msg, joint_names, missing='nan')
            except ValueError as exc:
                raise DataError(bag.label, f'{topic} message {index}: {exc}') from None
            stream.add(_header_stamp_ns(msg), log_ns, index, positions)
        elif topic == action_topic:
            action = np.asarray(msg.data, dtype=np.float64).reshape(-1)
            if action.size != rosbag_io.ACTION_DIM:
                raise DataError(bag.label, f'{topic} message {index} holds {action.size} '
                                f'values, expected {rosbag_io.ACTION_DIM}')
            stream.add(0, log_ns, index, action.astype(np.float32))
        else:
            try:
                event = rosbag_io.parse_episode_event(str(msg.data))
            except ValueError as exc:
                raise DataError(bag.label, f'{topic} message {index}: {exc}') from None
            stream.add(0, log_ns, index, event)
    for topic in topics:
        if len(streams[topic]) != stored.get(topic, 0):
            raise DataError(bag.label, f'read {len(streams[topic])} of the '
                            f'{stored.get(topic, 0)} messages the storage holds on {topic} '
                            '(metadata.yaml QoS or type disagreeing with the storage makes '
                            'readers skip messages: move metadata.yaml away to read the '
                            'storage files directly)')
    return streams


def _clock_offset_ns(streams: Sequence[_Stream]) -> int:
    """Median (log time - header stamp) over stamped messages: 0 when stamps are the log
    clock (plus latency), large when stamps are sim time and the bag was wall clock."""
    diffs = [log - s for stream in streams for s, log in zip(stream.stamp_ns, stream.log_ns)
             if s > 0]
    return int(np.median(np.array(diffs, dtype=np.int64))) if diffs else 0


def _forward_fill(stream: _Stream) -> tuple[np.ndarray, np.ndarray]:
    """Joint samples -> (times, positions) with every joint known: drivers that publish
    the arm and the gripper in separate messages are merged by carrying values forward."""
    if not len(stream):
        return np.zeros(0, np.int64), np.zeros((0, 0))
    positions = np.array(stream.values, dtype=np.float64)
    for j in range(positions.shape[1]):
        column = positions[:, j]
        known = ~np.isnan(column)
        last = np.maximum.accumulate(np.where(known, np.arange(len(column)), -1))
        positions[:, j] = np.where(last >= 0, column[np.maximum(last, 0)], np.nan)
    complete = ~np.isnan(positions).any(axis=1)
    return stream.time_ns[complete], positions[complete]


# ------------------------------------------------------------------------- episodes

@dataclass
class _Window:
    start_ns: int | None
    end_ns: int | None
    task: str
    language: str
    success: bool


def _episode_windows(bag: _BagReader, events: _Stream | None, fallback_task: str | None,
                     ) -> list[_Window]:
    def task_of(*names: str) -> str:
        task = next((n for n in names if n), fallback_task)
        if not task:
            raise DataError(bag.label, 'no task name: the episode events carry none and no '
                            '--task was given')
        return task

    if events is None or not len(events):
        return [_Window(None, None, task_of(), '', True)]
    windows: list[_Window] = []
    open_start: tuple[int, dict[str, Any]] | None = None
    previous_end: int | None = None
    for t, event in zip(events.time_ns.tolist(), events.values):
        if event['event'] == 'start':
            if open_start is not None:  # a start without an end: the episode was abandoned
                logger.warning(f'{bag.label}: episode started at {open_start[0] / _NS:.3f} s '
                               'has no end event; treating it as unsuccessful')
                s_t, s_ev = open_start
                windows.append(_Window(s_t, t, task_of(s_ev['task']), s_ev['language'], False))
            open_start = (t, event)
        else:
            if open_start is None:  # recording began after the start press
                start, start_ev = previous_end, {'task': '', 'language': ''}
            else:
                start, start_ev = open_start
            windows.append(_Window(start, t, task_of(event['task'], start_ev['task']),
                                   event['language'] or start_ev['language'],
                                   bool(event['success'])))
            open_start, previous_end = None, t
    if open_start is not None:
        s_t, s_ev = open_start
        logger.warning(f'{bag.label}: last episode has no end event (recording stopped?); '
                       'treating it as unsuccessful')
        windows.append(_Window(s_t, None, task_of(s_ev['task']), s_ev['language'], False))
    return windows


def _latest_at_or_before(times: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Index of the last time <= each tick (-1 if none); `times` sorted. A sample up to
    SAMPLE_TOLERANCE_NS after the tick counts as at it (clock rounding, not a later frame)."""
    return np.searchsorted(times, ticks + SAMPLE_TOLERANCE_NS, side='right') - 1


def _plan_ticks(window: _Window, period_ns: int, image_t: np.ndarray, joint_t: np.ndarray,
                action_t: np.ndarray) -> np.ndarray:
    """Control tick times (ns) of one episode."""
    ready = max(int(image_t[0]), int(joint_t[0]))
    # The last tick may lie up to half a period after the scarcer stream's last sample: a
    # recording that stops right after the final observation still yields it.
    last = min(int(image_t[-1]), int(joint_t[-1])) + period_ns // 2
    start = window.start_ns if window.start_ns is not None else ready
    end = last if window.end_ns is None else min(last, window.end_ns)
    in_window = action_t[(action_t >= start) & (action_t <= end)]
    anchor = int(in_window[0]) if in_window.size else max(start, ready)
    if end < anchor:
        return np.zeros(0, np.int64)
    ticks = anchor + period_ns * np.arange((end - anchor) // period_ns + 1, dtype=np.int64)
    return ticks[ticks + SAMPLE_TOLERANCE_NS >= ready]


def convert_bag(unit: BagUnit, options: RosbagOptions) -> list[EpisodeData]:
    """One bag -> its episodes (the conversion runner's unit function)."""
    kin = WidowXKinematics(options.robot_model)
    joint_names = list(kin.joint_names) + ['left_finger']
    period_ns = int(round(_NS / options.control_hz))
    bag = _BagReader(unit)
    try:
        image_topic = _pick_topic(
            bag, options.image_topic,
            (rosbag_io.IMAGE_TOPIC, rosbag_io.COMPRESSED_IMAGE_TOPIC), IMAGE_TYPES, 'image',
            '--image-topic')
        joint_topic = _pick_topic(
            bag, options.joint_topic, (rosbag_io.joint_states_topic(options.robot_model),),
            (rosbag_io.JOINT_STATE_TYPE,), 'joint state', '--joint-topic')
        action_topic = options.action_topic if options.action_topic in bag.topics else None
        if action_topic and bag.msgtype(action_topic) not in ACTION_TYPES:
            raise DataError(bag.label, f'{action_topic} has type {bag.msgtype(action_topic)}, '
                            f'expected one of {", ".join(ACTION_TYPES)}')
        event_topic = options.event_topic if options.event_topic in bag.topics else None
        if event_topic and bag.msgtype(event_topic) != rosbag_io.EPISODE_EVENT_TYPE:
            raise DataError(bag.label, f'{event_topic} has type {bag.msgtype(event_topic)}, '
                            f'expected {rosbag_io.EPISODE_EVENT_TYPE}')

        streams = _read_streams(bag, image_topic, joint_topic, action_topic, event_topic,
                                joint_names)
        offset = _clock_offset_ns([streams[image_topic], streams[joint_topic]])
        for stream in streams.values():
            stream.finish(offset)
        images, joints = streams[image_topic], streams[joint_topic]
        joint_t, joint_q = _forward_fill(joints)
        if not len(images):
            raise DataError(bag.label, f'no messages on the image topic {image_topic}')
        if not joint_t.size:
            raise DataError(bag.label, f'no joint state on {joint_topic} names all of '
                            f'{joint_names}' if len(joints) else
                            f'no messages on the joint state topic {joint_topic}')
        actions = streams.get(action_topic) if action_topic else None
        action_t = actions.time_ns if actions is not None else np.zeros(0, np.int64)
        windows = _episode_windows(bag, streams.get(event_topic) if event_topic else None,
                                   options.task)

        plans = []
        for number, window in enumerate(windows):
            ticks = _plan_ticks(window, period_ns, images.time_ns, joint_t, action_t)
            if ticks.size < 2:
                logger.warning(f'{bag.label}: episode {number} ({window.task}) spans fewer '
                               'than 2 control ticks with both an image and a joint state; '
                               'skipped')
                continue
            img_idx = _latest_at_or_before(images.time_ns, ticks)
            joint_idx = _latest_at_or_before(joint_t, ticks)
            _warn_stale(bag.label, window.task, ticks, images.time_ns[img_idx], 'image',
                        period_ns)
            _warn_stale(bag.label, window.task, ticks, joint_t[joint_idx], 'joint state',
                        period_ns)
            plans.append((window, ticks, img_idx, joint_idx))
        if not plans:
            raise DataError(bag.label, 'no episode with at least 2 control ticks holding both '
                            'an image and a joint state')

        # pass 2: decode exactly the frames the ticks use, squashed at once (bounded memory)
        wanted = {images.values[i] for _, _, img_idx, _ in plans for i in img_idx.tolist()}
        frames = _decode_images(bag, image_topic, wanted, options.image_size)
    finally:
        bag.close()

    episodes = []
    for window, ticks, img_idx, joint_idx in plans:
        states = np.stack([
            conventions.ee_state_from_joints(kin, joint_q[j, :-1], float(joint_q[j, -1]))
            for j in joint_idx.tolist()]).astype(np.float32)
        step_actions = (_actions_in_effect(actions, ticks, period_ns, window.start_ns,
                                           f'{bag.label}: episode {window.task!r}')
                        if actions is not None else None)
        if step_actions is None:
            if actions is not None and len(actions):
                logger.warning(f'{bag.label}: episode at {ticks[0] / _NS:.3f} s has no action '
                               f'messages on {action_topic}; deriving its actions from the states')
            step_actions = conventions.relabel_actions_from_states(states)
        episodes.append(EpisodeData(
            images=np.stack([frames[images.values[i]] for i in img_idx.tolist()]),
            task=window.task, source=bag.label, states=states,
            actions=step_actions.astype(np.float32),
            rewards=np.zeros(len(ticks) - 1, np.float32), success=window.success,
            language=window.language, timestamps=ticks.astype(np.float64) / _NS))
    return episodes


def _warn_stale(label: str, task: str, ticks: np.ndarray, sample_t: np.ndarray, what: str,
                period_ns: int) -> None:
    """A tick served by a sample older than two periods means a dropout in that stream."""
    age = ticks - sample_t
    stale = int((age > 2 * period_ns).sum())
    if stale:
        logger.warning(f'{label}: episode {task!r}: {stale} of {len(ticks)} ticks use a {what} '
                       f'older than {2 * period_ns / _NS:.2f} s (oldest {age.max() / _NS:.2f} s): '
                       'the stream has gaps')


def _actions_in_effect(actions: _Stream, ticks: np.ndarray, period_ns: int,
                       start_ns: int | None, label: str = '') -> np.ndarray | None:
    """Action of step k = the last action message up to half a period after tick k: the
    command issued in response to obs k (published at the tick, give or take latency and
    jitter) that moved the robot to obs k+1. None when step 0 has no action inside the
    episode (an earlier episode's command is not this one's): the caller then derives the
    episode's actions from its states.

    A tick whose latest action is older than half a period before it had no command of
    its own (the controller held: stale input, IK failure): it gets zero movement and the
    gripper value still in effect, not a repeat of the previous step's movement.
    """
    if not len(actions):
        return None
    last = np.searchsorted(actions.time_ns, ticks[:-1] + period_ns // 2, side='right') - 1
    first_allowed = 0 if start_ns is None else int(
        np.searchsorted(actions.time_ns, start_ns, side='left'))
    if last[0] < first_allowed:
        return None
    step_actions = np.stack([actions.values[i] for i in last.tolist()]).astype(np.float32)
    held = actions.time_ns[last] < ticks[:-1] - period_ns // 2
    if held.any():
        step_actions[held, :6] = 0.0
        logger.warning(f'{label}: {int(held.sum())} of {len(held)} steps have no action '
                       'message of their own (the controller held); recorded as zero movement')
    return step_actions


def _decode_images(bag: _BagReader, topic: str, wanted: set[tuple[int, int]],
                   size: int) -> dict[tuple[int, int], np.ndarray]:
    """Pass 2: decode and squash the frames whose (log time, stamp) the ticks selected."""
    frames: dict[tuple[int, int], np.ndarray] = {}
    for index, log_ns, raw, msgtype in bag.raw_messages(topic):
        msg = bag.deserialize(raw, msgtype, topic, index)  # cheap: payload is not copied
        key = (log_ns, _header_stamp_ns(msg))
        if key not in wanted or key in frames:
            continue
        try:
            rgb = (compressed_image_to_rgb(msg) if msgtype == rosbag_io.COMPRESSED_IMAGE_TYPE
                   else image_msg_to_rgb(msg))
        except ValueError as exc:
            raise DataError(bag.label, f'{topic} message {index}: {exc}') from None
        frames[key] = squash_resize(rgb, size)
    if len(frames) != len(wanted):
        raise DataError(bag.label, f'{topic}: {len(wanted) - len(frames)} image messages read '
                        'in the first pass were missing in the second')
    return frames


# ------------------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, size_default=128)
    parser.add_argument('--task', default=None,
                        help='task name (required unless every episode event names one)')
    parser.add_argument('--image-topic', default=None,
                        help=f'sensor_msgs Image or CompressedImage topic (default '
                        f'{rosbag_io.IMAGE_TOPIC}, then {rosbag_io.COMPRESSED_IMAGE_TOPIC}, '
                        'then the only image topic)')
    parser.add_argument('--joint-topic', default=None,
                        help='sensor_msgs/JointState topic (default /<robot-model>/'
                        'joint_states, then the only JointState topic)')
    parser.add_argument('--action-topic', default=rosbag_io.ACTION_TOPIC,
                        help='Float32MultiArray raw 7-D actions; absent: derived from states '
                        f'(default {rosbag_io.ACTION_TOPIC})')
    parser.add_argument('--event-topic', default=rosbag_io.EPISODE_EVENT_TOPIC,
                        help='episode start/end events (std_msgs/String JSON); absent: the '
                        f'whole bag is one episode (default {rosbag_io.EPISODE_EVENT_TOPIC})')
    parser.add_argument('--robot-model', choices=ROBOT_MODELS, default=DEFAULT_ROBOT_MODEL,
                        help=f'WidowX model for the kinematics (default {DEFAULT_ROBOT_MODEL})')
    parser.add_argument('--control-hz', type=float, default=conventions.CONTROL_HZ,
                        help=f'control rate to resample to (default {conventions.CONTROL_HZ:g})')


def _unit_name(unit: BagUnit) -> str:
    return unit.label


def run(args: argparse.Namespace) -> int:
    src = require_source(args.src)
    workers = check_workers(args.workers)
    if not args.control_hz > 0:
        raise DataError('--control-hz', f'must be positive, got {args.control_hz}')
    if args.size < 8:
        raise DataError('--size', f'must be at least 8 pixels, got {args.size}')
    options = RosbagOptions(task=args.task, image_topic=args.image_topic,
                            joint_topic=args.joint_topic, action_topic=args.action_topic,
                            event_topic=args.event_topic, robot_model=args.robot_model,
                            image_size=args.size, control_hz=args.control_hz)
    units = find_bags(src)
    run_conversion(units, functools.partial(convert_bag, options=options), args.dst,
                   kind='robot', image_size=args.size, control_hz=args.control_hz,
                   workers=workers, skip_bad=args.skip_bad, overwrite=args.overwrite,
                   append=args.append, src=src, desc='rosbags', unit_name=_unit_name)
    return 0
