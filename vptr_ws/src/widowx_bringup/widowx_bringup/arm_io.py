"""The ROS side of the arm's controller: sensor subscriptions in, Interbotix commands out.

The arm and camera interface of every node that drives the arm: the keyboard teleop, the
scripted collector and vptr_policy's policy node, each with its own `ArmController` (the
policy node's is a `PolicyController`). Topic names come from `vptr_training.robot.topics`
(the driver's `/<robot_name>/...` topics and the camera's). Subscriptions use sensor-data
QoS with depth 1 and keep only the latest message; images are decoded only when a step
needs one.
Gripper efforts go through `GripperPWM` (sent on a change, zeroed at the finger limits and
while paused; `stop_gripper()` zeroes it at once).
"""
from __future__ import annotations

from typing import Any, Callable

from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
import numpy as np
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, JointState
from vptr_training.robot.conventions import CONTROL_HZ
from vptr_training.robot.kinematics import DEFAULT_ROBOT_MODEL, ROBOT_MODELS
from vptr_training.robot.messages import (compressed_image_to_rgb, image_msg_to_rgb,
                                          joint_state_to_arrays, stamp_to_seconds)
from vptr_training.robot.topics import (IMAGE_TOPIC, joint_group_command_topic,
                                        joint_single_command_topic, joint_states_topic)
from widowx_bringup.arm_control import (ArmController, ControllerConfig, MODE_PAUSED,
                                        MODE_RUNNING, StepResult)
from widowx_bringup.gripper import GRIPPER_CLOSE_EFFORT, GRIPPER_OPEN_EFFORT, GripperPWM

# Sensor-data QoS with depth 1: only the newest image / joint state matters to a 5 Hz loop.
SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.BEST_EFFORT,
                        durability=DurabilityPolicy.VOLATILE)
# Commands: reliable (the driver must see every goal), latest only.
COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)


def arm_parameters(robot_model_help: str) -> dict[str, tuple[Any, str]]:
    """The parameters every arm-driving node declares, `name -> (default, description)`;
    defaults from the one place each is defined (ControllerConfig, kinematics, topics)."""
    return {
        'robot_model': (DEFAULT_ROBOT_MODEL, f'Interbotix arm model, one of '
                                             f'{", ".join(ROBOT_MODELS)}: {robot_model_help}'),
        'robot_name': ('', 'driver namespace; empty = robot_model'),
        'image_topic': (IMAGE_TOPIC, 'camera topic (rgb8 Image, or CompressedImage)'),
        'control_hz': (CONTROL_HZ, 'control rate (Hz); Bridge data is 5 Hz'),
        'stale_timeout': (ControllerConfig.stale_timeout,
                          'sensor data older than this (s) -> no command'),
    }


class ArmIO:
    """Latest camera frame and joint state of one arm, and its command publishers."""

    def __init__(self, node: Node, robot_name: str, arm_joint_names: list[str],
                 image_topic: str, image_is_compressed: bool = False,
                 gripper_efforts: tuple[float, float] = (GRIPPER_OPEN_EFFORT,
                                                         GRIPPER_CLOSE_EFFORT),
                 sensor_group: CallbackGroup | None = None) -> None:
        self.node = node
        self.joint_names = list(arm_joint_names) + ['left_finger']
        self.gripper_efforts = (float(gripper_efforts[0]), float(gripper_efforts[1]))
        self.gripper = GripperPWM(*self.gripper_efforts)
        self.decode_image: Callable[[Any], np.ndarray] = (
            compressed_image_to_rgb if image_is_compressed else image_msg_to_rgb)
        # Each callback swaps in one object (an atomic assignment), so a step running in
        # another callback group / thread always reads a consistent message.
        # (message, stamp s): the stamp is taken at receipt (see _stamp_or_receipt_time).
        self.latest_image: tuple[Any, float] | None = None
        self.latest_joints: tuple[np.ndarray, float, float] | None = None
        self._warned_zero_stamp: set[str] = set()
        self.image_sub = node.create_subscription(
            CompressedImage if image_is_compressed else Image, image_topic, self._on_image,
            SENSOR_QOS, callback_group=sensor_group)
        self.joint_sub = node.create_subscription(
            JointState, joint_states_topic(robot_name), self._on_joint_state, SENSOR_QOS,
            callback_group=sensor_group)
        self.arm_pub = node.create_publisher(
            JointGroupCommand, joint_group_command_topic(robot_name), COMMAND_QOS)
        self.gripper_pub = node.create_publisher(
            JointSingleCommand, joint_single_command_topic(robot_name), COMMAND_QOS)

    def _stamp_or_receipt_time(self, stamp: float, what: str) -> float:
        """The header stamp, or the node's clock now when the stamp is zero.

        Some drivers and bag replays publish zero stamps; taken literally the data would be
        stale forever and the arm never commanded. Receipt time is the best estimate of the
        capture time left (late by the transport delay only)."""
        if stamp != 0.0:
            return stamp
        if what not in self._warned_zero_stamp:
            self._warned_zero_stamp.add(what)
            self.node.get_logger().warning(
                f'{what} messages have zero header stamps: using the time of receipt '
                'for the staleness check')
        return self.now()

    def _on_image(self, msg: Any) -> None:
        # Decoded only when a step needs it; the stamp is read now, at receipt.
        stamp = self._stamp_or_receipt_time(stamp_to_seconds(msg.header.stamp), 'image')
        self.latest_image = (msg, stamp)

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            values, stamp = joint_state_to_arrays(msg, self.joint_names, missing='nan')
        except ValueError as exc:
            self.node.get_logger().warning(f'ignoring joint state: {exc}',
                                           throttle_duration_sec=5.0)
            return
        # A message lacking the arm joints (e.g. gripper-only) must not replace a complete
        # one; the Interbotix driver publishes them together.
        if np.isnan(values[:-1]).any():
            return
        stamp = self._stamp_or_receipt_time(float(stamp), 'joint state')
        self.latest_joints = (values[:-1], float(values[-1]), stamp)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def step(self, controller: ArmController) -> StepResult:
        """Run one controller step on the latest data and publish its commands."""
        now = self.now()
        image = image_stamp = None
        decode_problem = ''
        latest_image = self.latest_image
        if latest_image is not None and controller.mode == MODE_RUNNING:
            msg, stamp = latest_image
            try:
                image = self.decode_image(msg)
                image_stamp = stamp
            except ValueError as exc:
                decode_problem = f'cannot decode image: {exc}'
        joints = self.latest_joints
        q, finger, joint_stamp = joints if joints is not None else (None, None, None)
        result = controller.step(image, image_stamp, q, finger, joint_stamp, now)
        if decode_problem:
            result.reason = decode_problem
        self.publish(result)
        return result

    def publish(self, result: StepResult) -> None:
        if result.arm_cmd is not None:
            self.arm_pub.publish(JointGroupCommand(
                name='arm', cmd=[float(v) for v in result.arm_cmd]))
        joints = self.latest_joints
        finger = joints[1] if joints is not None else None
        if result.mode == MODE_PAUSED:
            effort = self.gripper.stop()
        else:
            effort = self.gripper.command(result.gripper_cmd, finger)
        self._send_gripper(effort)

    def stop_gripper(self) -> None:
        """Zero the gripper's PWM (stop, pause, exit) if an effort is in effect."""
        self._send_gripper(self.gripper.stop())

    def _send_gripper(self, effort: float | None) -> None:
        if effort is not None:
            self.gripper_pub.publish(JointSingleCommand(name='gripper', cmd=float(effort)))
