"""Keyboard teleoperation of the WidowX (real or simulated) for recording demos.

Keys (see teleop.py) become raw Bridge actions; they go through the same ArmController
as the learned policy (EE target integration, IK, safety filter) and out as Interbotix
joint commands, so demos and policy rollouts share one controller. While an episode runs,
each control step's action is published on /vptr/action (std_msgs/Float32MultiArray) and
episode start / end on /vptr/episode_event (std_msgs/String JSON), the topics
`vptr data rosbag` converts. Run it in a terminal: `ros2 run widowx_bringup keyboard_teleop`.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from widowx_bringup.arm_control import (ArmController, controller_kinematics, ControllerConfig,
                                        MODE_RUNNING)
from widowx_bringup.arm_io import arm_parameters, ArmIO
from widowx_bringup.recording import EpisodeRecorder, GRIPPER_CLOSED, GRIPPER_OPEN
from widowx_bringup.ros_main import declare_parameters, spin_node
from widowx_bringup.teleop import HELP, KeyReader, TeleopState

PARAMETERS: dict[str, tuple[Any, str]] = {
    **arm_parameters('teleop drives the 6-D EE controller (a 5-DoF arm follows the nearest '
                     'reachable pose); the camera image must be fresh while recording'),
    'task': ('teleop_task', 'task name written into the episode events'),
    'language': ('', 'language instruction written into the episode events'),
    'translation_step': (0.02, 'm per key press (per control step at most 0.05)'),
    'rotation_step': (0.1, 'rad per key press (per control step at most 0.25)'),
    'key_poll_hz': (50.0, 'how often the terminal is polled for keys (Hz)'),
}


class KeyboardPolicy:
    """The 'policy' the controller queries: whatever the keys asked for this step."""

    def __init__(self, state: TeleopState) -> None:
        self.state = state
        self.spec: dict[str, Any] = {}

    def act(self, image: np.ndarray, state7: np.ndarray, task: str) -> np.ndarray:
        return self.state.take_action()


class KeyboardTeleopNode(Node):
    def __init__(self, key_fd: int | None = None) -> None:
        super().__init__('keyboard_teleop')
        p = declare_parameters(self, PARAMETERS)
        robot_name = p['robot_name'] or p['robot_model']
        kinematics = controller_kinematics(p['robot_model'])
        self.keys = TeleopState(p['translation_step'], p['rotation_step'])
        self.controller = ArmController(
            KeyboardPolicy(self.keys), kinematics,
            ControllerConfig(task=p['task'], control_hz=float(p['control_hz']),
                             stale_timeout=float(p['stale_timeout'])))
        sensor_group = MutuallyExclusiveCallbackGroup()
        control_group = MutuallyExclusiveCallbackGroup()
        self.io = ArmIO(self, robot_name, list(kinematics.joint_names), p['image_topic'],
                        sensor_group=sensor_group)
        self.recorder = EpisodeRecorder(self, p['task'], p['language'])
        self.reader = KeyReader(sys.stdin.fileno() if key_fd is None else key_fd)
        self.quit_requested = False
        self.create_timer(1.0 / float(p['control_hz']), self._on_control_timer,
                          callback_group=control_group)
        self.create_timer(1.0 / float(p['key_poll_hz']), self._on_keys,
                          callback_group=control_group)
        self.get_logger().info('keyboard teleop ready (arm paused until n):\n' + HELP)

    def _on_keys(self) -> None:
        for key in self.reader.read_keys():
            self.handle_event(self.keys.press(key))

    def handle_event(self, event: str | None) -> None:
        log = self.get_logger()
        if event == 'start':
            if self.recorder.active:
                self.recorder.end(False)
            self.keys.clear()
            self.controller.start()
            self.recorder.start(GRIPPER_OPEN if self.keys.gripper_open else GRIPPER_CLOSED)
            log.info('episode started')
        elif event in ('end_success', 'end_failure'):
            self.recorder.end(event == 'end_success')
            self.controller.stop()
            self.io.stop_gripper()
            log.info(f"episode ended ({'success' if event == 'end_success' else 'failure'})")
        elif event == 'home':
            self.recorder.end(False)
            self.controller.home()
            log.info('going home')
        elif event == 'quit':
            self.recorder.end(False)
            self.controller.stop()
            self.io.stop_gripper()
            self.quit_requested = True
        elif event == 'toggle_gripper':
            log.info(f"gripper {'open' if self.keys.gripper_open else 'closed'}")

    def _on_control_timer(self) -> None:
        result = self.io.step(self.controller)
        if result.mode == MODE_RUNNING:
            self.recorder.record(result)
        if result.reason and result.mode == MODE_RUNNING:
            self.get_logger().warning(result.reason, throttle_duration_sec=1.0)
        if self.quit_requested:
            # Shutting the context down makes executor.spin() in main() return.
            rclpy.try_shutdown()

    def destroy_node(self) -> None:
        self.reader.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    # On exit the gripper's PWM is zeroed, so the servo stops pushing.
    return spin_node(KeyboardTeleopNode, executor='multi', args=args,
                     on_exit=lambda node: node.io.stop_gripper())


if __name__ == '__main__':
    sys.exit(main())
