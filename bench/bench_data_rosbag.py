"""Benchmark: rosbag2 demo writing and `vptr data rosbag` conversion, and message decoding.

A 10 s demo as the robot records it (camera 640x480 at 30 Hz, joint_states at 100 Hz,
actions at 5 Hz), written with DemoBagWriter in mcap (raw rgb8) and sqlite3 (JPEG), then
converted to 5 Hz control ticks at 128 px. Prints wall-clock figures measured here.
"""
from __future__ import annotations

from pathlib import Path
import tempfile
import time
from types import SimpleNamespace

import cv2
import numpy as np
from vptr_training.data.rosbag import convert_bag, find_bags, RosbagOptions
from vptr_training.data.rosbag_io import DemoBagWriter
from vptr_training.robot.image import squash_resize
from vptr_training.robot.kinematics import NEUTRAL_JOINTS
from vptr_training.robot.messages import (compressed_image_to_rgb, image_msg_to_rgb,
                                          WX250S_JOINT_STATE_ORDER)

SECONDS, CAMERA_HZ, JOINT_HZ, CONTROL_HZ = 10.0, 30, 100, 5
HEIGHT, WIDTH = 480, 640


def camera_frame(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=2).astype(np.uint8)
    return np.clip(base + rng.integers(0, 20, base.shape), 0, 255).astype(np.uint8)


def write_demo(path: Path, storage: str, compressed: bool) -> float:
    rng = np.random.default_rng(0)
    frames = [camera_frame(rng) for _ in range(8)]
    start = time.perf_counter()
    with DemoBagWriter(path, storage=storage) as bag:
        bag.write_episode_event(0.0, 'start', 'bench', 'benchmark task')
        for i in range(int(SECONDS * CAMERA_HZ)):
            bag.write_image(i / CAMERA_HZ, frames[i % len(frames)], compressed=compressed)
        for i in range(int(SECONDS * JOINT_HZ)):
            t = i / JOINT_HZ
            arm = NEUTRAL_JOINTS + 0.2 * np.sin(t + np.arange(6))
            bag.write_joint_state(t, WX250S_JOINT_STATE_ORDER,
                                  np.concatenate([arm, [0.0, 0.03, -0.03]]))
        for i in range(int(SECONDS * CONTROL_HZ)):
            bag.write_action(i / CONTROL_HZ, np.zeros(7))
        bag.write_episode_event(SECONDS, 'end', 'bench', 'benchmark task', True)
    return time.perf_counter() - start


def bench_bags(root: Path) -> None:
    for storage, compressed in (('mcap', False), ('sqlite3', True)):
        path = root / f'demo_{storage}'
        write_s = write_demo(path, storage, compressed)
        size_mb = sum(f.stat().st_size for f in path.iterdir()) / 1e6
        unit = find_bags(path)[0]
        start = time.perf_counter()
        (episode,) = convert_bag(unit, RosbagOptions(image_size=128, control_hz=CONTROL_HZ))
        convert_s = time.perf_counter() - start
        kind = 'jpeg CompressedImage' if compressed else 'raw rgb8 Image'
        n_images = int(SECONDS * CAMERA_HZ)
        print(f'{storage:7s} {kind:20s}: bag {size_mb:7.1f} MB written in {write_s:5.2f} s; '
              f'converted in {convert_s:5.2f} s -> {len(episode.images)} ticks '
              f'({n_images / convert_s:6.1f} camera msgs/s scanned, '
              f'{SECONDS / convert_s:5.2f}x real time)')


def per_call_ms(fn, repeats: int = 30) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def bench_decoding() -> None:
    rng = np.random.default_rng(1)
    rgb = camera_frame(rng)
    padded = np.concatenate([rgb.reshape(HEIGHT, -1), np.zeros((HEIGHT, 64), np.uint8)], 1)
    msgs = {
        'rgb8 (padded step)': SimpleNamespace(height=HEIGHT, width=WIDTH, encoding='rgb8',
                                              is_bigendian=0, step=padded.shape[1],
                                              data=padded.tobytes()),
        'bgr8': SimpleNamespace(height=HEIGHT, width=WIDTH, encoding='bgr8', is_bigendian=0,
                                step=WIDTH * 3, data=rgb.tobytes()),
        'yuv422_yuy2': SimpleNamespace(height=HEIGHT, width=WIDTH, encoding='yuv422_yuy2',
                                       is_bigendian=0, step=WIDTH * 2,
                                       data=rgb[:, :, :2].tobytes()),
    }
    for name, msg in msgs.items():
        print(f'image_msg_to_rgb {name:20s}: {per_call_ms(lambda: image_msg_to_rgb(msg)):6.2f} '
              'ms per 640x480 frame')
    ok, jpeg = cv2.imencode('.jpg', rgb)
    assert ok
    jpeg_msg = SimpleNamespace(format='jpeg', data=jpeg.tobytes())
    print(f'compressed_image_to_rgb jpeg         : '
          f'{per_call_ms(lambda: compressed_image_to_rgb(jpeg_msg)):6.2f} ms per frame')
    print(f'squash_resize 640x480 -> 128        : '
          f'{per_call_ms(lambda: squash_resize(rgb, 128)):6.2f} ms per frame')


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bench_bags(Path(tmp))
    bench_decoding()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
