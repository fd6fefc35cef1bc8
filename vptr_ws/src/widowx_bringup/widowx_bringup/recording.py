"""Episode recording topics shared by the teleop and collector nodes.

/vptr/action (std_msgs/Float32MultiArray, the raw 7-D action applied at each control step;
one per tick, a held tick as zero movement)
and /vptr/episode_event (std_msgs/String JSON {event, task, language, success}, transient
local), named in vptr_training.robot.topics and encoded by vptr_training.data.rosbag_io, so
`vptr data rosbag` reads what is recorded.
"""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float32MultiArray, String
from vptr_training.data.rosbag_io import episode_event_json
from vptr_training.robot.topics import ACTION_TOPIC, EPISODE_EVENT_TOPIC
from widowx_bringup.arm_control import StepResult


# Episode events: reliable, transient local, the last 10 kept for late joiners.
EVENT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)
GRIPPER_OPEN = 1.0     # raw action[6] of an open gripper (Bridge: 1 open, 0 closed)
GRIPPER_CLOSED = 0.0


def recorded_action(result: StepResult, gripper_in_effect: float) -> np.ndarray:
    """The 7-D action that describes what this control tick actually did.

    Every tick of a recorded episode gets an action: the bag converter pairs each frame with
    the latest /vptr/action, so a tick with none would inherit the previous tick's movement
    and the dataset would claim the arm moved while it held. Movement is the policy's
    [:6] only if the arm command went out (a skipped arm step, IK failure or safety hold,
    left the target in place: zero). The gripper value is the action's if the gripper
    command went out, else `gripper_in_effect` (the last one commanded, which the gripper
    still follows)."""
    recorded = np.zeros(7, dtype=np.float32)
    recorded[6] = gripper_in_effect
    action = None if result.action is None else np.asarray(result.action, np.float32)
    if action is None or action.shape != (7,) or not np.all(np.isfinite(action)):
        return recorded          # policy not queried, or its action was refused
    if result.gripper_cmd is not None:
        recorded[6] = action[6]
    if result.arm_cmd is not None:
        recorded[:6] = action[:6]
    return recorded


class EpisodeRecorder:
    """Publishes /vptr/action and /vptr/episode_event for one node (teleop or collector)."""

    def __init__(self, node: Node, task: str, language: str) -> None:
        self.task, self.language = task, language
        self.active = False
        self.gripper_in_effect = GRIPPER_OPEN
        self.action_pub = node.create_publisher(Float32MultiArray, ACTION_TOPIC, 10)
        # Transient local: a recorder that subscribes after the first start event (ros2 bag
        # record matches a transient-local offer) still receives it; volatile subscribers
        # stay compatible.
        self.event_pub = node.create_publisher(String, EPISODE_EVENT_TOPIC, EVENT_QOS)

    def start(self, gripper: float = GRIPPER_OPEN) -> None:
        """Begin an episode; `gripper` is the raw gripper value in effect at its start (the
        sim resets with an open gripper; teleop passes its toggle state)."""
        self.active = True
        self.gripper_in_effect = float(gripper)
        self.event_pub.publish(String(data=episode_event_json(
            'start', self.task, self.language, True)))

    def end(self, success: bool) -> None:
        if self.active:
            self.event_pub.publish(String(data=episode_event_json(
                'end', self.task, self.language, bool(success))))
        self.active = False

    def record(self, result: StepResult) -> None:
        """Publish the action of one controller tick that ran while recording (held ticks
        included: they are recorded as zero movement)."""
        if not self.active:
            return
        action = recorded_action(result, self.gripper_in_effect)
        self.gripper_in_effect = float(action[6])
        self.action_pub.publish(Float32MultiArray(data=[float(v) for v in action]))
