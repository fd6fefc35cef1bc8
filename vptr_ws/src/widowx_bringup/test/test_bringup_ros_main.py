"""ros_main: the shared main() of every node (init, construct, spin, shutdown, exit codes)
and the parameter table declaration, against the fake rclpy."""
import fake_ros
import pytest
from vptr_training.errors import ConfigError


def make_node_class():
    import rclpy.node

    class TinyNode(rclpy.node.Node):
        def __init__(self):
            super().__init__('tiny')
            self.events = []

        def destroy_node(self):
            self.events.append('destroyed')
            super().destroy_node()

    return TinyNode


@pytest.mark.parametrize('kind, executor_class', [('multi', 'MultiThreadedExecutor'),
                                                  ('single', 'SingleThreadedExecutor')])
def test_spin_node_spins_the_chosen_executor_then_cleans_up(ros, kind, executor_class):
    ros_main = fake_ros.import_fresh('widowx_bringup.ros_main')
    created = []

    def factory():
        created.append(make_node_class()())
        return created[-1]

    def on_exit(node):
        node.events.append('on_exit')

    assert ros_main.spin_node(factory, executor=kind, on_exit=on_exit, args=[]) == 0
    (executor,) = ros.executors
    assert type(executor).__name__ == executor_class and executor.nodes == created
    assert created[0].events == ['on_exit', 'destroyed']   # released before destroyed
    assert ros.init_count == 1 and ros.shutdown_count == 1 and not ros.initialized


def test_spin_node_reports_a_vptr_error_during_construction(ros, capsys):
    ros_main = fake_ros.import_fresh('widowx_bringup.ros_main')
    exits = []

    def factory():
        raise ConfigError('robot_model: not this one')

    assert ros_main.spin_node(factory, on_exit=exits.append) == 2
    assert capsys.readouterr().err == 'error: robot_model: not this one\n'
    assert not exits and not ros.executors
    assert ros.shutdown_count == 1


@pytest.mark.parametrize('interruption', ['KeyboardInterrupt', 'ExternalShutdownException'])
def test_spin_node_ends_cleanly_on_ctrl_c_and_external_shutdown(
        ros, monkeypatch, interruption):
    ros_main = fake_ros.import_fresh('widowx_bringup.ros_main')
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    error = {'KeyboardInterrupt': KeyboardInterrupt,
             'ExternalShutdownException': ExternalShutdownException}[interruption]

    class InterruptedExecutor(MultiThreadedExecutor):
        def spin(self):
            raise error()

    monkeypatch.setitem(ros_main.EXECUTORS, 'multi', InterruptedExecutor)
    node_class = make_node_class()
    created = []
    assert ros_main.spin_node(lambda: created.append(node_class()) or created[-1]) == 0
    assert created[0].events == ['destroyed'] and ros.shutdown_count == 1


def test_spin_node_lets_programming_errors_through_but_shuts_down(ros):
    ros_main = fake_ros.import_fresh('widowx_bringup.ros_main')

    def factory():
        raise TypeError('a bug, not a configuration problem')

    with pytest.raises(TypeError, match='a bug'):
        ros_main.spin_node(factory)
    assert ros.shutdown_count == 1
    with pytest.raises(ValueError, match='executor'):
        ros_main.spin_node(factory, executor='threads')


def test_declare_parameters_declares_described_parameters_with_overrides(ros):
    ros_main = fake_ros.import_fresh('widowx_bringup.ros_main')
    import rclpy
    rclpy.init()
    ros.set_parameters('tiny', rate=10.0)
    node = make_node_class()()
    table = {'rate': (5.0, 'control rate (Hz)'), 'name': ('arm', 'driver namespace')}
    assert ros_main.declare_parameters(node, table) == {'rate': 10.0, 'name': 'arm'}
    assert node.parameter_descriptors['rate'].description == 'control rate (Hz)'
    assert node.parameter_descriptors['name'].description == 'driver namespace'
