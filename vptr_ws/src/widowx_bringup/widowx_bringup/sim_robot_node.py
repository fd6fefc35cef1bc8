"""ROS 2 node serving the simulated WidowX on the real driver's and camera's topics.

Publishes /<robot>/joint_states (sensor_msgs/JointState: arm joints, gripper, left_finger,
right_finger) at joint_state_hz and the camera (sensor_msgs/Image rgb8, 640x480 by default)
on camera_topic at camera_hz; subscribes /<robot>/commands/joint_group and joint_single
(interbotix_xs_msgs). Physics advances by one joint-state period per tick, so simulated
time runs with the node clock. For the scripted collector it also publishes the scripted
expert's action (/vptr/sim/expert_action) and the task success flag (/vptr/sim/success) at
control_hz, and resets the episode on ~/reset (std_srvs/Trigger). All callbacks share the
node's default mutually exclusive group: the MuJoCo model is not thread-safe.
"""
from __future__ import annotations

import sys
from typing import Any

from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float32MultiArray
from std_srvs.srv import Trigger
from vptr_training.errors import ConfigError
from vptr_training.robot.conventions import CONTROL_HZ
from vptr_training.robot.messages import rgb_to_image_fields
from vptr_training.robot.topics import (IMAGE_TOPIC, joint_group_command_topic,
                                        joint_single_command_topic, joint_states_topic)
from vptr_training.sim.model import SIM_ROBOT_MODEL
from widowx_bringup.ros_main import declare_parameters, spin_node
from widowx_bringup.sim_robot import EXPERT_ACTION_TOPIC, SimRobot, SUCCESS_TOPIC

PARAMETERS: dict[str, tuple[Any, str]] = {
    'robot_model': (SIM_ROBOT_MODEL, f'simulated arm model (the MuJoCo model is a '
                                     f'{SIM_ROBOT_MODEL})'),
    'robot_name': ('', 'driver namespace; empty = robot_model'),
    'task': ('put_carrot_on_plate', 'simulated task (vptr_training.sim.TASKS)'),
    'condition': ('seen', 'scene randomisation: seen | new_positions | new_distractors'),
    'seed': (0, 'seed of the first episode; each ~/reset uses the next one'),
    'camera_topic': (IMAGE_TOPIC, 'camera image topic (sensor_msgs/Image rgb8)'),
    'camera_frame_id': ('camera_color_optical_frame', 'frame_id of the camera images'),
    'camera_width': (640, 'camera image width (px)'),
    'camera_height': (480, 'camera image height (px)'),
    'camera_hz': (10.0, 'camera publish rate (Hz); >= the policy rate'),
    'joint_state_hz': (50.0, 'joint state rate and physics tick (Hz)'),
    'control_hz': (CONTROL_HZ, 'rate of the expert action and success topics (Hz)'),
    'publish_expert': (False, 'publish the scripted expert action for the collector'),
    'expert_noise': (0.0, 'scripted expert action noise (fraction of the action bound)'),
}


class SimRobotNode(Node):
    def __init__(self) -> None:
        super().__init__('sim_robot')
        p = declare_parameters(self, PARAMETERS)
        if p['robot_model'] != SIM_ROBOT_MODEL:
            raise ConfigError(f'the simulator models a {SIM_ROBOT_MODEL}, '
                              f"not {p['robot_model']!r}")
        robot_name = p['robot_name'] or p['robot_model']
        # Imported here: MuJoCo start-up is the slow part of this node, keep import cheap.
        from vptr_training.sim.env import WidowXSimEnv
        from vptr_training.sim.experts import make_expert

        self.seed = int(p['seed'])
        self.env = WidowXSimEnv(p['task'], condition=p['condition'], seed=self.seed,
                                render=False)
        self.robot = SimRobot(self.env)
        self.robot.reset(seed=self.seed)
        self.expert = make_expert(self.env, noise=float(p['expert_noise']), seed=self.seed) \
            if p['publish_expert'] else None
        self.camera_size = (int(p['camera_width']), int(p['camera_height']))
        self.frame_id = p['camera_frame_id']
        self.tick = 1.0 / float(p['joint_state_hz'])

        self.joint_pub = self.create_publisher(JointState, joint_states_topic(robot_name), 10)
        self.image_pub = self.create_publisher(Image, p['camera_topic'], 10)
        self.success_pub = self.create_publisher(Bool, SUCCESS_TOPIC, 10)
        self.expert_pub = self.create_publisher(Float32MultiArray, EXPERT_ACTION_TOPIC, 10)
        self.create_subscription(JointGroupCommand, joint_group_command_topic(robot_name),
                                 self._on_joint_group, 10)
        self.create_subscription(JointSingleCommand, joint_single_command_topic(robot_name),
                                 self._on_joint_single, 10)
        self.create_timer(self.tick, self._on_physics_tick)
        self.create_timer(1.0 / float(p['camera_hz']), self._on_camera)
        self.create_timer(1.0 / float(p['control_hz']), self._on_status)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.get_logger().info(f"simulated {robot_name} ready: task {p['task']!r}, "
                               f'seed {self.seed}')

    def _stamp(self) -> Any:
        return self.get_clock().now().to_msg()

    def _on_joint_group(self, msg: JointGroupCommand) -> None:
        problem = self.robot.apply_joint_group(msg.name, msg.cmd)
        if problem:
            self.get_logger().warning(problem, throttle_duration_sec=2.0)

    def _on_joint_single(self, msg: JointSingleCommand) -> None:
        problem = self.robot.apply_joint_single(msg.name, msg.cmd)
        if problem:
            self.get_logger().warning(problem, throttle_duration_sec=2.0)

    def _on_physics_tick(self) -> None:
        self.robot.advance(self.tick)
        state = self.robot.joint_state()
        msg = JointState(name=state.names, position=state.positions,
                         velocity=state.velocities)
        msg.header.stamp = self._stamp()
        self.joint_pub.publish(msg)

    def _on_camera(self) -> None:
        fields = rgb_to_image_fields(self.robot.camera(*self.camera_size))
        msg = Image(**fields)
        msg.header.stamp = self._stamp()
        msg.header.frame_id = self.frame_id
        self.image_pub.publish(msg)

    def _on_status(self) -> None:
        self.success_pub.publish(Bool(data=self.robot.success()))
        if self.expert is not None:
            action = np.asarray(self.expert(None), dtype=np.float64)
            self.expert_pub.publish(Float32MultiArray(data=[float(v) for v in action]))

    def _on_reset(self, request: Trigger.Request,
                  response: Trigger.Response) -> Trigger.Response:
        self.seed += 1
        self.robot.reset(seed=self.seed)
        response.success = True
        response.message = f'new episode, seed {self.seed}'
        self.get_logger().info(response.message)
        return response


def main(args: list[str] | None = None) -> int:
    # Single-threaded: the MuJoCo model is not thread-safe. The env is closed on exit.
    return spin_node(SimRobotNode, executor='single', on_exit=lambda node: node.env.close(),
                     args=args)


if __name__ == '__main__':
    sys.exit(main())
