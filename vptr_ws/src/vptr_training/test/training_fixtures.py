"""Tiny episode stores in the real format, shared by the training tests (not a test file).

Every image encodes its global step index (red = idx % 256, green = idx // 256) so tests can
check which frames a sampler gathered.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from vptr_training.data.store import EpisodeData, EpisodeStore, StoreWriter


def frame_ids(images: np.ndarray) -> np.ndarray:
    """The global step index encoded in each image of a (B, S, S, 3) batch."""
    images = np.asarray(images)
    return images[:, 0, 0, 0].astype(np.int64) + 256 * images[:, 0, 0, 1].astype(np.int64)


def _images(first_idx: int, length: int, size: int, rng: np.random.Generator) -> np.ndarray:
    idx = np.arange(first_idx, first_idx + length)
    images = rng.integers(0, 256, (length, size, size, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = idx % 256
    images[:, 0, 0, 1] = idx // 256
    return images


def make_video_store(path: Path, lengths: Sequence[int], size: int = 16,
                     seed: int = 0) -> EpisodeStore:
    rng = np.random.default_rng(seed)
    start = 0
    with StoreWriter(path, kind='video', image_size=size, control_hz=5.0) as writer:
        for i, length in enumerate(lengths):
            writer.add(EpisodeData(images=_images(start, length, size, rng),
                                   task='video', source=f'clip_{i}'))
            start += length
    return EpisodeStore(path)


def make_robot_store(path: Path, episodes: Sequence[tuple[str, int, bool]], size: int = 16,
                     seed: int = 0, val_tasks: Sequence[str] = (),
                     control_hz: float = 5.0) -> EpisodeStore:
    """episodes: (task, number of observations, success) each."""
    rng = np.random.default_rng(seed)
    start = 0
    with StoreWriter(path, kind='robot', image_size=size, control_hz=control_hz) as writer:
        for i, (task, length, success) in enumerate(episodes):
            states = rng.uniform(-0.2, 0.3, (length, 7)).astype(np.float32)
            states[:, 6] = rng.uniform(0, 1, length)
            actions = rng.uniform(-0.05, 0.05, (length - 1, 7)).astype(np.float32)
            actions[:, 3:6] *= 5.0
            actions[:, 6] = rng.integers(0, 2, length - 1)
            writer.add(EpisodeData(
                images=_images(start, length, size, rng), task=task, source=f'ep_{i}',
                states=states, actions=actions,
                rewards=np.zeros(length - 1, np.float32), success=success,
                split='val' if task in val_tasks else 'train'))
            start += length
    return EpisodeStore(path)
