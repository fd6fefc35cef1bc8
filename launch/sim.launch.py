"""Run a V-PTR policy on the simulated WidowX (MuJoCo), through the same ROS topics as
the real arm.

    ros2 launch launch/sim.launch.py checkpoint_dir:=demo_out/runs/finetune autostart:=true

Only includes the packages' launch files (widowx_bringup/sim_robot.launch.py,
vptr_policy/policy.launch.py).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

BOOL = ['true', 'false']


def include(package: str, file: str, arguments: dict[str, object]) -> IncludeLaunchDescription:
    return IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare(package), 'launch', file])),
        launch_arguments=arguments.items())


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'checkpoint_dir', description='checkpoint directory of the policy to run'),
        DeclareLaunchArgument(
            'task', default_value='put_carrot_on_plate',
            description='simulated task, also the policy task (must be in the checkpoint)'),
        DeclareLaunchArgument(
            'condition', default_value='seen',
            choices=['seen', 'new_positions', 'new_distractors'],
            description='scene randomisation of the simulated episodes'),
        DeclareLaunchArgument(
            'seed', default_value='0', description='seed of the first simulated episode'),
        DeclareLaunchArgument(
            'robot_name', default_value='wx250s',
            description='namespace of the simulated driver topics'),
        DeclareLaunchArgument(
            'action_mode', default_value='actor', choices=['actor', 'q-rerank'],
            description='how the policy picks its action'),
        DeclareLaunchArgument(
            'device', default_value='cpu', description='torch device of the policy'),
        DeclareLaunchArgument(
            'autostart', default_value='true', choices=BOOL,
            description='true: act at once; false: wait for /policy_node/start'),
    ]

    def config(name: str) -> LaunchConfiguration:
        return LaunchConfiguration(name)

    sim = include('widowx_bringup', 'sim_robot.launch.py', {
        name: config(name) for name in ('task', 'condition', 'seed', 'robot_name')})
    policy = include('vptr_policy', 'policy.launch.py', {
        'checkpoint_dir': config('checkpoint_dir'), 'task': config('task'),
        'robot_model': 'wx250s', 'robot_name': config('robot_name'),
        'action_mode': config('action_mode'), 'device': config('device'),
        'autostart': config('autostart')})
    return LaunchDescription(arguments + [sim, policy])
