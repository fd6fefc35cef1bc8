"""Scripted demo collection from the simulated WidowX (sim_robot.launch.py with
publish_expert:=true must be running)."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from vptr_training.sim.generate import DEFAULT_TARGET_TASK
from vptr_training.sim.tasks import TASKS


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'robot_name', default_value='wx250s',
            description='namespace of the simulated driver topics'),
        DeclareLaunchArgument(
            'task', default_value=DEFAULT_TARGET_TASK, choices=sorted(TASKS),
            description='task name of the episodes (the sim node must run the same task)'),
        DeclareLaunchArgument(
            'language', default_value='',
            description='language instruction written into the episode events'),
        DeclareLaunchArgument(
            'num_episodes', default_value='10', description='episodes to collect'),
        DeclareLaunchArgument(
            'max_steps', default_value='40',
            description='control steps before an episode ends as a failure'),
    ]

    def config(name: str) -> LaunchConfiguration:
        return LaunchConfiguration(name)

    collector = Node(
        package='widowx_bringup', executable='scripted_collector', name='scripted_collector',
        output='screen',
        parameters=[{
            # Strings typed explicitly: launch_ros reads untyped substitutions as YAML
            # (language:=yes would be a bool, 'pick up: carrot' a dict).
            'robot_name': ParameterValue(config('robot_name'), value_type=str),
            'task': ParameterValue(config('task'), value_type=str),
            'language': ParameterValue(config('language'), value_type=str),
            'num_episodes': ParameterValue(config('num_episodes'), value_type=int),
            'max_steps': ParameterValue(config('max_steps'), value_type=int),
        }])
    return LaunchDescription(arguments + [collector])
