"""A real rclpy node the launch tests of tools/ros_check watch the stack with.

Imported by the *.launch.py tests here (they run under `launch_test`, with the real
ROS 2 of build_ros2.sh on the path, never under `make test`).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK_DIR = os.environ.get('ROS_CHECK_DIR', '/tmp/vptr_ros_check')


def describe_ros() -> str:
    """Where rclpy and the RMW come from: proof that the real ROS 2 is under test."""
    from rclpy.utilities import get_rmw_implementation_identifier
    rmw = get_rmw_implementation_identifier()
    distro = os.environ.get('ROS_DISTRO')
    return f'rclpy from {os.path.dirname(rclpy.__file__)}, RMW {rmw}, ROS_DISTRO={distro}'


class Recorder:
    """Messages of one topic with their receipt time (node clock, seconds)."""

    def __init__(self, probe: 'Probe', msg_type: Any, topic: str, qos: QoSProfile) -> None:
        self.probe = probe
        self.items: list[tuple[float, Any]] = []
        self.sub = probe.node.create_subscription(msg_type, topic, self._on_msg, qos)

    def _on_msg(self, msg: Any) -> None:
        self.items.append((self.probe.now(), msg))

    def since(self, t: float) -> list[tuple[float, Any]]:
        return [(s, m) for s, m in self.items if s >= t]


class Probe:
    def __init__(self, name: str = 'ros_check_probe') -> None:
        if not rclpy.ok():
            rclpy.init()
        self.node: Node = rclpy.create_node(name)
        self.recorders: dict[str, Recorder] = {}

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def record(self, msg_type: Any, topic: str, sensor: bool = False,
               qos: QoSProfile | None = None) -> Recorder:
        if qos is None:
            qos = qos_profile_sensor_data if sensor else QoSProfile(depth=50)
        self.recorders[topic] = Recorder(self, msg_type, topic, qos)
        return self.recorders[topic]

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return condition()

    def call(self, srv_type: Any, name: str, timeout: float = 30.0) -> Any:
        """Call a service (after waiting for it); the response, or None on a timeout."""
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                return None
            future = client.call_async(srv_type.Request())
            rclpy.spin_until_future_complete(self.node, future, timeout_sec=timeout)
            return future.result() if future.done() else None
        finally:
            self.node.destroy_client(client)

    def node_names(self) -> list[str]:
        return [ns.rstrip('/') + '/' + n for n, ns in
                self.node.get_node_names_and_namespaces()]

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown()
