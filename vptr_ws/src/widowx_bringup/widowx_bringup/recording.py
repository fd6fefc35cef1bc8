"""Episode recording topics shared by the teleop and collector nodes.

/vptr/action (std_msgs/Float32MultiArray, the raw 7-D action applied at each control step)
and /vptr/episode_event (std_msgs/String JSON {event, task, language, success}), named and
encoded by vptr_training.data.rosbag_io so `vptr data rosbag` reads what is recorded.
"""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from std_msgs.msg import Float32MultiArray, String
from vptr_policy.control import StepResult
from vptr_training.data.rosbag_io import ACTION_TOPIC, episode_event_json, EPISODE_EVENT_TOPIC


def recorded_action(result: StepResult) -> np.ndarray | None:
    """The action that actually moved the EE target this step (None if the policy was not
    queried). A skipped arm step (IK failure, safety hold) left the target in place, so its
    movement is recorded as zero: the bag must describe what happened."""
    if result.action is None:
        return None
    action = np.asarray(result.action, dtype=np.float32).copy()
    if result.arm_cmd is None:
        action[:6] = 0.0
    return action


class EpisodeRecorder:
    """Publishes /vptr/action and /vptr/episode_event for one node (teleop or collector)."""

    def __init__(self, node: Node, task: str, language: str) -> None:
        self.task, self.language = task, language
        self.active = False
        self.action_pub = node.create_publisher(Float32MultiArray, ACTION_TOPIC, 10)
        self.event_pub = node.create_publisher(String, EPISODE_EVENT_TOPIC, 10)

    def start(self) -> None:
        self.active = True
        self.event_pub.publish(String(data=episode_event_json(
            'start', self.task, self.language, True)))

    def end(self, success: bool) -> None:
        if self.active:
            self.event_pub.publish(String(data=episode_event_json(
                'end', self.task, self.language, bool(success))))
        self.active = False

    def record(self, result: StepResult) -> None:
        action = recorded_action(result)
        if self.active and action is not None:
            self.action_pub.publish(Float32MultiArray(data=[float(v) for v in action]))
