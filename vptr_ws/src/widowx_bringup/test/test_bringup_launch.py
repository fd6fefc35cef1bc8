"""widowx_bringup launch files against the fake launch API; package.xml vs imports."""
from pathlib import Path

import fake_ros
import launch_checks
import pytest
from vptr_training.data import rosbag_io
import yaml

PACKAGE = Path(__file__).resolve().parents[1]
LAUNCH_DIR = PACKAGE / 'launch'
LAUNCH_FILES = sorted(p.name for p in LAUNCH_DIR.glob('*.launch.py'))


def test_expected_launch_files_exist():
    assert {'widowx.launch.py', 'sim_robot.launch.py', 'record_demos.launch.py',
            'teleop.launch.py', 'collector.launch.py'} <= set(LAUNCH_FILES)


@pytest.mark.parametrize('name', LAUNCH_FILES)
def test_launch_file_arguments_nodes_and_includes(ros, name):
    description = launch_checks.load(LAUNCH_DIR / name)
    assert launch_checks.argument_problems(description) == []
    assert launch_checks.node_problems(description) == []
    assert launch_checks.include_problems(description) == []
    configurations = launch_checks.defaults(description)
    # Every config file a launch file points at exists in the package.
    for value in configurations.values():
        if value.endswith('.yaml'):
            assert Path(value).is_file(), value


def test_real_robot_launch_includes_xsarm_control_and_usb_cam(ros):
    description = launch_checks.load(LAUNCH_DIR / 'widowx.launch.py')
    configurations = launch_checks.defaults(description)
    (include,) = [e for e in fake_ros.walk(description.entities)
                  if isinstance(e, fake_ros.IncludeLaunchDescription)]
    location = fake_ros.evaluate(include.launch_description_source.location, configurations)
    assert location.endswith('interbotix_xsarm_control/launch/xsarm_control.launch.py')
    passed = {k: fake_ros.evaluate(v, configurations) for k, v in include.launch_arguments}
    assert passed['robot_model'] == 'wx250s' and passed['robot_name'] == 'wx250s'
    assert passed['use_sim'] == 'false'
    assert passed['mode_configs'].endswith('widowx_bringup/config/modes.yaml')
    (camera,) = [e for e in description.entities if isinstance(e, fake_ros.RosNode)]
    assert (camera.package, camera.executable) == ('usb_cam', 'usb_cam_node_exe')
    assert camera.namespace == 'camera'          # -> /camera/image_raw
    params = {k: fake_ros.launch_parameter_value(v, configurations)
              for k, v in camera.parameters[1].items()}
    assert params == {'video_device': '/dev/video0', 'pixel_format': 'yuyv2rgb',
                      'image_width': 640, 'image_height': 480, 'framerate': 30.0}
    arguments = launch_checks.declared(description)
    assert arguments['pixel_format'].choices == ['yuyv2rgb', 'mjpeg2rgb']
    assert fake_ros.condition_holds(camera.condition, configurations)
    # The parameter file's key must match the node's full name (/camera/camera) or be a
    # wildcard, or rcl ignores the whole file.
    params_file = fake_ros.evaluate(camera.parameters[0], configurations)
    assert params_file.endswith('widowx_bringup/config/usb_cam.yaml')
    (key,) = yaml.safe_load((PACKAGE / 'config' / 'usb_cam.yaml').read_text())
    assert key in ('/**', f'/{camera.namespace}/{camera.name}')


def test_recorder_records_exactly_the_converter_topics(ros):
    description = launch_checks.load(LAUNCH_DIR / 'record_demos.launch.py')
    configurations = launch_checks.defaults(description)
    configurations['bag_dir'] = 'demos/run1'
    (record,) = [e for e in description.entities if isinstance(e, fake_ros.ExecuteProcess)]
    cmd = [fake_ros.evaluate(part, configurations) for part in record.cmd]
    assert cmd[:7] == ['ros2', 'bag', 'record', '-s', 'mcap', '-o', 'demos/run1']
    assert cmd[7:] == [rosbag_io.IMAGE_TOPIC, rosbag_io.joint_states_topic('wx250s'),
                       rosbag_io.ACTION_TOPIC, rosbag_io.EPISODE_EVENT_TOPIC]
    configurations['robot_name'] = 'arm2'
    cmd = [fake_ros.evaluate(part, configurations) for part in record.cmd]
    assert '/arm2/joint_states' in cmd


def test_package_xml_covers_every_import():
    assert launch_checks.missing_dependencies('widowx_bringup') == set()
