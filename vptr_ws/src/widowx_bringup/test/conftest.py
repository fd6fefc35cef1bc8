"""Fixtures: the one fake ROS module lives in vptr_policy/test (shared, not copied)."""
import os
from pathlib import Path
import sys

import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')
FAKE_ROS_DIR = Path(__file__).resolve().parents[2] / 'vptr_policy' / 'test'
sys.path.insert(0, str(FAKE_ROS_DIR))
import fake_ros  # noqa: E402, I100


@pytest.fixture
def ros(monkeypatch):
    """A fresh fake ROS world with rclpy, messages and launch modules installed."""
    return fake_ros.install(monkeypatch)
