"""Fixtures: the fake ROS graph (fake_ros.py here; vptr_policy's tests and tests/ use it too)."""
import os
from pathlib import Path
import sys

import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_ros  # noqa: E402, I100


@pytest.fixture
def ros(monkeypatch):
    """A fresh fake ROS world with rclpy, messages and launch modules installed."""
    return fake_ros.install(monkeypatch)
