"""Run a V-PTR policy on the real WidowX 250: arm driver + camera + policy node.

    ros2 launch launch/robot.launch.py checkpoint_dir:=runs/finetune task:=put_carrot_on_plate
    ros2 service call /policy_node/start std_srvs/srv/Trigger      # ~/stop, ~/home

Only includes the packages' launch files (widowx_bringup/widowx.launch.py,
vptr_policy/policy.launch.py).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

BOOL = ['true', 'false']


def include(package: str, file: str, arguments: list[str]) -> GroupAction:
    # Scoped: IncludeLaunchDescription alone shares one scope of launch configurations, so
    # an argument one file declares (e.g. params_file) would override another file's default.
    return GroupAction([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare(package), 'launch', file])),
        launch_arguments={name: LaunchConfiguration(name) for name in arguments}.items())],
        scoped=True)


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'checkpoint_dir', description='checkpoint directory of the policy to run'),
        DeclareLaunchArgument(
            'task', default_value='',
            description='task name from the checkpoint spec; empty = its only task'),
        DeclareLaunchArgument(
            'robot_model', default_value='wx250s', choices=['wx250s', 'wx250'],
            description='Interbotix arm model: wx250s (6-DoF, follows the 6-D EE deltas '
                        'exactly) or wx250 (5-DoF: follows the nearest reachable pose, '
                        'gripper kept in the plane of its waist)'),
        DeclareLaunchArgument(
            'robot_name', default_value=LaunchConfiguration('robot_model'),
            description='namespace of the driver topics (defaults to robot_model)'),
        DeclareLaunchArgument(
            'video_device', default_value='/dev/video0',
            description='V4L2 device of the scene camera'),
        DeclareLaunchArgument(
            'pixel_format', default_value='yuyv2rgb', choices=['yuyv2rgb', 'mjpeg2rgb'],
            description='camera capture format (converted to rgb8)'),
        DeclareLaunchArgument(
            'action_mode', default_value='actor', choices=['actor', 'q-rerank'],
            description='how the policy picks its action'),
        DeclareLaunchArgument(
            'device', default_value='cpu', description='torch device of the policy'),
        DeclareLaunchArgument(
            'autostart', default_value='false', choices=BOOL,
            description='true: act at once; false: wait for /policy_node/start'),
        DeclareLaunchArgument(
            'use_rviz', default_value='false', choices=BOOL,
            description='true: show the arm in RViz'),
    ]
    bringup = include('widowx_bringup', 'widowx.launch.py',
                      ['robot_model', 'robot_name', 'video_device', 'pixel_format', 'use_rviz'])
    policy = include('vptr_policy', 'policy.launch.py',
                     ['checkpoint_dir', 'task', 'robot_model', 'robot_name', 'action_mode',
                      'device', 'autostart'])
    return LaunchDescription(arguments + [bringup, policy])
