"""Collect scripted demos from the simulated WidowX through the ROS topics.

The sim node (publish_expert:=true) publishes the scripted expert's raw action at 5 Hz on
/vptr/sim/expert_action and the task success flag on /vptr/sim/success. This node feeds
each expert action through the same ArmController as the policy node (EE target, IK,
safety) to the driver command topics, publishes the applied action on /vptr/action and
brackets every episode with /vptr/episode_event start / end (task, language, success). A
`ros2 bag record` of those topics (record_demos.launch.py) is then exactly what
`vptr data rosbag` converts. Between episodes it calls the sim's ~/reset service.
Each step is driven by the arrival of an expert action (not by a timer of its own), so the
expert always plans from the result of the previous command.
"""
from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool, Float32MultiArray
from std_srvs.srv import Trigger
from vptr_training.errors import ConfigError
from vptr_training.sim.model import SIM_ROBOT_MODEL
from widowx_bringup.arm_control import (ArmController, controller_kinematics, ControllerConfig,
                                        MODE_RUNNING)
from widowx_bringup.arm_io import arm_parameters, ArmIO
from widowx_bringup.collector import CollectionPlan, FINISHED
from widowx_bringup.recording import EpisodeRecorder, GRIPPER_OPEN
from widowx_bringup.ros_main import declare_parameters, spin_node
from widowx_bringup.sim_robot import EXPERT_ACTION_TOPIC, SUCCESS_TOPIC

# s between warnings while the simulator's reset service is missing
RESET_WARNING_PERIOD = 5.0

PARAMETERS: dict[str, tuple[Any, str]] = {
    **arm_parameters(f'model of the EE controller (the simulator is a {SIM_ROBOT_MODEL}); '
                     'the camera image must be fresh for each step; control_hz is the rate '
                     'at which the expert publishes'),
    'task': ('put_carrot_on_plate', 'task name of the episodes (the sim node runs it)'),
    'language': ('', 'language instruction for the episode events'),
    'num_episodes': (10, 'episodes to collect, then the node exits'),
    'max_steps': (40, 'control steps before an episode ends as a failure'),
    'reset_service': ('/sim_robot/reset', 'std_srvs/Trigger service resetting the sim'),
}


class ExpertActionPolicy:
    """Hands the controller the expert action that triggered this step."""

    def __init__(self) -> None:
        self.action = np.zeros(7, dtype=np.float32)
        self.spec: dict[str, Any] = {}

    def act(self, image: np.ndarray, state7: np.ndarray, task: str) -> np.ndarray:
        return self.action


class ScriptedCollectorNode(Node):
    def __init__(self) -> None:
        super().__init__('scripted_collector')
        p = declare_parameters(self, PARAMETERS)
        robot_name = p['robot_name'] or p['robot_model']
        kinematics = controller_kinematics(p['robot_model'])
        self.expert = ExpertActionPolicy()
        self.controller = ArmController(
            self.expert, kinematics,
            ControllerConfig(task=p['task'], control_hz=float(p['control_hz']),
                             stale_timeout=float(p['stale_timeout'])))
        try:
            self.plan = CollectionPlan(int(p['num_episodes']), int(p['max_steps']))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        sensor_group = MutuallyExclusiveCallbackGroup()
        control_group = MutuallyExclusiveCallbackGroup()
        self.io = ArmIO(self, robot_name, list(kinematics.joint_names), p['image_topic'],
                        sensor_group=sensor_group)
        self.recorder = EpisodeRecorder(self, p['task'], p['language'])
        self.success = False
        self.finished = False
        self.create_subscription(Bool, SUCCESS_TOPIC, self._on_success, 10,
                                 callback_group=sensor_group)
        self.create_subscription(Float32MultiArray, EXPERT_ACTION_TOPIC,
                                 self._on_expert_action, 10, callback_group=control_group)
        self.reset_client = self.create_client(Trigger, p['reset_service'],
                                               callback_group=control_group)
        self._last_reset_warning = -float('inf')
        self.create_timer(0.5, self._on_housekeeping, callback_group=control_group)

    def _on_success(self, msg: Bool) -> None:
        self.success = bool(msg.data)

    def _on_housekeeping(self) -> None:
        if not self.plan.should_reset():
            return
        if self.reset_client.service_is_ready():
            self.reset_client.call_async(Trigger.Request()).add_done_callback(
                self._on_reset_done)
            return
        # The collector drives the simulator's scripted expert: without the sim it would wait
        # silently for ever (e.g. record.launch.py robot:=real source:=collector).
        now = time.monotonic()
        if now - self._last_reset_warning >= RESET_WARNING_PERIOD:
            self._last_reset_warning = now
            self.get_logger().warning(
                f'waiting for the simulator reset service {self.reset_client.srv_name}: the '
                'scripted collector needs sim_robot.launch.py (publish_expert:=true) running')

    def _on_reset_done(self, future: Any) -> None:
        response = future.result()
        ok = response is not None and response.success
        if not ok:
            self.get_logger().error('sim reset failed; retrying')
        self.success = False
        self.plan.reset_done(ok)

    def _on_expert_action(self, msg: Float32MultiArray) -> None:
        action = np.asarray(msg.data, dtype=np.float32)
        if action.shape != (7,):
            self.get_logger().warning(f'ignoring expert action of shape {action.shape}')
            return
        if self.plan.begin():
            self.controller.start()
            self.recorder.start(GRIPPER_OPEN)     # the sim's ~/reset opens the gripper
            self.get_logger().info(f'episode {self.plan.episode} started')
        if self.controller.mode != MODE_RUNNING:
            return
        self.expert.action = action
        result = self.io.step(self.controller)
        self.recorder.record(result)
        end = self.plan.after_step(self.success)
        if end is not None:
            self.controller.stop()
            self.io.stop_gripper()       # no effort left pushing between episodes
            self.recorder.end(end.success)
            self.get_logger().info(
                f'episode {end.index} ended after {end.steps} steps: '
                f"{'success' if end.success else 'failure'} "
                f'(success rate so far {self.plan.success_rate:.2f})')
            if self.plan.state == FINISHED:
                self.finished = True
                # All episodes collected: shutting the context down ends spin() in main().
                rclpy.try_shutdown()


def main(args: list[str] | None = None) -> int:
    return spin_node(ScriptedCollectorNode, executor='multi', args=args)


if __name__ == '__main__':
    sys.exit(main())
