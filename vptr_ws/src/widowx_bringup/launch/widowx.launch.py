"""The real WidowX 250 and its camera: Interbotix xsarm_control + usb_cam.

    ros2 launch widowx_bringup widowx.launch.py robot_model:=wx250s video_device:=/dev/video0

Publishes /<robot_name>/joint_states and takes /<robot_name>/commands/joint_group|single
(the driver), and /camera/image_raw in rgb8 (usb_cam, yuyv2rgb or mjpeg2rgb). The arm
runs Bridge's motor profile and the gripper PWM mode (config/modes.yaml).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

BOOL = ['true', 'false']


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            'robot_model', default_value='wx250s', choices=['wx250s', 'wx250'],
            description='Interbotix arm model: wx250s (6 joints) or wx250 (5 joints: EE '
                        'targets are projected to the nearest pose it can reach)'),
        DeclareLaunchArgument(
            'robot_name', default_value=LaunchConfiguration('robot_model'),
            description='namespace of the driver topics (defaults to robot_model)'),
        DeclareLaunchArgument(
            'use_sim', default_value='false', choices=BOOL,
            description="true: Interbotix's joint-level DYNAMIXEL simulator instead of the "
                        'real motors (no camera scene; see sim_robot.launch.py for MuJoCo)'),
        DeclareLaunchArgument(
            'use_rviz', default_value='false', choices=BOOL,
            description='true: also start RViz with the robot model'),
        DeclareLaunchArgument(
            'mode_configs',
            default_value=PathJoinSubstitution([FindPackageShare('widowx_bringup'), 'config',
                                                'modes.yaml']),
            description='Interbotix mode config (arm profile, gripper PWM mode)'),
        DeclareLaunchArgument(
            'use_camera', default_value='true', choices=BOOL,
            description='true: start usb_cam for the scene camera'),
        DeclareLaunchArgument(
            'video_device', default_value='/dev/video0',
            description='V4L2 device of the scene camera'),
        DeclareLaunchArgument(
            'pixel_format', default_value='yuyv2rgb', choices=['yuyv2rgb', 'mjpeg2rgb'],
            description='usb_cam capture format, both converted to rgb8 '
                        '(mjpeg2rgb for cameras that only reach 30 fps in MJPEG)'),
        DeclareLaunchArgument(
            'image_width', default_value='640', description='camera width (px)'),
        DeclareLaunchArgument(
            'image_height', default_value='480', description='camera height (px)'),
        DeclareLaunchArgument(
            'framerate', default_value='30.0', description='camera frame rate (Hz)'),
        DeclareLaunchArgument(
            'camera_params_file',
            default_value=PathJoinSubstitution([FindPackageShare('widowx_bringup'), 'config',
                                                'usb_cam.yaml']),
            description='usb_cam parameters not set by the arguments above'),
    ]

    def config(name: str) -> LaunchConfiguration:
        return LaunchConfiguration(name)

    # Scoped: launch configurations set by xsarm_control.launch.py stay inside it.
    arm = GroupAction([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([
            FindPackageShare('interbotix_xsarm_control'), 'launch',
            'xsarm_control.launch.py'])),
        launch_arguments={
            'robot_model': config('robot_model'),
            'robot_name': config('robot_name'),
            'use_sim': config('use_sim'),
            'use_rviz': config('use_rviz'),
            'mode_configs': config('mode_configs'),
        }.items())], scoped=True)
    # Namespace 'camera' + usb_cam's relative 'image_raw' = /camera/image_raw.
    camera = Node(
        package='usb_cam', executable='usb_cam_node_exe', name='camera', namespace='camera',
        output='screen', condition=IfCondition(config('use_camera')),
        parameters=[config('camera_params_file'), {
            'video_device': ParameterValue(config('video_device'), value_type=str),
            'pixel_format': ParameterValue(config('pixel_format'), value_type=str),
            'image_width': ParameterValue(config('image_width'), value_type=int),
            'image_height': ParameterValue(config('image_height'), value_type=int),
            'framerate': ParameterValue(config('framerate'), value_type=float),
        }])
    return LaunchDescription(arguments + [arm, camera])
