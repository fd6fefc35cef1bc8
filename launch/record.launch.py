"""Record demos: the arm (real or simulated) + a demo source (keyboard teleop or the
scripted collector) + `ros2 bag record` on the topics `vptr data rosbag` converts.

    ros2 launch launch/record.launch.py robot:=sim source:=collector bag_dir:=demos/sim_01
    ros2 launch launch/record.launch.py robot:=real source:=teleop bag_dir:=demos/real_01 \\
        task:=put_carrot_on_plate language:='put the carrot on the plate'
    vptr data rosbag demos/sim_01 data/target

Only includes the packages' launch files.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.conditions import LaunchConfigurationEquals
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def include(package: str, file: str, arguments: dict[str, object],
            condition: object = None) -> GroupAction:
    # Scoped: IncludeLaunchDescription alone shares one scope of launch configurations, so
    # one included file's arguments (e.g. params_file) would leak into the next.
    return GroupAction([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare(package), 'launch', file])),
        launch_arguments=arguments.items())], scoped=True, condition=condition)


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'bag_dir', description='output folder of the bag (must not exist yet)'),
        DeclareLaunchArgument(
            'robot', default_value='sim', choices=['real', 'sim'],
            description='real: Interbotix driver + usb_cam; sim: the MuJoCo WidowX'),
        DeclareLaunchArgument(
            'source', default_value='collector', choices=['teleop', 'collector'],
            description='teleop: keyboard demos; collector: scripted expert (sim only)'),
        DeclareLaunchArgument(
            'task', default_value='put_carrot_on_plate',
            description='task name of the episodes (and of the simulated scene)'),
        DeclareLaunchArgument(
            'language', default_value='',
            description='language instruction stored with each episode'),
        DeclareLaunchArgument(
            'num_episodes', default_value='10',
            description='episodes the scripted collector records'),
        DeclareLaunchArgument(
            'storage', default_value='mcap', choices=['mcap', 'sqlite3'],
            description='rosbag2 storage plugin'),
        DeclareLaunchArgument(
            'robot_model', default_value='wx250s', choices=['wx250s', 'wx250'],
            description='Interbotix arm model (the simulator is a wx250s; on a wx250 '
                        'teleop follows the nearest reachable pose)'),
        DeclareLaunchArgument(
            'video_device', default_value='/dev/video0',
            description='V4L2 device of the scene camera (real robot)'),
    ]

    def config(name: str) -> LaunchConfiguration:
        return LaunchConfiguration(name)

    robot_name = config('robot_model')
    real = include('widowx_bringup', 'widowx.launch.py', {
        'robot_model': config('robot_model'), 'video_device': config('video_device')},
        LaunchConfigurationEquals('robot', 'real'))
    sim = include('widowx_bringup', 'sim_robot.launch.py', {
        'robot_name': robot_name, 'task': config('task'),
        'publish_expert': 'true'}, LaunchConfigurationEquals('robot', 'sim'))
    teleop = include('widowx_bringup', 'teleop.launch.py', {
        'robot_model': config('robot_model'), 'task': config('task'),
        'language': config('language')}, LaunchConfigurationEquals('source', 'teleop'))
    collector = include('widowx_bringup', 'collector.launch.py', {
        'robot_name': robot_name, 'task': config('task'), 'language': config('language'),
        'num_episodes': config('num_episodes')},
        LaunchConfigurationEquals('source', 'collector'))
    recorder = include('widowx_bringup', 'record_demos.launch.py', {
        'bag_dir': config('bag_dir'), 'storage': config('storage'),
        'robot_name': robot_name})
    return LaunchDescription(arguments + [real, sim, teleop, collector, recorder])
