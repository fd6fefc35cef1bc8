"""Keyboard teleop of the arm (real or simulated) for demo recording.

The node reads keys from its terminal, so it runs under `terminal_prefix` (a new xterm by
default). Alternatively run `ros2 run widowx_bringup keyboard_teleop` in a terminal.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'robot_model', default_value='wx250s', choices=['wx250s', 'wx250'],
            description='Interbotix arm model; teleop drives the 6-D EE controller (a 5-DoF '
                        'wx250 follows the nearest reachable pose)'),
        DeclareLaunchArgument(
            'robot_name', default_value=LaunchConfiguration('robot_model'),
            description='namespace of the driver topics (defaults to robot_model)'),
        DeclareLaunchArgument(
            'task', default_value='teleop_task',
            description='task name written into the episode events'),
        DeclareLaunchArgument(
            'language', default_value='',
            description='language instruction written into the episode events'),
        DeclareLaunchArgument(
            'terminal_prefix', default_value='xterm -e',
            description='command prefix giving the node a terminal for its keys'),
    ]

    def config(name: str) -> LaunchConfiguration:
        return LaunchConfiguration(name)

    teleop = Node(
        package='widowx_bringup', executable='keyboard_teleop', name='keyboard_teleop',
        output='screen', prefix=config('terminal_prefix'),
        # Strings typed explicitly: launch_ros reads untyped substitutions as YAML.
        parameters=[{name: ParameterValue(config(name), value_type=str)
                     for name in ('robot_model', 'robot_name', 'task', 'language')}])
    return LaunchDescription(arguments + [teleop])
