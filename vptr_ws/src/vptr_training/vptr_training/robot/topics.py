"""ROS topic names: the one definition the nodes, the recorder and the bag converter share.

The Interbotix driver (interbotix_xsarm_control, or the simulated robot node standing in for
it) publishes and subscribes under the robot's namespace, `/<robot_name>/...`; the camera
publishes `/camera/image_raw`; the teleop / collector nodes publish the recorded action and
the episode events. Plain strings, no ROS import: `vptr data rosbag` reads these topics
without ROS. docs/robot.md describes the messages.
"""
from __future__ import annotations

from vptr_training.robot.kinematics import DEFAULT_ROBOT_MODEL

# The driver's namespace is the robot name, which defaults to the arm model.
DEFAULT_ROBOT_NAME = DEFAULT_ROBOT_MODEL

IMAGE_TOPIC = '/camera/image_raw'                         # sensor_msgs/Image
COMPRESSED_IMAGE_TOPIC = '/camera/image_raw/compressed'   # sensor_msgs/CompressedImage
ACTION_TOPIC = '/vptr/action'                 # std_msgs/Float32MultiArray, raw 7-D action
EPISODE_EVENT_TOPIC = '/vptr/episode_event'   # std_msgs/String, JSON episode start / end


def joint_states_topic(robot_name: str = DEFAULT_ROBOT_NAME) -> str:
    """'/wx250s/joint_states' (sensor_msgs/JointState): arm joints and the fingers."""
    return f'/{robot_name}/joint_states'


def joint_group_command_topic(robot_name: str = DEFAULT_ROBOT_NAME) -> str:
    """interbotix_xs_msgs/JointGroupCommand: position goals of the group 'arm'."""
    return f'/{robot_name}/commands/joint_group'


def joint_single_command_topic(robot_name: str = DEFAULT_ROBOT_NAME) -> str:
    """interbotix_xs_msgs/JointSingleCommand: the gripper's PWM effort ('gripper')."""
    return f'/{robot_name}/commands/joint_single'


JOINT_STATES_TOPIC = joint_states_topic()
