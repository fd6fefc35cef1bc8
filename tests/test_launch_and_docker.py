"""Whole-system launch files, the Docker images and compose file, and the ROS-free rule
for vptr_training. Launch files are imported against the fake launch API shared with the
packages' tests (vptr_ws/src/widowx_bringup/test/fake_ros.py)."""
import ast
from pathlib import Path
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'vptr_ws' / 'src' / 'widowx_bringup' / 'test'))
import fake_ros  # noqa: E402, I100
import launch_checks  # noqa: E402

LAUNCH_DIR = REPO / 'launch'
PACKAGE_CONFIG = {name: path / 'config' for name, path in launch_checks.PACKAGES.items()}
TOP_LEVEL = ('robot.launch.py', 'sim.launch.py', 'record.launch.py')
DOCKER = REPO / 'docker'
ROS_MODULES = {'rclpy', 'rosidl_runtime_py', 'launch', 'launch_ros', 'ament_index_python',
               'sensor_msgs', 'std_msgs', 'std_srvs', 'geometry_msgs', 'diagnostic_msgs',
               'builtin_interfaces', 'rcl_interfaces', 'interbotix_xs_msgs',
               'interbotix_xs_modules', 'cv_bridge', 'message_filters', 'tf2_ros', 'rosbag2_py'}


@pytest.fixture
def ros(monkeypatch):
    return fake_ros.install(monkeypatch)


def includes(run):
    """File name -> arguments passed, for the includes a launch run executed."""
    return {Path(location).name: passed for location, passed in run.included}


def nodes(run):
    return {node.name: node for node in run.nodes}


@pytest.mark.parametrize('name', TOP_LEVEL)
def test_top_level_launch_files_only_include_package_launch_files(ros, name):
    path = LAUNCH_DIR / name
    description = launch_checks.load(path)
    assert launch_checks.argument_problems(description) == []
    assert launch_checks.include_problems(description) == []
    kinds = {type(e).__name__ for e in description.entities}
    assert kinds <= {'DeclareLaunchArgument', 'GroupAction'}, kinds
    # Each include in a scope of its own: IncludeLaunchDescription does not scope launch
    # configurations, so one included file's arguments would override the next one's.
    for group in description.entities:
        if type(group).__name__ == 'GroupAction':
            assert group.scoped and [type(a).__name__ for a in group.actions] == [
                'IncludeLaunchDescription']
    # Launch files include launch files and never import project Python.
    tree = ast.parse(path.read_text())
    imported = {(n.module or '').split('.')[0] for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom)}
    imported |= {a.name.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names}
    assert imported <= {'launch', 'launch_ros'}, imported


def test_robot_launch_runs_real_bringup_and_policy(ros):
    run = launch_checks.run_launch(LAUNCH_DIR / 'robot.launch.py', checkpoint_dir='/runs/ft')
    found = includes(run)
    assert set(found) == {'widowx.launch.py', 'policy.launch.py', 'xsarm_control.launch.py'}
    assert found['widowx.launch.py']['robot_model'] == 'wx250s'
    policy = nodes(run)['policy_node']
    assert policy.parameters['checkpoint_dir'] == '/runs/ft'
    assert policy.parameters['robot_name'] == 'wx250s'
    assert policy.parameter_files == [str(PACKAGE_CONFIG['vptr_policy'] / 'policy.yaml')]
    assert nodes(run)['camera'].parameter_files == [
        str(PACKAGE_CONFIG['widowx_bringup'] / 'usb_cam.yaml')]
    assert launch_checks.parameter_type_problems(run) == []


def test_sim_launch_gives_each_node_its_own_parameter_file(ros):
    # Unscoped, sim_robot.launch.py's params_file (sim_robot.yaml) would be the policy
    # node's too, and edits to policy.yaml would be ignored in simulation.
    run = launch_checks.run_launch(LAUNCH_DIR / 'sim.launch.py', checkpoint_dir='/runs/ft',
                                   task='put_carrot_on_plate')
    found = includes(run)
    assert set(found) == {'sim_robot.launch.py', 'policy.launch.py'}
    sim, policy = nodes(run)['sim_robot'], nodes(run)['policy_node']
    assert sim.parameter_files == [str(PACKAGE_CONFIG['widowx_bringup'] / 'sim_robot.yaml')]
    assert policy.parameter_files == [str(PACKAGE_CONFIG['vptr_policy'] / 'policy.yaml')]
    assert policy.parameters['stale_timeout'] == 0.5            # read from policy.yaml
    assert sim.parameters['task'] == policy.parameters['task'] == 'put_carrot_on_plate'
    assert policy.parameters['robot_model'] == 'wx250s'
    assert launch_checks.parameter_type_problems(run) == []
    assert 'params_file' not in run.configurations               # stayed in its scope


@pytest.mark.parametrize('path', [
    LAUNCH_DIR / 'sim.launch.py',
    REPO / 'vptr_ws/src/widowx_bringup/launch/sim_robot.launch.py',
    REPO / 'vptr_ws/src/widowx_bringup/launch/collector.launch.py',
])
def test_simulated_task_arguments_list_the_simulator_tasks(ros, path):
    from vptr_training.sim.generate import DEFAULT_TARGET_TASK
    from vptr_training.sim.tasks import TASKS
    (task,) = [e for e in launch_checks.load(path).entities
               if type(e).__name__ == 'DeclareLaunchArgument' and e.name == 'task']
    assert sorted(task.choices) == sorted(TASKS)
    assert task.default_value == DEFAULT_TARGET_TASK


@pytest.mark.parametrize('robot, source, expected', [
    ('sim', 'collector', {'sim_robot.launch.py', 'collector.launch.py',
                          'record_demos.launch.py'}),
    ('real', 'teleop', {'widowx.launch.py', 'teleop.launch.py', 'record_demos.launch.py'}),
])
def test_record_launch_selects_robot_and_source(ros, robot, source, expected):
    run = launch_checks.run_launch(LAUNCH_DIR / 'record.launch.py', robot=robot,
                                   source=source, bag_dir='/data/bags/x',
                                   language='pick up: carrot')
    found = includes(run)
    assert set(found) - {'xsarm_control.launch.py'} == expected
    assert found['record_demos.launch.py']['bag_dir'] == '/data/bags/x'
    (record,) = run.processes
    assert record[:7] == ['ros2', 'bag', 'record', '-s', 'mcap', '-o', '/data/bags/x']
    assert launch_checks.parameter_type_problems(run) == []
    source_node = nodes(run)['scripted_collector' if source == 'collector'
                             else 'keyboard_teleop']
    assert source_node.parameters['language'] == 'pick up: carrot'
    if robot == 'sim':
        assert nodes(run)['sim_robot'].parameters['publish_expert'] is True
        assert nodes(run)['sim_robot'].parameter_files == [
            str(PACKAGE_CONFIG['widowx_bringup'] / 'sim_robot.yaml')]


# ---------------------------------------------------------------------------- Docker

def hadolint() -> str:
    local = Path(sys.executable).parent / 'hadolint'
    return str(local) if local.exists() else (shutil.which('hadolint') or 'hadolint')


def test_dockerfiles_are_clean_under_hadolint():
    dockerfiles = sorted(DOCKER.glob('*.Dockerfile'))
    assert {p.name for p in dockerfiles} == {'robot.Dockerfile', 'train.Dockerfile'}
    result = subprocess.run([hadolint(), *map(str, dockerfiles)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfiles_copy_existing_paths_and_pin_torch():
    for dockerfile in DOCKER.glob('*.Dockerfile'):
        text = dockerfile.read_text()
        for line in re.findall(r'^COPY (.+)$', text, flags=re.M):
            for source in line.split()[:-1]:
                assert (REPO / source).exists(), f'{dockerfile.name}: COPY {source}'
    robot = (DOCKER / 'robot.Dockerfile').read_text()
    assert re.search(r'^FROM ros:humble-ros-base', robot, flags=re.M)
    assert 'https://download.pytorch.org/whl/cpu torch==2.13.0' in robot
    for repository in ('interbotix_ros_core', 'interbotix_ros_manipulators',
                       'interbotix_ros_toolboxes'):
        assert f'github.com/Interbotix/{repository}.git' in robot
    for package in ('ros-humble-usb-cam', 'ros-humble-rosbag2-storage-mcap'):
        assert package in robot
    assert 'rosdep install' in robot and 'colcon build' in robot
    train = (DOCKER / 'train.Dockerfile').read_text()
    assert 'pytorch/pytorch:2.13.0-cuda' in train and 'ros' not in train.lower().split()


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split('#')[0].strip()
        if line and not line.startswith('-'):
            name, version = line.split('==')
            out[name.lower()] = version
    return out


def test_robot_requirements_follow_requirements_txt():
    main, robot = pins(REPO / 'requirements.txt'), pins(DOCKER / 'requirements-robot.txt')
    assert set(main) == set(robot)
    differing = {name for name in main if main[name] != robot[name]}
    # Only the packages without Python 3.10 wheels at the pinned version, and the NumPy 1.x
    # pair that Humble's compiled message packages need, may differ.
    assert differing <= {'numpy', 'matplotlib', 'mujoco', 'opencv-python-headless'}
    assert robot['numpy'].startswith('1.')


def test_compose_file_structure():
    compose = yaml.safe_load((DOCKER / 'compose.yaml').read_text())
    services = compose['services']
    assert set(services) == {'robot', 'sim', 'train'}
    for name, service in services.items():
        assert service['network_mode'] == 'host', name
        build = service['build']
        assert (DOCKER / build['context'] / build['dockerfile']).is_file(), name
        mounts = [v.split(':')[1] for v in service['volumes']]
        assert any('data' in m for m in mounts) and any('runs' in m for m in mounts), name
    devices = services['robot']['devices']
    assert '/dev/ttyDXL:/dev/ttyDXL' in devices and '/dev/video0:/dev/video0' in devices
    assert 'devices' not in services['sim']
    (gpu,) = services['train']['deploy']['resources']['reservations']['devices']
    assert gpu['capabilities'] == ['gpu'] and gpu['driver'] == 'nvidia'
    assert services['robot']['build']['dockerfile'] == 'docker/robot.Dockerfile'
    assert services['train']['build']['dockerfile'] == 'docker/train.Dockerfile'
    assert 'robot.launch.py' in services['robot']['command']
    assert 'sim.launch.py' in services['sim']['command']


# ------------------------------------------------------------------ vptr_training is ROS-free

def test_vptr_training_imports_no_ros():
    package = REPO / 'vptr_ws' / 'src' / 'vptr_training'
    offenders = []
    for path in sorted(package.rglob('*.py')):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split('.')[0] in ROS_MODULES:
                    offenders.append(f'{path.relative_to(REPO)}:{node.lineno} imports {name}')
    assert offenders == []
    # The same holds for dynamic imports written as strings.
    for path in sorted(package.rglob('*.py')):
        assert not re.search(r"import_module\(\s*['\"]rclpy", path.read_text()), path
