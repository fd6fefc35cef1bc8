"""Bringup behaviour that only shows against the real launch_ros, usb_cam 0.8, Interbotix's
motor config and rclpy's QoS (issue 9), checked through the fake's honest parts."""
import math
import os
from pathlib import Path

import fake_ros
import launch_checks
import pytest
from vptr_training.robot.kinematics import FINGER_LIMITS
from widowx_bringup.sim_robot import finger_to_gripper_angle

PACKAGE = Path(__file__).resolve().parents[1]
LAUNCH_DIR = PACKAGE / 'launch'
# usb_cam 0.8.1 (src/ros2/usb_cam_node.cpp): declared defaults of the V4L2 controls.
USB_CAM_DEFAULTS = {'brightness': 50, 'contrast': -1, 'saturation': -1, 'sharpness': -1,
                    'gain': -1, 'auto_white_balance': True, 'white_balance': 4000,
                    'autoexposure': True, 'exposure': 100, 'autofocus': False, 'focus': -1}


def usb_cam_v4l2_writes(parameters):
    """The controls usb_cam 0.8.1's set_v4l2_params() writes at start-up."""
    p = dict(USB_CAM_DEFAULTS, **parameters)
    writes = {name: p[name] for name in ('brightness', 'contrast', 'saturation', 'sharpness',
                                         'gain') if p[name] >= 0}
    if p['auto_white_balance']:
        writes['white_balance_temperature_auto'] = 1
    else:
        writes['white_balance_temperature_auto'] = 0
        writes['white_balance_temperature'] = p['white_balance']
    if not p['autoexposure']:
        writes['exposure_auto'] = 1
        writes['exposure_absolute'] = p['exposure']
    else:
        writes['exposure_auto'] = 3
    writes['focus_auto'] = 1 if p['autofocus'] else 0
    if not p['autofocus'] and p['focus'] >= 0:
        writes['focus_absolute'] = p['focus']
    return writes


def test_usb_cam_leaves_the_image_controls_to_the_camera(ros):
    run = launch_checks.run_launch(LAUNCH_DIR / 'widowx.launch.py')
    (camera,) = [n for n in run.nodes if n.package == 'usb_cam']
    assert camera.fully_qualified_name == '/camera/camera'
    assert camera.parameters['pixel_format'] == 'yuyv2rgb'
    # Only the automatic modes: no brightness 50, no fixed focus, exposure or white balance.
    assert usb_cam_v4l2_writes(camera.parameters) == {
        'white_balance_temperature_auto': 1, 'exposure_auto': 3, 'focus_auto': 1}


def test_the_driver_include_is_scoped_and_the_camera_gets_strings(ros):
    run = launch_checks.run_launch(LAUNCH_DIR / 'widowx.launch.py',
                                   video_device='/dev/v4l/by-id/cam:0')
    ((location, passed),) = run.included
    assert location.endswith('xsarm_control.launch.py') and passed['robot_model'] == 'wx250s'
    assert 'use_world_frame' not in run.configurations       # stayed inside its scope
    (camera,) = run.nodes
    assert camera.parameters['video_device'] == '/dev/v4l/by-id/cam:0'
    assert camera.parameters['image_width'] == 640


@pytest.mark.parametrize('name', ['collector.launch.py', 'teleop.launch.py',
                                  'sim_robot.launch.py', 'record_demos.launch.py'])
@pytest.mark.parametrize('text', ['yes', '5', 'pick up: carrot', '[1, 2]'])
def test_free_text_arguments_arrive_as_strings(ros, name, text):
    # launch_ros types untyped substitutions by YAML: language:=yes would be a bool and
    # language:='pick up: carrot' a dict.
    description = launch_checks.load(LAUNCH_DIR / name)
    names = launch_checks.free_text_arguments(description)
    run = launch_checks.run_launch(LAUNCH_DIR / name, bag_dir='/tmp/b',
                                   **{n: text for n in names})
    assert launch_checks.parameter_type_problems(run) == []
    for node in run.nodes:
        for key in ('language', 'robot_name'):
            if key in node.parameters:
                assert node.parameters[key] == text


def test_launch_defaults_type_check(ros):
    for name in sorted(p.name for p in LAUNCH_DIR.glob('*.launch.py')):
        run = launch_checks.run_launch(LAUNCH_DIR / name, bag_dir='/tmp/b')
        assert launch_checks.parameter_type_problems(run) == [], name
    run = launch_checks.run_launch(LAUNCH_DIR / 'sim_robot.launch.py', seed='3',
                                   publish_expert='true')
    (sim,) = run.nodes
    assert sim.parameters['seed'] == 3 and sim.parameters['publish_expert'] is True
    assert sim.parameter_files == [str(PACKAGE / 'config' / 'sim_robot.yaml')]
    assert sim.parameters['joint_state_hz'] == 50.0          # from the file


def xs_sdk_finger(angle, horn_radius=0.014, arm_length=0.024):
    """interbotix_xs_sdk's robot_convert_angular_position_to_linear with wx250s.yaml's
    gripper linkage (grippers.gripper.horn_radius / arm_length)."""
    a1 = horn_radius * math.sin(angle)
    c = math.sqrt(horn_radius ** 2 - a1 ** 2)
    return a1 + math.sqrt(arm_length ** 2 - c ** 2)


def test_gripper_angle_follows_the_wx250s_linkage():
    for finger in (FINGER_LIMITS[0], 0.02, 0.03, FINGER_LIMITS[1]):
        angle = finger_to_gripper_angle(finger)
        assert -math.pi / 2 < angle < math.pi / 2
        assert xs_sdk_finger(angle) == pytest.approx(finger, abs=1e-7)


def test_episode_events_reach_a_recorder_that_subscribes_late(ros):
    # ros2 bag record subscribes transient local when every publisher offers it; the first
    # start event, published before the recorder matched, must still reach it.
    recording = fake_ros.import_fresh('widowx_bringup.recording')
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from std_msgs.msg import String
    rclpy.init()
    recorder = recording.EpisodeRecorder(rclpy.node.Node('teleop'), 'task', 'do it')
    assert recorder.event_pub.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
    recorder.start()
    ros.spin_for(0.2)
    bag = rclpy.node.Node('bag')
    got, volatile = [], []
    bag.create_subscription(String, '/vptr/episode_event', got.append, QoSProfile(
        depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    bag.create_subscription(String, '/vptr/episode_event', volatile.append, 10)
    recorder.end(True)
    ros.spin_for(0.2)
    assert ['"start"' in m.data for m in got] == [True, False]
    assert len(volatile) == 1 and not ros.incompatible_qos


def test_teleop_zeroes_the_gripper_when_an_episode_ends(ros):
    from test_bringup_nodes import SMALL_CAMERA, start_sim
    start_sim(ros, **SMALL_CAMERA)
    read_fd, write_fd = os.pipe()
    try:
        module = fake_ros.import_fresh('widowx_bringup.keyboard_teleop')
        node = module.KeyboardTeleopNode(key_fd=read_fd)
        os.write(write_fd, b'n')
        ros.spin_for(0.4)
        os.write(write_fd, b' ')
        ros.spin_for(0.4)
        os.write(write_fd, b'y')
        ros.spin_for(0.4)
        efforts = [m.cmd for m in node.publisher('/wx250s/commands/joint_single').messages]
        assert efforts[-1] == 0.0 and -250.0 in efforts
    finally:
        os.close(read_fd)
        os.close(write_fd)
