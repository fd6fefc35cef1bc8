"""Behaviour that only shows against the real rclpy and launch (issue 9), through the fake's
honest parts: a logging call site's fixed severity, the executor letting a callback's
exception out, the gripper's PWM, read-only parameters, `python -m`, launch typing."""
import ast
from pathlib import Path
import runpy

import fake_ros
import launch_checks
import pytest
from test_policy_node import camera_frame, feed, image_msg, joint_msg, KIN, make_node, SpyPolicy
from widowx_bringup.gripper import GripperPWM

PACKAGE = Path(__file__).resolve().parents[1]
LAUNCH = PACKAGE / 'launch' / 'policy.launch.py'
GRIPPER = '/wx250s/commands/joint_single'


def efforts(node):
    return [m.cmd for m in node.publisher(GRIPPER).messages]


def test_a_held_tick_after_start_logs_a_warning_without_killing_the_node(ros):
    # Paused ticks log '[paused] paused' at info; after ~/start the first held tick (no
    # sensor data yet) logs at warning. From one call site rclpy raises ValueError.
    _, node, _ = make_node(ros)
    ros.spin_for(0.4)
    assert node.service('/policy_node/start').call().success
    ros.spin_for(0.4)
    assert any('no joint state received yet' in m for m in node.get_logger().messages('warn'))
    assert any('[paused] paused' in m for m in node.get_logger().messages('info'))


def test_the_fake_logger_fixes_a_call_sites_severity_as_rclpy_does(ros):
    import rclpy
    rclpy.init()
    logger = rclpy.node.Node('n').get_logger()

    def log_from_one_site(method):
        method('same call site')

    log_from_one_site(logger.info)
    with pytest.raises(ValueError, match='Logger severity cannot be changed between calls'):
        log_from_one_site(logger.warning)
    logger.info('another call site')
    logger.warning('and another')


def test_main_survives_start_then_held_ticks_and_zeroes_the_gripper_on_exit(ros):
    # The whole process: main() spins the executor; ~/start arrives from outside, data
    # flows, the policy closes the gripper, then Ctrl-C. A callback's exception would leave
    # spin() (the multi-threaded executor re-raises it) and main() with it.
    module = fake_ros.import_fresh('vptr_policy.policy_node')
    module.load_policy = lambda path, mode='actor', device='cpu': SpyPolicy(
        action=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
    ros.set_parameters('policy_node', checkpoint_dir='/ckpt')
    ros.schedule(0.3, lambda: ros.find_service('/policy_node/start').call())
    ros.schedule(0.5, lambda: feed(ros))
    ros.spin_budget = 0.7
    assert module.main([]) == 0
    (executor,) = ros.executors
    (node,) = executor.nodes
    assert efforts(node) == [-250.0, 0.0]              # closed, then zeroed on exit
    assert ros.shutdown_count == 1


def test_stop_and_pause_zero_the_gripper_and_nothing_is_resent(ros):
    _, node, _ = make_node(ros, autostart=True)
    for _ in range(3):
        feed(ros)
        ros.spin_for(0.2)
    assert efforts(node) == [250.0]                    # sent once, not every tick
    assert node.service('/policy_node/stop').call().success
    assert efforts(node) == [250.0, 0.0]               # zeroed at once
    ros.spin_for(0.6)
    assert efforts(node) == [250.0, 0.0]               # paused: nothing more


def test_the_gripper_effort_is_zeroed_at_the_finger_limit(ros):
    _, node, _ = make_node(ros, autostart=True)
    feed(ros)
    ros.spin_for(0.2)
    assert efforts(node) == [250.0]
    # Fully open (left_finger at its 0.037 m limit): stop pushing, as Interbotix does.
    ros.publish('/camera/image_raw', image_msg(ros, camera_frame()))
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral, finger=0.037))
    ros.spin_for(0.2)
    assert efforts(node) == [250.0, 0.0]
    ros.publish('/camera/image_raw', image_msg(ros, camera_frame()))
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral, finger=0.037))
    ros.spin_for(0.2)
    assert efforts(node) == [250.0, 0.0]               # still open: nothing new


def test_gripper_pwm_rules():
    pwm = GripperPWM(250.0, -250.0)
    assert pwm.command(True, 0.02) == 250.0
    assert pwm.command(True, 0.03) is None             # same effort: not resent
    assert pwm.command(None, 0.037) == 0.0             # reached the open limit
    assert pwm.command(True, 0.037) is None            # at the limit: stays zero
    assert pwm.command(False, 0.037) == -250.0         # closing is allowed
    assert pwm.command(False, 0.025) is None           # holding an object: keeps pushing
    assert pwm.command(None, None) is None             # unknown finger: keep the effort
    assert pwm.command(False, 0.015) == 0.0            # closed limit
    assert pwm.stop() is None                          # already zero
    assert pwm.command(True, float('nan')) == 250.0
    assert pwm.stop() == 0.0


def test_parameters_are_read_only_for_ros2_param_set(ros):
    _, node, _ = make_node(ros)
    result = ros.param_set('policy_node', 'control_hz', '10.0')
    assert not result.successful and 'read-only' in result.reason
    assert node.get_parameter('control_hz').value == 5.0
    assert all(node.describe_parameter(name).read_only
               for name in fake_ros.import_fresh('vptr_policy.policy_node').PARAMETERS)


def test_an_integer_for_a_double_parameter_is_a_clear_error(ros, capsys):
    module = fake_ros.import_fresh('vptr_policy.policy_node')
    ros.set_parameters('policy_node', checkpoint_dir='/ckpt', control_hz=5)
    assert module.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: parameter control_hz:') and 'DOUBLE' in err
    assert '5.0' in err


def test_python_dash_m_runs_the_node(ros, monkeypatch):
    # `python -m vptr_policy.policy_node`: main() runs under __main__, before anything the
    # module defines after that block exists.
    import vptr_training.policy
    monkeypatch.setattr(vptr_training.policy, 'load_policy',
                        lambda path, mode='actor', device='cpu': SpyPolicy())
    ros.set_parameters('policy_node', checkpoint_dir='/ckpt', autostart=True)
    ros.schedule(0.1, lambda: feed(ros))
    ros.spin_budget = 0.5
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module('vptr_policy.policy_node', run_name='__main__', alter_sys=True)
    assert exit_info.value.code == 0
    (executor,) = ros.executors
    assert executor.nodes[0].last_result.arm_cmd is not None


@pytest.mark.parametrize('path', sorted((PACKAGE / 'vptr_policy').glob('*.py')) + sorted(
    (PACKAGE.parent / 'widowx_bringup' / 'widowx_bringup').glob('*.py')),
    ids=lambda p: p.name)
def test_the_main_block_comes_last(path):
    body = ast.parse(path.read_text()).body
    mains = [i for i, stmt in enumerate(body) if isinstance(stmt, ast.If)
             and '__main__' in ast.unparse(stmt.test)]
    assert mains in ([], [len(body) - 1]), f'{path.name}: code after the __main__ block'


def test_free_text_launch_arguments_arrive_as_strings(ros):
    # launch_ros types an untyped substitution by YAML: task:=yes would be a bool,
    # checkpoint_dir:='runs/a: b' a dict.
    description = launch_checks.load(LAUNCH)
    names = launch_checks.free_text_arguments(description)
    assert {'checkpoint_dir', 'task', 'robot_name', 'image_topic', 'device'} <= set(names)
    for text in ('yes', '5', 'pick up: carrot', '[1, 2]'):
        run = launch_checks.run_launch(LAUNCH, **{name: text for name in names})
        assert launch_checks.parameter_type_problems(run) == []
        (node,) = run.nodes
        assert all(node.parameters[name] == text for name in names if name != 'image_topic')
    run = launch_checks.run_launch(LAUNCH, checkpoint_dir='/c', control_hz='5')
    assert run.nodes[0].parameters['control_hz'] == 5.0


def test_launch_defaults_give_the_policy_yaml(ros):
    run = launch_checks.run_launch(LAUNCH, checkpoint_dir='/c')
    (node,) = run.nodes
    assert node.parameter_files == [str(PACKAGE / 'config' / 'policy.yaml')]
    assert node.parameters['max_joint_step'] == 0.0          # from the file
    assert node.parameters['checkpoint_dir'] == '/c'
    assert launch_checks.parameter_type_problems(run) == []
    with pytest.raises(fake_ros.LaunchError, match='checkpoint_dir'):
        launch_checks.run_launch(LAUNCH)


def test_launch_checks_find_the_packages_in_any_workspace_folder(tmp_path):
    # colcon test runs the tests in each package's source folder; the workspace may be
    # anywhere, not inside this repository's vptr_ws.
    for name in launch_checks.PACKAGE_NAMES:
        (tmp_path / 'ws' / 'src' / name / 'test').mkdir(parents=True)
        (tmp_path / 'ws' / 'src' / name / 'package.xml').write_text('<package/>')
    found = launch_checks.find_packages(tmp_path / 'ws' / 'src' / 'vptr_policy' / 'test')
    assert found == {n: (tmp_path / 'ws' / 'src' / n).resolve()
                     for n in launch_checks.PACKAGE_NAMES}
    assert launch_checks.PACKAGES['vptr_policy'] == PACKAGE
    assert all((p / 'package.xml').is_file() for p in launch_checks.PACKAGES.values())


def test_transient_local_events_reach_a_late_subscriber(ros):
    # The fake's QoS: a transient-local publisher's history reaches a transient-local
    # subscriber created later; a best-effort publisher never reaches a reliable one.
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String
    rclpy.init()
    node = rclpy.node.Node('pub')
    latched = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_publisher(String, '/t', latched).publish(String(data='first'))
    node.create_publisher(String, '/b', QoSProfile(
        depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)).publish(String(data='lost'))
    ros.spin_for(0.1)
    got = []
    node.create_subscription(String, '/t', lambda m: got.append(m.data), latched)
    node.create_subscription(String, '/t', lambda m: got.append('volatile ' + m.data), 10)
    node.create_subscription(String, '/b', lambda m: got.append(m.data), 10)
    node.publisher('/b').publish(String(data='again'))
    ros.spin_for(0.1)
    assert got == ['first']
    assert ros.incompatible_qos and ros.incompatible_qos[0][0] == '/b'
