"""The simulated WidowX (MuJoCo) on the real driver's and camera's topics.

    ros2 launch widowx_bringup sim_robot.launch.py task:=put_corn_in_bowl
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare
from vptr_training.sim.generate import DEFAULT_TARGET_TASK
from vptr_training.sim.tasks import TASKS

BOOL = ['true', 'false']


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'robot_name', default_value='wx250s',
            description='namespace of the simulated driver topics (the model is a wx250s)'),
        DeclareLaunchArgument(
            'task', default_value=DEFAULT_TARGET_TASK, choices=sorted(TASKS),
            description='simulated task (the default is the target task of vptr demo)'),
        DeclareLaunchArgument(
            'condition', default_value='seen',
            choices=['seen', 'new_positions', 'new_distractors'],
            description='scene randomisation of the episodes'),
        DeclareLaunchArgument(
            'seed', default_value='0',
            description='seed of the first episode (each reset uses the next)'),
        DeclareLaunchArgument(
            'camera_hz', default_value='10.0',
            description='camera publish rate (Hz); rendering 640x480 costs CPU'),
        DeclareLaunchArgument(
            'publish_expert', default_value='false', choices=BOOL,
            description='true: publish the scripted expert action (scripted collector)'),
        DeclareLaunchArgument(
            'expert_noise', default_value='0.0',
            description='scripted expert noise (fraction of the action bound)'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([FindPackageShare('widowx_bringup'), 'config',
                                                'sim_robot.yaml']),
            description='YAML with the remaining sim parameters (camera size, rates)'),
    ]

    def config(name: str) -> LaunchConfiguration:
        return LaunchConfiguration(name)

    sim = Node(
        package='widowx_bringup', executable='sim_robot_node', name='sim_robot',
        output='screen',
        parameters=[config('params_file'), {
            # Strings typed explicitly: launch_ros reads untyped substitutions as YAML.
            'robot_name': ParameterValue(config('robot_name'), value_type=str),
            'task': ParameterValue(config('task'), value_type=str),
            'condition': ParameterValue(config('condition'), value_type=str),
            'seed': ParameterValue(config('seed'), value_type=int),
            'camera_hz': ParameterValue(config('camera_hz'), value_type=float),
            'publish_expert': ParameterValue(config('publish_expert'), value_type=bool),
            'expert_noise': ParameterValue(config('expert_noise'), value_type=float),
        }])
    return LaunchDescription(arguments + [sim])
