"""Run the V-PTR policy node: `ros2 launch vptr_policy policy.launch.py checkpoint_dir:=DIR`.

Defaults come from config/policy.yaml (found through FindPackageShare); the arguments below
override them. The node starts paused: `ros2 service call /policy_node/start
std_srvs/srv/Trigger` (or autostart:=true).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

BOOL = ('true', 'false')


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'checkpoint_dir',
            description='checkpoint directory written by `vptr train` / `vptr finetune` '
                        '(or a run directory: its latest checkpoint)'),
        DeclareLaunchArgument(
            'task', default_value='',
            description='task name from the checkpoint spec; empty = the only task'),
        DeclareLaunchArgument(
            'robot_model', default_value='wx250s', choices=['wx250s', 'wx250'],
            description='Interbotix arm model: wx250s (6-DoF, follows the 6-D EE deltas '
                        'exactly) or wx250 (5-DoF: follows the nearest reachable pose, '
                        'gripper kept in the plane of its waist)'),
        DeclareLaunchArgument(
            'robot_name', default_value=LaunchConfiguration('robot_model'),
            description='namespace of the arm driver topics (defaults to robot_model)'),
        DeclareLaunchArgument(
            'image_topic', default_value='/camera/image_raw',
            description='camera topic the policy reads (rgb8 sensor_msgs/Image)'),
        DeclareLaunchArgument(
            'image_is_compressed', default_value='false', choices=list(BOOL),
            description='true: image_topic carries sensor_msgs/CompressedImage'),
        DeclareLaunchArgument(
            'action_mode', default_value='actor', choices=['actor', 'q-rerank'],
            description='actor: the actor mean; q-rerank: best of sampled actions by Q'),
        DeclareLaunchArgument(
            'control_hz', default_value='5.0',
            description='control rate in Hz (the checkpoint was trained at 5 Hz)'),
        DeclareLaunchArgument(
            'device', default_value='cpu', description="torch device, e.g. 'cpu', 'cuda:0'"),
        DeclareLaunchArgument(
            'autostart', default_value='false', choices=list(BOOL),
            description='true: start acting at once instead of waiting for ~/start'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([FindPackageShare('vptr_policy'), 'config',
                                                'policy.yaml']),
            description='YAML with the remaining parameters (workspace box, step limit, '
                        'stale timeout, gripper threshold and efforts)'),
    ]

    def config(name: str) -> LaunchConfiguration:
        return LaunchConfiguration(name)

    def text(name: str) -> ParameterValue:
        return ParameterValue(LaunchConfiguration(name), value_type=str)

    policy_node = Node(
        package='vptr_policy', executable='policy_node', name='policy_node', output='screen',
        emulate_tty=True,
        parameters=[config('params_file'), {
            # Every value typed explicitly: launch_ros reads an untyped substitution as YAML
            # (task:=yes would arrive as a bool, control_hz:=5 as an integer).
            'checkpoint_dir': text('checkpoint_dir'),
            'task': text('task'),
            'robot_model': text('robot_model'),
            'robot_name': text('robot_name'),
            'image_topic': text('image_topic'),
            'image_is_compressed': ParameterValue(config('image_is_compressed'),
                                                  value_type=bool),
            'action_mode': text('action_mode'),
            'control_hz': ParameterValue(config('control_hz'), value_type=float),
            'device': text('device'),
            'autostart': ParameterValue(config('autostart'), value_type=bool),
        }])
    return LaunchDescription(arguments + [policy_node])
