"""policy_node wiring against the fake rclpy: parameters, topics, QoS, callback groups,
services, published messages, watchdog, preprocessing parity, main()."""
from pathlib import Path

import fake_ros
import numpy as np
import pytest
from vptr_training.robot.image import squash_resize
from vptr_training.robot.kinematics import WidowXKinematics
from vptr_training.robot.messages import image_msg_to_rgb
import yaml

PACKAGE = Path(__file__).resolve().parents[1]
KIN = WidowXKinematics('wx250s')
TASK = 'put_carrot_on_plate'


class SpyPolicy:
    """Records what the node hands to Policy.act and returns a fixed raw action."""

    def __init__(self, action=(0.01, 0.0, -0.01, 0.0, 0.0, 0.0, 1.0), tasks=(TASK,)):
        self.spec = {'task_names': list(tasks), 'image_size': 64, 'control_hz': 5.0}
        self.action = np.asarray(action, dtype=np.float32)
        self.calls = []
        self.loaded_with = None

    def act(self, image, state, task):
        self.calls.append((np.array(image), np.array(state), task))
        return self.action.copy()


def make_node(ros, policy=None, **params):
    module = fake_ros.import_fresh('vptr_policy.policy_node')
    policy = policy or SpyPolicy()

    def loader(path, mode='actor', device='cpu'):
        policy.loaded_with = (path, mode, device)
        return policy

    module.load_policy = loader
    ros.parameter_overrides['policy_node'] = dict(checkpoint_dir='/ckpt', **params)
    import rclpy
    if not ros.initialized:
        rclpy.init()
    return module, module.PolicyNode(), policy


def image_msg(ros, rgb, stamp_offset=0.0, pad=0, encoding='rgb8'):
    from sensor_msgs.msg import Image
    h, w, _ = rgb.shape
    pixels = rgb[:, :, ::-1] if encoding == 'bgr8' else rgb
    rows = np.zeros((h, w * 3 + pad), np.uint8)
    rows[:, :w * 3] = pixels.reshape(h, w * 3)
    msg = Image(height=h, width=w, encoding=encoding, step=w * 3 + pad, data=rows.tobytes())
    msg.header.stamp = ros.stamp(stamp_offset)
    return msg


def joint_msg(ros, q, finger=0.035, stamp_offset=0.0):
    from sensor_msgs.msg import JointState
    msg = JointState(name=list(KIN.joint_names) + ['gripper', 'left_finger', 'right_finger'],
                     position=[float(v) for v in q] + [0.5, finger, -finger])
    msg.header.stamp = ros.stamp(stamp_offset)
    return msg


def camera_frame(seed=0, shape=(480, 640, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def feed(ros, rgb=None, q=None):
    ros.publish('/camera/image_raw', image_msg(ros, camera_frame() if rgb is None else rgb))
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral if q is None else q))


def test_parameters_match_config_yaml_and_are_described(ros):
    _, node, policy = make_node(ros)
    config = yaml.safe_load((PACKAGE / 'config' / 'policy.yaml').read_text())
    declared = config['policy_node']['ros__parameters']
    module = fake_ros.import_fresh('vptr_policy.policy_node')
    assert set(declared) == set(module.PARAMETERS)
    for name, value in declared.items():
        assert module.PARAMETERS[name][0] == value, name
        assert node.parameter_descriptors[name].description, name
    assert policy.loaded_with == ('/ckpt', 'actor', 'cpu')


def test_topics_qos_and_callback_groups(ros):
    from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
    from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
    from rclpy.qos import ReliabilityPolicy
    from sensor_msgs.msg import Image, JointState
    _, node, _ = make_node(ros)
    image_sub = node.subscription('/camera/image_raw')
    joint_sub = node.subscription('/wx250s/joint_states')
    assert image_sub.msg_type is Image and joint_sub.msg_type is JointState
    for sub in (image_sub, joint_sub):
        assert sub.qos_profile.depth == 1
        assert sub.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    assert node.publisher('/wx250s/commands/joint_group').msg_type is JointGroupCommand
    assert node.publisher('/wx250s/commands/joint_single').msg_type is JointSingleCommand
    node.publisher('/diagnostics')
    (timer,) = node.timers
    assert timer.timer_period_ns == 200_000_000
    groups = {image_sub.callback_group, joint_sub.callback_group, timer.callback_group}
    assert image_sub.callback_group is joint_sub.callback_group
    assert timer.callback_group is not image_sub.callback_group
    assert all(isinstance(g, MutuallyExclusiveCallbackGroup) for g in groups)
    names = sorted(s.srv_name for s in node.services)
    assert names == ['~/home', '~/start', '~/stop']
    for name in names:
        node.service('/policy_node' + name[1:])      # resolved in the node's namespace
    assert all(s.callback_group is timer.callback_group for s in node.services)


def test_robot_name_and_compressed_images_change_the_wiring(ros):
    from sensor_msgs.msg import CompressedImage
    _, node, _ = make_node(ros, robot_name='arm1', image_is_compressed=True,
                           image_topic='/cam/image/compressed', control_hz=10.0)
    assert node.subscription('/cam/image/compressed').msg_type is CompressedImage
    node.subscription('/arm1/joint_states')
    node.publisher('/arm1/commands/joint_group')
    node.publisher('/arm1/commands/joint_single')
    assert node.timers[0].timer_period_ns == 100_000_000


def test_bad_parameters_are_config_errors(ros):
    from vptr_training.errors import ConfigError
    with pytest.raises(ConfigError, match='action_mode'):
        make_node(ros, action_mode='greedy')
    with pytest.raises(ConfigError, match='task'):
        make_node(ros, policy=SpyPolicy(tasks=('a', 'b')))


def test_paused_until_start_then_publishes_commands(ros):
    _, node, policy = make_node(ros)
    feed(ros)
    ros.spin_for(0.2)
    assert not node.publisher('/wx250s/commands/joint_group').messages
    assert not policy.calls
    response = node.service('/policy_node/start').call()
    assert response.success and 'running' in response.message
    feed(ros)
    ros.spin_for(0.2)
    (arm,) = node.publisher('/wx250s/commands/joint_group').messages
    (grip,) = node.publisher('/wx250s/commands/joint_single').messages
    assert arm.name == 'arm' and len(arm.cmd) == 6
    np.testing.assert_allclose(np.asarray(arm.cmd), node.last_result.arm_cmd, atol=1e-6)
    assert grip.name == 'gripper' and grip.cmd == 250.0
    # The command moves the EE by the action's delta from the measured pose.
    moved = KIN.fk(np.asarray(arm.cmd, dtype=np.float64))[:3, 3] - KIN.fk(KIN.neutral)[:3, 3]
    np.testing.assert_allclose(moved, [0.01, 0.0, -0.01], atol=2e-3)
    (status,) = node.publisher('/diagnostics').messages[-1].status
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == status.OK and values['mode'] == 'running'
    assert values['paused'] == 'false' and float(values['step_latency_ms']) >= 0.0
    assert len(values['last_action'].split()) == 7 and len(values['state'].split()) == 7


def test_gripper_close_effort_is_configurable(ros):
    _, node, _ = make_node(ros, policy=SpyPolicy(action=(0, 0, 0, 0, 0, 0, 0.0)),
                           gripper_close_effort=-120.0, autostart=True)
    feed(ros)
    ros.spin_for(0.2)
    assert node.publisher('/wx250s/commands/joint_single').messages[-1].cmd == -120.0


def test_stop_and_home_services(ros):
    _, node, _ = make_node(ros, autostart=True)
    assert node.service('/policy_node/stop').call().success
    feed(ros)
    ros.spin_for(0.2)
    assert not node.publisher('/wx250s/commands/joint_group').messages
    assert node.service('/policy_node/home').call().success
    far = KIN.neutral + 1.0
    ros.publish('/wx250s/joint_states', joint_msg(ros, far))
    ros.spin_for(0.2)
    (arm,) = node.publisher('/wx250s/commands/joint_group').messages
    assert np.max(np.abs(np.asarray(arm.cmd) - far)) <= np.pi * 0.2 + 1e-5
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral))
    ros.spin_for(0.2)
    assert node.controller.mode == 'paused'


def test_watchdog_stale_image_publishes_nothing_and_warns(ros):
    _, node, policy = make_node(ros, autostart=True)
    ros.publish('/camera/image_raw', image_msg(ros, camera_frame(), stamp_offset=-2.0))
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral))
    ros.spin_for(0.2)
    assert not node.publisher('/wx250s/commands/joint_group').messages
    assert not policy.calls
    (status,) = node.publisher('/diagnostics').messages[-1].status
    assert status.level == status.WARN and 'stale image' in status.message
    assert any('stale image' in m for m in node.get_logger().messages('warn'))
    # Ticks later the image is older still: the same condition is not logged again.
    ros.spin_for(0.6)
    assert sum('stale image' in m for m in node.get_logger().messages('warn')) == 1
    # Joint states stop arriving: after the timeout the node holds again.
    feed(ros)
    ros.spin_for(0.2)
    assert len(node.publisher('/wx250s/commands/joint_group').messages) == 1
    ros.spin_for(0.2)      # data now 0.4 s old: still within the 0.5 s timeout
    assert len(node.publisher('/wx250s/commands/joint_group').messages) == 2
    ros.spin_for(0.6)      # 0.6 s and older: held
    assert len(node.publisher('/wx250s/commands/joint_group').messages) == 2
    assert 'stale' in node.last_result.reason


def test_joint_state_without_arm_joints_is_ignored(ros):
    from sensor_msgs.msg import JointState
    _, node, _ = make_node(ros, autostart=True)
    feed(ros)
    gripper_only = JointState(name=['gripper', 'left_finger'], position=[0.1, 0.02])
    gripper_only.header.stamp = ros.stamp()
    ros.publish('/wx250s/joint_states', gripper_only)
    ros.spin_for(0.2)
    assert len(node.publisher('/wx250s/commands/joint_group').messages) == 1


@pytest.mark.parametrize('encoding, pad', [('rgb8', 0), ('rgb8', 64), ('bgr8', 8)])
def test_preprocessing_parity_with_the_converters(ros, encoding, pad):
    # The node hands the full decoded frame to Policy.act, which squashes it with the one
    # squash_resize; the rosbag converter does squash_resize(image_msg_to_rgb(msg)).
    _, node, policy = make_node(ros, autostart=True)
    rgb = camera_frame(seed=3)
    msg = image_msg(ros, rgb, pad=pad, encoding=encoding)
    ros.publish('/camera/image_raw', msg)
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral))
    ros.spin_for(0.2)
    (seen, _, task), = policy.calls
    assert task == TASK
    np.testing.assert_array_equal(seen, rgb)
    np.testing.assert_array_equal(squash_resize(seen, 64),
                                  squash_resize(image_msg_to_rgb(msg), 64))


def test_compressed_image_parity_with_the_converters(ros):
    # A jpeg CompressedImage: the node and the rosbag converter decode the same bytes with
    # the same compressed_image_to_rgb, so the policy sees exactly the converted frame.
    import cv2
    from sensor_msgs.msg import CompressedImage
    from vptr_training.robot.messages import compressed_image_to_rgb
    _, node, policy = make_node(ros, autostart=True, image_is_compressed=True,
                                image_topic='/camera/image_raw/compressed')
    yy, xx = np.mgrid[0:480, 0:640]
    rgb = np.stack([xx * 255 // 639, yy * 255 // 479, (xx + yy) * 255 // 1118],
                   axis=2).astype(np.uint8)             # smooth: JPEG keeps it close
    ok, jpeg = cv2.imencode('.jpg', rgb[:, :, ::-1])
    assert ok
    msg = CompressedImage(format='rgb8; jpeg compressed bgr8', data=jpeg.tobytes())
    msg.header.stamp = ros.stamp(0.0)
    ros.publish('/camera/image_raw/compressed', msg)
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral))
    ros.spin_for(0.2)
    (seen, _, _), = policy.calls
    np.testing.assert_array_equal(seen, compressed_image_to_rgb(msg))
    assert np.abs(seen.astype(int) - rgb.astype(int)).mean() < 3      # JPEG loss only


def test_preprocessing_parity_with_a_real_policy(ros, tmp_path):
    # Same bytes, real checkpoint: the tensor the network receives from the node path equals
    # the converter path's squash_resize output.
    from checkpoints import make_random_checkpoint
    from vptr_training.policy import load_policy
    policy = load_policy(make_random_checkpoint(tmp_path, [TASK]))
    seen = []
    real_act = policy.agent.act

    def spy(images, *args, **kwargs):
        seen.append(images.clone())
        return real_act(images, *args, **kwargs)

    policy.agent.act = spy
    _, node, _ = make_node(ros, policy=policy, autostart=True)
    rgb = camera_frame(seed=5)
    msg = image_msg(ros, rgb, pad=32)
    ros.publish('/camera/image_raw', msg)
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral))
    ros.spin_for(0.2)
    (tensor,) = seen
    expected = squash_resize(image_msg_to_rgb(msg), policy.image_size)
    np.testing.assert_array_equal(tensor[0].numpy(), expected)
    assert node.publisher('/wx250s/commands/joint_group').messages


def test_undecodable_image_holds(ros):
    from sensor_msgs.msg import Image
    _, node, policy = make_node(ros, autostart=True)
    bad = Image(height=10, width=10, encoding='rgb8', step=30, data=b'\x00' * 12)
    bad.header.stamp = ros.stamp()
    ros.publish('/camera/image_raw', bad)
    ros.publish('/wx250s/joint_states', joint_msg(ros, KIN.neutral))
    ros.spin_for(0.2)
    assert not node.publisher('/wx250s/commands/joint_group').messages
    assert 'cannot decode image' in node.last_result.reason


def test_main_spins_a_multithreaded_executor_and_shuts_down(ros, monkeypatch):
    module = fake_ros.import_fresh('vptr_policy.policy_node')
    module.load_policy = lambda path, mode='actor', device='cpu': SpyPolicy()
    ros.set_parameters('policy_node', checkpoint_dir='/ckpt')
    assert module.main([]) == 0
    (executor,) = ros.executors
    assert type(executor).__name__ == 'MultiThreadedExecutor'
    assert ros.init_count == 1 and ros.shutdown_count == 1


def test_main_reports_configuration_errors(ros, capsys):
    module = fake_ros.import_fresh('vptr_policy.policy_node')
    assert module.main([]) == 2           # no checkpoint_dir
    assert 'checkpoint_dir' in capsys.readouterr().err
    assert ros.shutdown_count == 1


def test_a_five_dof_wx250_is_driven_on_its_own_topics(ros):
    # /wx250 topics, 5 arm joints (no forearm_roll) in and out.
    kin5 = WidowXKinematics('wx250')
    _, node, _ = make_node(ros, robot_model='wx250', autostart=True)
    msg = joint_msg(ros, kin5.neutral)
    msg.name = list(kin5.joint_names) + ['gripper', 'left_finger', 'right_finger']
    ros.publish('/camera/image_raw', image_msg(ros, camera_frame()))
    ros.publish('/wx250/joint_states', msg)
    ros.spin_for(0.2)
    (arm,) = node.publisher('/wx250/commands/joint_group').messages
    assert len(arm.cmd) == 5
    moved = kin5.fk(np.asarray(arm.cmd))[:3, 3] - kin5.fk(kin5.neutral)[:3, 3]
    np.testing.assert_allclose(moved, [0.01, 0.0, -0.01], atol=2e-3)   # SpyPolicy's action


def test_robot_model_description_names_both_arms(ros):
    module = fake_ros.import_fresh('vptr_policy.policy_node')
    assert 'wx250 (5-DoF' in module.PARAMETERS['robot_model'][1]
    text = (PACKAGE / 'config' / 'policy.yaml').read_text()
    assert 'wx250 (5-DoF: follows the nearest' in text


def zero_stamped(msg):
    from builtin_interfaces.msg import Time
    msg.header.stamp = Time(sec=0, nanosec=0)
    return msg


def test_zero_stamps_use_the_receipt_time_with_one_warning(ros):
    _, node, policy = make_node(ros, autostart=True)
    arm = node.publisher('/wx250s/commands/joint_group')
    for _ in range(2):
        ros.publish('/camera/image_raw', zero_stamped(image_msg(ros, camera_frame())))
        ros.publish('/wx250s/joint_states', zero_stamped(joint_msg(ros, KIN.neutral)))
        ros.spin_for(0.2)
    assert len(arm.messages) == 2 and len(policy.calls) == 2
    warnings = [m for m in node.get_logger().messages('warn') if 'zero header stamps' in m]
    assert len(warnings) == 2                           # once for images, once for joints
    assert any(m.startswith('image') for m in warnings)
    assert any(m.startswith('joint state') for m in warnings)
    # Receipt time ages like a stamp: no new data for > stale_timeout -> held.
    ros.spin_for(0.6)
    assert len(arm.messages) == 3 and 'stale' in node.last_result.reason
