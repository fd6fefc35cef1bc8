"""Record demos with rosbag2 on exactly the topics `vptr data rosbag` converts.

    ros2 launch widowx_bringup record_demos.launch.py bag_dir:=demos/carrot_01

Topics: the camera image, /<robot_name>/joint_states, /vptr/action and
/vptr/episode_event (published by keyboard_teleop or scripted_collector).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration

# The action and episode topics of vptr_training.data.rosbag_io (launch files import no
# project Python; tests/test_launch_and_docker.py checks these match).
ACTION_TOPIC = '/vptr/action'
EPISODE_EVENT_TOPIC = '/vptr/episode_event'


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'bag_dir',
            description='output folder of the bag (must not exist yet; rosbag2 creates it)'),
        DeclareLaunchArgument(
            'storage', default_value='mcap', choices=['mcap', 'sqlite3'],
            description='rosbag2 storage plugin (both are read by `vptr data rosbag`)'),
        DeclareLaunchArgument(
            'robot_name', default_value='wx250s',
            description='namespace of the driver whose joint_states are recorded'),
        DeclareLaunchArgument(
            'image_topic', default_value='/camera/image_raw',
            description='camera topic to record'),
    ]
    robot_name = LaunchConfiguration('robot_name')
    record = ExecuteProcess(
        cmd=['ros2', 'bag', 'record', '-s', LaunchConfiguration('storage'),
             '-o', LaunchConfiguration('bag_dir'),
             LaunchConfiguration('image_topic'),
             ['/', robot_name, '/joint_states'],
             ACTION_TOPIC, EPISODE_EVENT_TOPIC],
        name='demo_recorder', output='screen')
    return LaunchDescription(arguments + [record])
