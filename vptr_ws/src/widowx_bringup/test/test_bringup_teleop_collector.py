"""ROS-free parts of the demo tools: key mapping, key reader, collection bookkeeping
(the arm setup sequence: test_bringup_arm_setup.py)."""
import os

import numpy as np
import pytest
from vptr_training.robot.conventions import ACTION_HIGH

from widowx_bringup.collector import (CollectionPlan, FINISHED, NEED_RESET, READY, RESETTING,
                                      RUNNING)
from widowx_bringup.teleop import KeyReader, MOVE_KEYS, TeleopState


def test_each_movement_key_moves_one_axis():
    state = TeleopState(translation_step=0.02, rotation_step=0.1)
    for key, (dim, sign) in MOVE_KEYS.items():
        assert state.press(key) is None
        action = state.take_action()
        expected = np.zeros(7, np.float32)
        expected[dim] = sign * (0.02 if dim < 3 else 0.1)
        expected[6] = 1.0
        np.testing.assert_allclose(action, expected, err_msg=key)
    # Upper case works too (caps lock must not stop the arm from stopping).
    state.press('W')
    assert state.take_action()[0] == pytest.approx(0.02)


def test_presses_accumulate_within_a_step_and_clip_to_action_bounds():
    state = TeleopState(translation_step=0.02)
    for _ in range(2):
        state.press('r')
    assert state.take_action()[2] == pytest.approx(0.04)
    for _ in range(10):
        state.press('r')
    assert state.take_action()[2] == pytest.approx(float(ACTION_HIGH[2]))
    # Taken actions clear the pending movement; opposite keys cancel.
    state.press('a')
    state.press('d')
    np.testing.assert_allclose(state.take_action()[:6], 0.0)


def test_gripper_toggle_and_episode_keys():
    state = TeleopState()
    assert state.take_action()[6] == 1.0
    assert state.press(' ') == 'toggle_gripper'
    assert state.take_action()[6] == 0.0
    assert state.take_action()[6] == 0.0          # the gripper state persists
    events = [state.press(k) for k in 'nyxhq\x03']
    assert events == ['start', 'end_success', 'end_failure', 'home', 'quit', 'quit']
    assert state.press('z') is None


def test_key_reader_never_blocks_on_a_pipe():
    read_fd, write_fd = os.pipe()
    try:
        reader = KeyReader(read_fd)
        assert reader.read_keys() == ''
        os.write(write_fd, b'ww n')
        assert reader.read_keys() == 'ww n'
        assert reader.read_keys() == ''
        reader.close()
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_collection_plan_cycles_through_episodes():
    plan = CollectionPlan(num_episodes=2, max_steps=5, min_steps=1)
    assert plan.state == NEED_RESET
    assert plan.should_reset() and plan.state == RESETTING
    assert not plan.should_reset()               # once per episode
    assert not plan.begin()                      # not before the reset finished
    plan.reset_done(True)
    assert plan.state == READY and plan.begin() and plan.state == RUNNING
    assert plan.after_step(True) is None         # success within min_steps is ignored
    end = plan.after_step(True)
    assert end.success and end.steps == 2 and end.index == 0
    assert plan.state == NEED_RESET
    plan.should_reset()
    plan.reset_done(False)                       # failed reset: try again
    assert plan.state == NEED_RESET
    plan.should_reset()
    plan.reset_done(True)
    plan.begin()
    ends = [plan.after_step(False) for _ in range(5)]
    assert ends[:4] == [None] * 4 and not ends[4].success and ends[4].steps == 5
    assert plan.state == FINISHED and plan.success_rate == 0.5
    with pytest.raises(ValueError):
        CollectionPlan(0, 5)
