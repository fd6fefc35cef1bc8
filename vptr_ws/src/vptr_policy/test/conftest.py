"""Fixtures: the fake ROS graph and the launch checks live in widowx_bringup/test (the package
this one depends on; shared, not copied), beside this folder in the workspace."""
from pathlib import Path
import sys

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / 'widowx_bringup' / 'test'))
import fake_ros  # noqa: E402, I100


@pytest.fixture
def ros(monkeypatch):
    """A fresh fake ROS world with rclpy, messages and launch modules installed."""
    return fake_ros.install(monkeypatch)


# `make test-fast` deselects these (`-m "not slow"`); `make test` runs them.
SLOW = {'test_policy_with_sim::test_checkpoint_through_the_controller_matches_env_step'}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.parent == HERE and f'{item.path.stem}::{item.originalname}' in SLOW:
            item.add_marker(pytest.mark.slow)
