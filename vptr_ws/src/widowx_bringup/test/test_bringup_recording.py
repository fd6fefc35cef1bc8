"""The episode recorder: one /vptr/action per controller tick of a recorded episode, held
ticks as zero movement with the gripper value still in effect."""
import fake_ros
import numpy as np
import pytest
from widowx_bringup.arm_control import MODE_RUNNING, StepResult

ACTION = np.array([0.01, -0.02, 0.03, 0.1, -0.1, 0.2, 0.0], dtype=np.float32)
ARM_CMD = np.zeros(6)


def result(arm_cmd=ARM_CMD, gripper_cmd=False, action=ACTION, reason=''):
    return StepResult(arm_cmd, gripper_cmd, reason, 0.0, action=action, mode=MODE_RUNNING)


def make_recorder(ros):
    recording = fake_ros.import_fresh('widowx_bringup.recording')
    import rclpy
    import rclpy.node
    rclpy.init()
    node = rclpy.node.Node('recorder_test')
    return recording, recording.EpisodeRecorder(node, 'task', 'do it'), node


def published(node):
    return [list(m.data) for m in node.publisher('/vptr/action').messages]


def test_held_ticks_are_recorded_as_zero_movement_with_the_gripper_in_effect(ros):
    _, recorder, node = make_recorder(ros)
    recorder.start(gripper=1.0)
    # Held before the first action (no joint state yet): the start gripper value.
    recorder.record(result(None, None, None, 'no joint state received yet'))
    recorder.record(result())                                  # executed: closes
    recorder.record(result(None, None, None, 'stale image'))   # held: still closed
    recorder.record(result(None, True, ACTION + np.array([0, 0, 0, 0, 0, 0, 1.0],
                                                         np.float32), 'IK failed'))
    recorder.record(result(None, None, None, 'paused'))        # held: now open
    actions = published(node)
    assert len(actions) == 5                                   # one per tick
    np.testing.assert_allclose(actions[0], [0, 0, 0, 0, 0, 0, 1.0])
    np.testing.assert_allclose(actions[1], ACTION, rtol=1e-6)
    np.testing.assert_allclose(actions[2], [0, 0, 0, 0, 0, 0, 0.0])
    np.testing.assert_allclose(actions[3], [0, 0, 0, 0, 0, 0, 1.0])   # arm step skipped
    np.testing.assert_allclose(actions[4], [0, 0, 0, 0, 0, 0, 1.0])


def test_refused_policy_actions_keep_the_previous_gripper(ros):
    recording, recorder, node = make_recorder(ros)
    recorder.start(gripper=0.0)
    bad = np.array([np.nan, 0, 0, 0, 0, 0, 1.0], np.float32)
    recorder.record(result(None, None, bad, 'bad action'))
    recorder.record(result(None, None, np.ones(6, np.float32), 'bad action'))
    assert published(node) == [[0.0] * 7, [0.0] * 7]
    held = recording.recorded_action(result(None, None, None), 0.5)
    assert held.dtype == np.float32 and held.tolist() == [0, 0, 0, 0, 0, 0, 0.5]


def test_nothing_is_recorded_outside_an_episode(ros):
    _, recorder, node = make_recorder(ros)
    recorder.record(result())
    recorder.start()
    recorder.end(True)
    recorder.record(result(None, None, None))
    assert published(node) == []
    events = [m.data for m in node.publisher('/vptr/episode_event').messages]
    assert len(events) == 2


def test_teleop_records_every_tick_even_without_sensor_data(ros):
    import os
    read_fd, write_fd = os.pipe()
    try:
        module = fake_ros.import_fresh('widowx_bringup.keyboard_teleop')
        import rclpy
        rclpy.init()
        node = module.KeyboardTeleopNode(key_fd=read_fd)
        os.write(write_fd, b' n')          # gripper closed, then a new episode
        ros.spin_for(0.61)                  # 3 control ticks, all held: no joint state
        actions = published(node)
        assert len(actions) == 3
        assert actions == [[0.0] * 7] * 3   # no movement, gripper closed (0)
    finally:
        os.close(read_fd)
        os.close(write_fd)


@pytest.mark.parametrize('gripper_open, expected', [(True, 1.0), (False, 0.0)])
def test_teleop_starts_recording_with_its_gripper_toggle(ros, gripper_open, expected):
    import os
    read_fd, write_fd = os.pipe()
    try:
        module = fake_ros.import_fresh('widowx_bringup.keyboard_teleop')
        import rclpy
        rclpy.init()
        node = module.KeyboardTeleopNode(key_fd=read_fd)
        node.keys.gripper_open = gripper_open
        node.handle_event('start')
        assert node.recorder.gripper_in_effect == expected
    finally:
        os.close(read_fd)
        os.close(write_fd)
