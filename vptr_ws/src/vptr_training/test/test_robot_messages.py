"""Message <-> numpy conversion (vptr_training.robot.messages), duck-typed messages and real
rosbags-deserialised ones alike."""
from __future__ import annotations

import array
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from vptr_training.data.rosbag_io import make_typestore
from vptr_training.robot.messages import (compressed_image_to_rgb, image_msg_to_rgb,
                                          joint_state_to_arrays, rgb_to_image_fields,
                                          seconds_to_stamp_fields, stamp_to_seconds,
                                          WX250_JOINT_STATE_ORDER, WX250S_JOINT_STATE_ORDER)


def _rgb(height: int = 6, width: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _image(pixels: np.ndarray, encoding: str, pad: int = 0, data_type: str = 'bytes',
           bigendian: int = 0, width: int | None = None) -> SimpleNamespace:
    """An Image-like message whose rows are padded with `pad` junk bytes."""
    height = pixels.shape[0]
    rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, pad), 0xAB, np.uint8)], axis=1)
    raw = padded.tobytes()
    data = {'bytes': raw, 'array': array.array('B', raw), 'list': list(raw),
            'numpy': np.frombuffer(raw, np.uint8)}[data_type]
    width = pixels.shape[1] if width is None else width
    return SimpleNamespace(height=height, width=width, encoding=encoding,
                           is_bigendian=bigendian, step=padded.shape[1], data=data)


@pytest.mark.parametrize('data_type', ['bytes', 'array', 'list', 'numpy'])
@pytest.mark.parametrize('pad', [0, 7])
def test_rgb8_honours_step_and_data_containers(pad: int, data_type: str) -> None:
    rgb = _rgb()
    out = image_msg_to_rgb(_image(rgb, 'rgb8', pad, data_type))
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert out.flags.c_contiguous and out.flags.writeable  # owned, not a view on the message
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize('encoding', ['bgr8', 'rgba8', 'bgra8', 'mono8', '8UC1'])
def test_colour_orders_and_mono(encoding: str) -> None:
    rgb = _rgb(5, 8, seed=1)
    alpha = np.full(rgb.shape[:2] + (1,), 77, np.uint8)
    gray = rgb[:, :, 1]
    pixels = {'bgr8': rgb[:, :, ::-1], 'rgba8': np.concatenate([rgb, alpha], 2),
              'bgra8': np.concatenate([rgb[:, :, ::-1], alpha], 2), 'mono8': gray,
              '8UC1': gray}[encoding]
    expected = np.repeat(gray[:, :, None], 3, 2) if encoding in ('mono8', '8UC1') else rgb
    np.testing.assert_array_equal(image_msg_to_rgb(_image(pixels, encoding, pad=3)), expected)


@pytest.mark.parametrize('bigendian', [0, 1])
def test_mono16_respects_endianness(bigendian: int) -> None:
    values = np.array([[0, 256, 65535], [4096, 32768, 511]], dtype=np.uint16)
    stored = values.astype('>u2' if bigendian else '<u2')
    out = image_msg_to_rgb(_image(stored, 'mono16', pad=2, bigendian=bigendian))
    np.testing.assert_array_equal(out[:, :, 0], (values >> 8).astype(np.uint8))
    assert (out[:, :, 0] == out[:, :, 2]).all()


def _yuv_pairs(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = rng.integers(16, 236, (height, width), dtype=np.uint8)
    u = rng.integers(16, 241, (height, width // 2), dtype=np.uint8)
    v = rng.integers(16, 241, (height, width // 2), dtype=np.uint8)
    return y, u, v


@pytest.mark.parametrize('encoding', ['yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv'])
def test_yuv422_byte_orders(encoding: str) -> None:
    width, height = 8, 4
    y, u, v = _yuv_pairs(width, height)
    packed = np.empty((height, width * 2), np.uint8)
    if encoding in ('yuv422', 'uyvy'):  # U Y0 V Y1 (sensor_msgs: yuv422 is UYVY)
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = \
            u, y[:, 0::2], v, y[:, 1::2]
    else:  # Y0 U Y1 V
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = \
            y[:, 0::2], u, y[:, 1::2], v
    out = image_msg_to_rgb(_image(packed, encoding, pad=4, width=width))
    # BT.601 video-range reference, independent of OpenCV's code path.
    uu = np.repeat(u, 2, axis=1).astype(np.float64) - 128.0
    vv = np.repeat(v, 2, axis=1).astype(np.float64) - 128.0
    yy = 1.164 * (y.astype(np.float64) - 16.0)
    reference = np.stack([yy + 1.596 * vv, yy - 0.391 * uu - 0.813 * vv, yy + 2.018 * uu], 2)
    reference = np.clip(np.round(reference), 0, 255)
    assert out.shape == (height, width, 3)
    assert np.abs(out.astype(np.float64) - reference).max() <= 3.0


def test_unknown_encoding_and_bad_buffers_raise() -> None:
    rgb = _rgb()
    with pytest.raises(ValueError, match='bayer_rggb8'):
        image_msg_to_rgb(_image(rgb[:, :, 0], 'bayer_rggb8'))
    short = _image(rgb, 'rgb8')
    short.data = short.data[:-40]
    with pytest.raises(ValueError, match='bytes'):
        image_msg_to_rgb(short)
    narrow = _image(rgb, 'rgb8')
    narrow.step = rgb.shape[1] * 3 - 1
    with pytest.raises(ValueError, match='step'):
        image_msg_to_rgb(narrow)
    odd = _image(np.zeros((2, 6), np.uint8), 'yuyv', width=3)
    with pytest.raises(ValueError, match='even width'):
        image_msg_to_rgb(odd)


def test_last_row_padding_may_be_missing() -> None:
    rgb = _rgb(3, 4)
    msg = _image(rgb, 'rgb8', pad=5)
    msg.data = msg.data[:-5]  # some publishers do not pad the final row
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_rgb_to_image_fields_round_trip() -> None:
    rgb = _rgb(7, 9)
    fields = rgb_to_image_fields(rgb)
    assert fields['encoding'] == 'rgb8' and fields['step'] == 27
    assert (fields['height'], fields['width']) == (7, 9) and isinstance(fields['data'], bytes)
    np.testing.assert_array_equal(image_msg_to_rgb(SimpleNamespace(**fields)), rgb)
    with pytest.raises(ValueError):
        rgb_to_image_fields(rgb.astype(np.float32))


def test_rosbags_deserialised_image_with_padded_step() -> None:
    store = make_typestore()
    types = store.types
    rgb = _rgb(4, 5, seed=9)
    bgr_rows = np.concatenate([rgb[:, :, ::-1].reshape(4, 15), np.zeros((4, 1), np.uint8)], 1)
    msg = types['sensor_msgs/msg/Image'](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=3, nanosec=250_000_000),
            frame_id='cam'),
        height=4, width=5, encoding='bgr8', is_bigendian=0, step=16,
        data=bgr_rows.reshape(-1))
    raw = store.serialize_cdr(msg, 'sensor_msgs/msg/Image')
    decoded = store.deserialize_cdr(raw, 'sensor_msgs/msg/Image')
    np.testing.assert_array_equal(image_msg_to_rgb(decoded), rgb)
    assert stamp_to_seconds(decoded.header.stamp) == pytest.approx(3.25)


@pytest.mark.parametrize('fmt', ['jpeg', 'png', 'rgb8; jpeg compressed bgr8'])
def test_compressed_images(fmt: str) -> None:
    # smooth content so JPEG stays close
    yy, xx = np.mgrid[0:24, 0:32]
    rgb = np.stack([xx * 8, yy * 10, (xx + yy) * 4], 2).astype(np.uint8)
    ext = '.png' if fmt == 'png' else '.jpg'
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    out = compressed_image_to_rgb(SimpleNamespace(format=fmt, data=encoded.tobytes()))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    error = np.abs(out.astype(int) - rgb.astype(int))
    if fmt == 'png':
        assert error.max() == 0
    else:  # lossy, but colours must not be swapped: a swap costs ~100 on average
        assert error.mean() < 4.0


def test_corrupt_compressed_images_raise() -> None:
    with pytest.raises(ValueError, match='corrupt'):
        compressed_image_to_rgb(SimpleNamespace(format='jpeg', data=b'\xff\xd8not a jpeg'))
    with pytest.raises(ValueError, match='no data'):
        compressed_image_to_rgb(SimpleNamespace(format='png', data=b''))
    with pytest.raises(ValueError, match='depth'):
        compressed_image_to_rgb(SimpleNamespace(format='16UC1; compressedDepth', data=b'x'))


def _joint_msg(names: list[str], positions: list[float], sec: int = 12,
               nanosec: int = 500) -> SimpleNamespace:
    stamp = SimpleNamespace(sec=sec, nanosec=nanosec)
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp), name=names,
                           position=array.array('d', positions), velocity=[], effort=[])


def test_joint_state_by_name_any_order() -> None:
    names = list(WX250S_JOINT_STATE_ORDER)[::-1]
    positions = [float(i) for i in range(9)]
    out, stamp = joint_state_to_arrays(_joint_msg(names, positions), ['waist', 'left_finger'])
    assert out.tolist() == [8.0, 1.0]  # reversed: waist last, left_finger second
    assert stamp == pytest.approx(12 + 500e-9)


def test_joint_names_with_spaces_case_and_namespace() -> None:
    names = [' waist', 'Shoulder ', 'wx250s/elbow', 'left finger']
    out, _ = joint_state_to_arrays(_joint_msg(names, [1.0, 2.0, 3.0, 4.0]),
                                   ['waist', 'shoulder', 'elbow', 'left_finger'])
    assert out.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_empty_names_use_model_positional_order() -> None:
    wanted = ['elbow', 'wrist_angle', 'left_finger']
    out9, _ = joint_state_to_arrays(_joint_msg([], [float(i) for i in range(9)]), wanted)
    assert out9.tolist() == [float(WX250S_JOINT_STATE_ORDER.index(n)) for n in wanted]
    out8, _ = joint_state_to_arrays(_joint_msg([], [float(i) for i in range(8)]), wanted)
    assert out8.tolist() == [float(WX250_JOINT_STATE_ORDER.index(n)) for n in wanted]
    explicit, _ = joint_state_to_arrays(_joint_msg([], [5.0, 6.0]), ['b'],
                                        positional_order=['a', 'b'])
    assert explicit.tolist() == [6.0]
    with pytest.raises(ValueError, match='cannot infer'):
        joint_state_to_arrays(_joint_msg([], [1.0, 2.0, 3.0]), ['waist'])


def test_missing_joints_raise_or_nan() -> None:
    msg = _joint_msg(['gripper', 'left_finger', 'right_finger'], [0.1, 0.03, -0.03])
    with pytest.raises(ValueError, match='waist'):
        joint_state_to_arrays(msg, ['waist', 'left_finger'])
    out, _ = joint_state_to_arrays(msg, ['waist', 'left_finger'], missing='nan')
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.03)
    with pytest.raises(ValueError, match='names but'):
        joint_state_to_arrays(_joint_msg(['waist', 'elbow'], [1.0]), ['waist'])


def test_stamp_conversions() -> None:
    assert stamp_to_seconds(SimpleNamespace(sec=1, nanosec=5)) == pytest.approx(1.000000005)
    assert stamp_to_seconds(SimpleNamespace(secs=2, nsecs=500_000_000)) == 2.5
    assert seconds_to_stamp_fields(1.9999999999) == (2, 0)
    assert seconds_to_stamp_fields(0.6000000000000001) == (0, 600_000_000)
    assert seconds_to_stamp_fields(1_700_000_000.25) == (1_700_000_000, 250_000_000)
