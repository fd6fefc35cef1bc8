"""Run a V-PTR policy on the simulated WidowX (MuJoCo), through the same ROS topics as
the real arm.

    ros2 launch launch/sim.launch.py checkpoint_dir:=demo_out/runs/seed0/vptr_finetune
    ros2 service call /policy_node/start std_srvs/srv/Trigger   # it starts paused

Only includes the packages' launch files (widowx_bringup/sim_robot.launch.py,
vptr_policy/policy.launch.py).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

BOOL = ['true', 'false']
# vptr_training.sim's tasks (top-level launch files import no project code; a test keeps
# this list equal to sim.TASKS) and the target task of `vptr demo`.
SIM_TASKS = ['close_drawer', 'open_drawer', 'put_can_on_towel', 'put_carrot_in_bowl',
             'put_carrot_on_plate', 'put_corn_in_bowl', 'put_cube_in_bowl',
             'put_cube_on_plate', 'put_eggplant_on_towel', 'put_sponge_on_plate']
DEMO_TARGET_TASK = 'put_corn_in_bowl'


def include(package: str, file: str, arguments: dict[str, object]) -> GroupAction:
    # Scoped: IncludeLaunchDescription alone shares one scope of launch configurations, so
    # sim_robot.launch.py's params_file would replace policy.launch.py's default.
    return GroupAction([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare(package), 'launch', file])),
        launch_arguments=arguments.items())], scoped=True)


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'checkpoint_dir', description='checkpoint directory of the policy to run'),
        DeclareLaunchArgument(
            'task', default_value=DEMO_TARGET_TASK, choices=SIM_TASKS,
            description='simulated task, also the policy task (must be in the checkpoint); '
                        'the default is the target task of vptr demo'),
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
            'autostart', default_value='false', choices=BOOL,
            description='false: wait for /policy_node/start (as on the robot); true: act '
                        'at once'),
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
