"""Shared fixtures: the fake ROS graph (fake_ros.py, also used by widowx_bringup and tests/)."""
from pathlib import Path
import sys

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_ros  # noqa: E402, I100


@pytest.fixture
def ros(monkeypatch):
    """A fresh fake ROS world with rclpy, messages and launch modules installed."""
    return fake_ros.install(monkeypatch)
