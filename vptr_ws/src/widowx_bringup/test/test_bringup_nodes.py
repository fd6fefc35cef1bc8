"""The bringup nodes wired to the fake rclpy: the sim robot serves the driver's topics, the
scripted collector drives it through them, and what the collector publishes converts with
`vptr data rosbag`. (The policy node driving the sim: vptr_policy's test_policy_with_sim.py.)"""
import json
import os
from pathlib import Path

import fake_ros
import numpy as np
import pytest
from sim_nodes import SMALL_CAMERA, start_sim, TASK
import yaml

PACKAGE = Path(__file__).resolve().parents[1]


def test_sim_parameters_match_config_yaml(ros):
    module = fake_ros.import_fresh('widowx_bringup.sim_robot_node')
    config = yaml.safe_load((PACKAGE / 'config' / 'sim_robot.yaml').read_text())
    declared = config['sim_robot']['ros__parameters']
    assert set(declared) == set(module.PARAMETERS)
    for name, value in declared.items():
        assert module.PARAMETERS[name][0] == value, name


def test_sim_publishes_driver_joint_states_and_camera(ros):
    from sensor_msgs.msg import Image, JointState
    node = start_sim(ros, **SMALL_CAMERA)
    joints = node.publisher('/wx250s/joint_states')
    camera = node.publisher('/camera/image_raw')
    assert joints.msg_type is JointState and camera.msg_type is Image
    ros.spin_for(0.2)
    assert len(joints.messages) == 10 and len(camera.messages) == 2   # 50 Hz and 10 Hz
    state = joints.messages[-1]
    assert list(state.name) == ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle',
                                'wrist_rotate', 'gripper', 'left_finger', 'right_finger']
    assert len(state.position) == 9 and state.header.stamp.sec > 0
    image = camera.messages[-1]
    assert (image.width, image.height, image.encoding, image.step) == (160, 120, 'rgb8', 480)
    assert len(image.data) == 160 * 120 * 3
    assert image.header.frame_id == 'camera_color_optical_frame'


def test_sim_default_camera_is_640x480(ros):
    node = start_sim(ros)
    ros.spin_for(0.1)
    image = node.publisher('/camera/image_raw').messages[-1]
    assert (image.width, image.height) == (640, 480)


def test_sim_follows_driver_commands_and_resets(ros):
    from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
    node = start_sim(ros, **SMALL_CAMERA)
    goal = node.env.joint_positions() + np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.0])
    ros.publish('/wx250s/commands/joint_group',
                JointGroupCommand(name='arm', cmd=[float(v) for v in goal]))
    ros.publish('/wx250s/commands/joint_single', JointSingleCommand(name='gripper', cmd=-250.0))
    ros.spin_for(0.6)
    state = node.publisher('/wx250s/joint_states').messages[-1]
    np.testing.assert_allclose(np.asarray(state.position[:6]), goal, atol=0.02)
    assert state.position[7] < 0.02                      # fingers closed
    ros.publish('/wx250s/commands/joint_group', JointGroupCommand(name='arm', cmd=[0.0] * 3))
    assert any('expected 6' in m for m in node.get_logger().messages('warn'))
    response = node.service('/sim_robot/reset').call()
    assert response.success and 'seed 1' in response.message
    assert node.robot.gripper_open


class BagTap:
    """Stands in for `ros2 bag record`: keeps (receive time, message) per recorded topic."""

    TOPICS = ('/camera/image_raw', '/wx250s/joint_states', '/vptr/action',
              '/vptr/episode_event')

    def __init__(self, node):
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Float32MultiArray, String
        self.messages = {t: [] for t in self.TOPICS}
        # Seconds since the tap started: seconds since the epoch (~1.7e9) in a float lose
        # the nanoseconds, and a tick exactly at an episode's end event would fall outside.
        self.origin_ns = node.get_clock().now().nanoseconds
        for topic, kind in zip(self.TOPICS, (Image, JointState, Float32MultiArray, String)):
            node.create_subscription(kind, topic, self._tap(node, topic), 10)

    def _tap(self, node, topic):
        def callback(msg):
            elapsed_ns = node.get_clock().now().nanoseconds - self.origin_ns
            self.messages[topic].append((elapsed_ns * 1e-9, msg))
        return callback

    def write_bag(self, path):
        from vptr_training.data.rosbag_io import DemoBagWriter
        with DemoBagWriter(path, storage='mcap') as bag:
            for t, msg in self.messages['/camera/image_raw']:
                rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
                bag.write_image(t, rgb)
            for t, msg in self.messages['/wx250s/joint_states']:
                bag.write_joint_state(t, list(msg.name), list(msg.position))
            for t, msg in self.messages['/vptr/action']:
                bag.write_action(t, list(msg.data))
            for t, msg in self.messages['/vptr/episode_event']:
                event = json.loads(msg.data)
                bag.write_episode_event(t, event['event'], event['task'], event['language'],
                                        event['success'])


def test_scripted_collector_records_episodes_that_convert(ros, tmp_path):
    from vptr_training.data.rosbag import convert_bag, find_bags, RosbagOptions
    sim = start_sim(ros, publish_expert=True, **SMALL_CAMERA)
    collector_module = fake_ros.import_fresh('widowx_bringup.scripted_collector')
    ros.parameter_overrides['scripted_collector'] = dict(
        task=TASK, language='put the carrot on the plate', num_episodes=2, max_steps=40)
    collector = collector_module.ScriptedCollectorNode()
    import rclpy
    tap = BagTap(rclpy.node.Node('recorder'))
    for _ in range(200):
        ros.spin_for(0.5)
        if collector.finished:
            break
    assert collector.finished and not ros.initialized       # the node shut rclpy down
    events = [json.loads(m.data) for _, m in tap.messages['/vptr/episode_event']]
    assert [e['event'] for e in events] == ['start', 'end', 'start', 'end']
    assert all(e['task'] == TASK for e in events)
    assert [e['success'] for e in events if e['event'] == 'end'] == [True, True]
    assert [r.success for r in collector.plan.results] == [True, True]
    actions = tap.messages['/vptr/action']
    assert len(actions) == sum(r.steps for r in collector.plan.results)
    assert all(len(m.data) == 7 for _, m in actions)
    assert sim.seed == 2                                     # reset before each episode

    bag_dir = tmp_path / 'demo_bag'
    tap.write_bag(bag_dir)
    (unit,) = find_bags(bag_dir)
    episodes = convert_bag(unit, RosbagOptions(image_size=64))
    assert [e.task for e in episodes] == [TASK, TASK]
    assert [e.success for e in episodes] == [True, True]
    for episode, result in zip(episodes, collector.plan.results):
        assert episode.images.shape[1:] == (64, 64, 3)
        assert abs(len(episode.actions) - result.steps) <= 1


def test_scripted_collector_without_the_simulator_says_what_it_waits_for(ros):
    collector_module = fake_ros.import_fresh('widowx_bringup.scripted_collector')
    ros.parameter_overrides['scripted_collector'] = dict(task=TASK, num_episodes=1)
    import rclpy
    rclpy.init()
    collector = collector_module.ScriptedCollectorNode()
    ros.spin_for(2.0)
    warnings = [m for m in collector.get_logger().messages('warn')
                if 'waiting for the simulator reset service /sim_robot/reset' in m]
    assert len(warnings) == 1 and 'sim_robot.launch.py' in warnings[0]
    assert not collector.finished


def test_keyboard_teleop_publishes_actions_and_events(ros):
    sim = start_sim(ros, **SMALL_CAMERA)
    read_fd, write_fd = os.pipe()
    try:
        module = fake_ros.import_fresh('widowx_bringup.keyboard_teleop')
        ros.parameter_overrides['keyboard_teleop'] = dict(task='wipe', language='wipe it')
        node = module.KeyboardTeleopNode(key_fd=read_fd)
        import rclpy
        tap = BagTap(rclpy.node.Node('recorder'))
        os.write(write_fd, b'n')
        ros.spin_for(0.2)
        start_xyz = sim.env.ee_state()[:3]
        for _ in range(5):
            os.write(write_fd, b'aa')          # +y, 2 presses per step
            ros.spin_for(0.2)
        os.write(write_fd, b' ')
        ros.spin_for(0.6)
        os.write(write_fd, b'y')
        ros.spin_for(0.4)
        events = [json.loads(m.data) for _, m in tap.messages['/vptr/episode_event']]
        assert [(e['event'], e['task'], e['language']) for e in events] == [
            ('start', 'wipe', 'wipe it'), ('end', 'wipe', 'wipe it')]
        assert events[1]['success'] is True
        actions = np.array([list(m.data) for _, m in tap.messages['/vptr/action']])
        assert np.isclose(actions[:, 1], 0.04).sum() == 5
        assert actions[-1, 6] == 0.0 and actions[0, 6] == 1.0
        moved = sim.env.ee_state()[:3] - start_xyz
        assert moved[1] == pytest.approx(0.2, abs=0.02)
        assert node.controller.mode == 'paused'
        os.write(write_fd, b'q')
        ros.spin_for(0.4)
        assert not ros.initialized                              # quit shut rclpy down
    finally:
        os.close(read_fd)
        os.close(write_fd)
