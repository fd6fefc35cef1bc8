"""Each bringup node's main() through the shared widowx_bringup.ros_main.spin_node: the exit
code 2 path for a bad configuration and clean runs, with either arm model."""
import os
import sys

import fake_ros
import pytest

TASK = 'put_carrot_on_plate'


def test_collector_bad_episode_count_is_a_config_error(ros, capsys):
    module = fake_ros.import_fresh('widowx_bringup.scripted_collector')
    ros.set_parameters('scripted_collector', num_episodes=0)
    assert module.main([]) == 2
    assert 'num_episodes' in capsys.readouterr().err


def test_sim_main_refuses_other_models(ros, capsys):
    module = fake_ros.import_fresh('widowx_bringup.sim_robot_node')
    ros.set_parameters('sim_robot', robot_model='wx250')
    assert module.main([]) == 2
    assert 'simulator models a wx250s' in capsys.readouterr().err
    assert ros.shutdown_count == 1


def test_sim_main_spins_single_threaded_and_closes_the_env(ros, monkeypatch):
    module = fake_ros.import_fresh('widowx_bringup.sim_robot_node')
    ros.set_parameters('sim_robot', task=TASK, camera_width=64, camera_height=48)
    created, closed = [], []

    def factory():
        node = real_class()
        node.env.close = lambda: closed.append(True)
        created.append(node)
        return node

    real_class = module.SimRobotNode
    monkeypatch.setattr(module, 'SimRobotNode', factory)
    assert module.main([]) == 0
    (executor,) = ros.executors
    assert type(executor).__name__ == 'SingleThreadedExecutor'
    assert closed == [True] and created[0].destroyed and ros.shutdown_count == 1


@pytest.mark.parametrize('robot_model', ['wx250s', 'wx250'])
@pytest.mark.parametrize('module_name', ['widowx_bringup.keyboard_teleop',
                                         'widowx_bringup.scripted_collector'])
def test_controller_node_mains_spin_multithreaded(ros, monkeypatch, module_name, robot_model):
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(os.dup(read_fd), 'r')
    try:
        # The teleop reads keys from stdin: a pipe stands in for the terminal.
        monkeypatch.setattr(sys, 'stdin', stdin)
        module = fake_ros.import_fresh(module_name)
        ros.set_parameters(module_name.split('.')[-1], robot_model=robot_model)
        assert module.main([]) == 0
        (executor,) = ros.executors
        assert type(executor).__name__ == 'MultiThreadedExecutor'
        assert executor.nodes[0].destroyed and ros.shutdown_count == 1
    finally:
        stdin.close()
        os.close(read_fd)
        os.close(write_fd)
