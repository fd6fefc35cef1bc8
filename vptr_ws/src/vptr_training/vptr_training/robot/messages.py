"""ROS message <-> numpy conversion, written against message FIELDS only.

Every function here reads or builds plain attributes (`height`, `width`, `encoding`, `step`,
`data`, `name`, `position`, `header.stamp`, ...), never a message class. So the same code
serves rclpy messages on the robot (where `data` is an `array.array` or `bytes`) and messages
deserialised from a rosbag by `rosbags` (where `data` is a numpy array), and vptr_training
never imports a ROS package. cv_bridge is deliberately not used: it is not installable without
ROS, so we honour the row stride (`step`, which may be padded) ourselves (docs/robot.md).

Encoding names follow sensor_msgs/image_encodings.hpp: note that `yuv422` is UYVY byte order
and `yuv422_yuy2` is YUYV (what usb_cam publishes for its `yuyv` pixel format).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import cv2
import numpy as np

# Positional joint order of Interbotix joint_states when `name` is empty (docs/robot.md):
# arm joints, then gripper (rad), then the two fingers (m). The model is recognised by the
# vector length.
WX250S_JOINT_STATE_ORDER: tuple[str, ...] = (
    'waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate',
    'gripper', 'left_finger', 'right_finger')
WX250_JOINT_STATE_ORDER: tuple[str, ...] = tuple(
    name for name in WX250S_JOINT_STATE_ORDER if name != 'forearm_roll')

# encoding -> (channels, bytes per channel)
_RAW_LAYOUTS: dict[str, tuple[int, int]] = {
    'rgb8': (3, 1), 'bgr8': (3, 1), 'rgba8': (4, 1), 'bgra8': (4, 1), 'mono8': (1, 1),
    '8uc1': (1, 1),
    'rgb16': (3, 2), 'bgr16': (3, 2), 'rgba16': (4, 2), 'bgra16': (4, 2), 'mono16': (1, 2),
    '16uc1': (1, 2),
}
# 4:2:2 packed YUV: 2 bytes per pixel; value = OpenCV conversion code to RGB.
_YUV422_CODES: dict[str, int] = {
    'yuv422': cv2.COLOR_YUV2RGB_UYVY,
    'uyvy': cv2.COLOR_YUV2RGB_UYVY,
    'yuv422_yuy2': cv2.COLOR_YUV2RGB_YUYV,
    'yuyv': cv2.COLOR_YUV2RGB_YUYV,
}
# (is BGR order, channels) -> OpenCV conversion to RGB; absent: already RGB
_TO_RGB_CODES: dict[tuple[bool, int], int] = {
    (False, 1): cv2.COLOR_GRAY2RGB, (True, 1): cv2.COLOR_GRAY2RGB,
    (False, 4): cv2.COLOR_RGBA2RGB, (True, 4): cv2.COLOR_BGRA2RGB, (True, 3): cv2.COLOR_BGR2RGB,
}
SUPPORTED_IMAGE_ENCODINGS: tuple[str, ...] = tuple(sorted([*_RAW_LAYOUTS, *_YUV422_CODES]))


def _as_uint8_buffer(data: Any) -> np.ndarray:
    """The message's `data` field as a flat uint8 array, without copying where possible."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8) if data.dtype.itemsize == 1 else \
            np.frombuffer(data.tobytes(), np.uint8)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    try:  # array.array('B') from rclpy exposes the buffer protocol
        return np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)
    except TypeError:  # a plain list of ints
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _rows(msg: Any, row_bytes: int) -> np.ndarray:
    """(height, row_bytes) uint8 view of the pixel rows, dropping any row padding (`step`)."""
    height, width = int(msg.height), int(msg.width)
    if height <= 0 or width <= 0:
        raise ValueError(f'image has no pixels ({width}x{height})')
    step = int(msg.step) or row_bytes  # step 0 from sloppy publishers: tightly packed
    if step < row_bytes:
        raise ValueError(f'image step {step} is shorter than a row ({row_bytes} bytes for '
                         f'{width} px of {msg.encoding})')
    buffer = _as_uint8_buffer(msg.data)
    needed = step * (height - 1) + row_bytes  # the last row's padding may be omitted
    if buffer.size < needed:
        raise ValueError(f'image data holds {buffer.size} bytes, {needed} needed for '
                         f'{width}x{height} {msg.encoding} with step {step}')
    # A strided view: row r starts at r * step. No copy until the caller's conversion.
    return np.lib.stride_tricks.as_strided(buffer, shape=(height, row_bytes),
                                           strides=(step, 1), writeable=False)


def image_msg_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/Image fields -> (H, W, 3) uint8 RGB.

    Honours `step` (padded rows) and `is_bigendian` (16-bit encodings, reduced to their high
    byte). Raises ValueError naming the encoding when it is not supported, or when the
    buffer does not match height / width / step.
    """
    encoding = str(msg.encoding)
    key = encoding.strip().lower()
    height, width = int(msg.height), int(msg.width)
    if key in _YUV422_CODES:
        if width % 2:
            raise ValueError(f'{encoding} image needs an even width, got {width}')
        packed = _rows(msg, width * 2).reshape(height, width, 2)
        return cv2.cvtColor(np.ascontiguousarray(packed), _YUV422_CODES[key])
    if key not in _RAW_LAYOUTS:
        raise ValueError(f'unsupported image encoding {encoding!r} (supported: '
                         f'{", ".join(SUPPORTED_IMAGE_ENCODINGS)})')
    channels, depth = _RAW_LAYOUTS[key]
    rows = _rows(msg, width * channels * depth)
    if depth == 2:
        dtype = np.dtype('>u2' if int(getattr(msg, 'is_bigendian', 0)) else '<u2')
        wide = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
        pixels = (wide >> 8).astype(np.uint8)  # keep the high byte: full range -> 0..255
    else:
        pixels = rows.reshape(height, width, channels)  # still a view on the message
    # cv2.cvtColor rather than a reversed-stride numpy copy: measured 6 ms -> well under
    # 1 ms per 640x480 bgr8 frame (bench/bench_data_rosbag.py).
    code = _TO_RGB_CODES.get((key.startswith('bgr'), channels))
    if code is None:  # rgb8: one copy, contiguous and never aliasing the message's buffer
        return np.array(pixels, copy=True)
    return cv2.cvtColor(np.ascontiguousarray(pixels), code)


def compressed_image_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/CompressedImage fields -> (H, W, 3) uint8 RGB.

    `format` is e.g. 'jpeg', 'png' or image_transport's 'rgb8; jpeg compressed bgr8': the
    compressed payload is a standard JPEG / PNG whatever the prefix says, so cv2.imdecode reads
    it (as BGR, converted here). Corrupt or empty data and compressedDepth -> ValueError.
    """
    fmt = str(getattr(msg, 'format', ''))
    if 'compresseddepth' in fmt.lower():
        raise ValueError(f'compressed depth images are not supported (format {fmt!r})')
    buffer = _as_uint8_buffer(msg.data)
    if buffer.size == 0:
        raise ValueError(f'compressed image ({fmt!r}) has no data')
    try:
        bgr = cv2.imdecode(np.ascontiguousarray(buffer), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ValueError(f'cannot decode compressed image ({fmt!r}): {exc}') from None
    if bgr is None or bgr.size == 0:
        raise ValueError(f'cannot decode compressed image ({fmt!r}, {buffer.size} bytes): '
                         'corrupt or not JPEG/PNG')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_image_fields(rgb: np.ndarray) -> dict[str, Any]:
    """(H, W, 3) uint8 RGB -> the sensor_msgs/Image fields (without header), for publishers.

    `data` is `bytes`; rclpy accepts it, rosbags callers convert with np.frombuffer.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}')
    height, width = rgb.shape[:2]
    return {'height': int(height), 'width': int(width), 'encoding': 'rgb8',
            'is_bigendian': 0, 'step': int(width) * 3,
            'data': np.ascontiguousarray(rgb).tobytes()}


def stamp_to_seconds(stamp: Any) -> float:
    """builtin_interfaces/Time (sec, nanosec) -> float seconds (ROS 1 secs/nsecs accepted)."""
    sec = getattr(stamp, 'sec', None)
    if sec is None:
        sec = getattr(stamp, 'secs')
    nanosec = getattr(stamp, 'nanosec', None)
    if nanosec is None:
        nanosec = getattr(stamp, 'nsecs', 0)
    return float(sec) + float(nanosec) * 1e-9


def seconds_to_stamp_fields(t_sec: float) -> tuple[int, int]:
    """float seconds -> (sec, nanosec) as a builtin_interfaces/Time holds them.

    Whole and fractional seconds are split before scaling: t * 1e9 for wall-clock times
    (~1.7e18 ns) exceeds float64's exact integers and would lose ~100 ns.
    """
    whole = math.floor(float(t_sec))
    nanosec = int(round((float(t_sec) - whole) * 1e9))
    sec, nanosec = whole + nanosec // 1_000_000_000, nanosec % 1_000_000_000
    return int(sec), int(nanosec)


def _normalise_joint_name(name: str) -> str:
    """' Left Finger ' -> 'left_finger'; 'wx250s/waist' -> 'waist'."""
    name = '_'.join(str(name).strip().split()).lower()
    return name.rsplit('/', 1)[-1]


def joint_state_to_arrays(msg: Any, joint_names: Sequence[str], *,
                          missing: str = 'raise',
                          positional_order: Sequence[str] | None = None,
                          ) -> tuple[np.ndarray, float]:
    """sensor_msgs/JointState fields -> (positions in `joint_names` order (float64), stamp s).

    Names are matched exactly first, then after normalisation (whitespace trimmed / joined by
    '_', lower case, namespace prefix dropped), so 'waist ' or 'wx250s/waist' match 'waist'.
    An empty `name` means the driver's positional order: `positional_order` if given, else
    the wx250s or wx250 order chosen by the vector length (9 or 8 entries).
    missing='raise': ValueError naming absent joints; missing='nan': NaN in their place (for
    drivers that publish the gripper and the arm in separate messages).
    """
    if missing not in ('raise', 'nan'):
        raise ValueError(f"missing must be 'raise' or 'nan', got {missing!r}")
    positions = np.asarray(msg.position, dtype=np.float64).reshape(-1)
    names = [str(n) for n in msg.name]
    if not names:
        if positional_order is None:
            by_length = {len(WX250S_JOINT_STATE_ORDER): WX250S_JOINT_STATE_ORDER,
                         len(WX250_JOINT_STATE_ORDER): WX250_JOINT_STATE_ORDER}
            if positions.size not in by_length:
                raise ValueError(f'joint state has no names and {positions.size} positions: '
                                 'cannot infer the joint order (expected 8 or 9)')
            positional_order = by_length[positions.size]
        names = list(positional_order)[:positions.size]
    if len(names) != positions.size:
        raise ValueError(f'joint state has {len(names)} names but {positions.size} positions')
    exact = {name: i for i, name in enumerate(names)}
    normalised = {_normalise_joint_name(name): i for i, name in enumerate(names)}
    out = np.full(len(joint_names), np.nan)
    absent = []
    for j, wanted in enumerate(joint_names):
        index = exact.get(wanted, normalised.get(_normalise_joint_name(wanted)))
        if index is None:
            absent.append(wanted)
        else:
            out[j] = positions[index]
    if absent and missing == 'raise':
        raise ValueError(f'joint state lacks joints {absent} (has {names})')
    return out, stamp_to_seconds(msg.header.stamp)
