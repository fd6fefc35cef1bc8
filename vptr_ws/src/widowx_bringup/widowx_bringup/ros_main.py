"""The start-up and spin loop shared by every node of vptr_policy and widowx_bringup.

`spin_node` is each node's `main()`: rclpy init, construct the node, spin it, shut down.
A `VptrError` raised while the node is built (bad parameter, missing checkpoint, unknown
arm model) is reported as `error: ...` with exit code 2, as the `vptr` CLI
does; Ctrl-C, SIGTERM and an external shutdown (a node calling rclpy.try_shutdown() when it
is done) end the spin cleanly with 0. rclpy's own signal handlers are not installed: they
shut the context down on Ctrl-C, after which `on_exit` could not publish anything (the
policy node zeroes the gripper's PWM there).

`declare_parameters` declares a node's parameter table read-only: the nodes read their
parameters once, so `ros2 param set` must fail ("Trying to set a read-only parameter")
instead of reporting a success that changes nothing. A value of the wrong type (e.g.
`-p control_hz:=5`, an integer for a double) is a ConfigError naming the parameter.
"""
from __future__ import annotations

import signal
import sys
from typing import Any, Callable

from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from vptr_training.errors import ConfigError, VptrError

EXECUTORS = {'multi': MultiThreadedExecutor, 'single': SingleThreadedExecutor}
EXIT_OK = 0
EXIT_ERROR = 2       # the vptr CLI's code for a VptrError


def declare_parameters(node: Node, parameters: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """Declare `name -> (default, description)` on `node`, read-only; returns name -> value
    in effect (the default, or the override from the command line / a params file)."""
    for name, (default, description) in parameters.items():
        descriptor = ParameterDescriptor(description=description, read_only=True)
        try:
            node.declare_parameter(name, default, descriptor)
        except InvalidParameterTypeException as exc:
            raise ConfigError(f'parameter {name}: {exc} (the default is {default!r}; '
                              f'write e.g. {_example(default)})') from exc
    return {name: node.get_parameter(name).value for name in parameters}


def _example(default: Any) -> str:
    if isinstance(default, bool):
        return 'true or false'
    if isinstance(default, float):
        return f'{default:.1f} with a decimal point'
    return repr(default)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()


def spin_node(node_factory: Callable[[], Node], executor: str = 'multi',
              on_exit: Callable[[Node], None] | None = None,
              args: list[str] | None = None) -> int:
    """Run one node until Ctrl-C or shutdown; returns the process exit code.

    executor: 'multi' (MultiThreadedExecutor, for nodes whose callback groups may run in
    parallel) or 'single'. on_exit(node) runs before the node is destroyed (release what
    the node holds, e.g. a simulator).
    """
    if executor not in EXECUTORS:
        raise ValueError(f'executor must be one of {sorted(EXECUTORS)}, got {executor!r}')
    # Without rclpy's handlers Ctrl-C raises KeyboardInterrupt with the context still valid,
    # so on_exit can publish; SIGTERM (what `ros2 launch` escalates to) does the same.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    node = None
    try:
        try:
            node = node_factory()
        except VptrError as exc:
            # No node to log with (construction failed): stderr, as the CLI reports it.
            print(f'error: {exc}', file=sys.stderr)
            return EXIT_ERROR
        spinner = EXECUTORS[executor]()
        spinner.add_node(node)
        spinner.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            try:
                if on_exit is not None:
                    on_exit(node)
            finally:
                node.destroy_node()
        rclpy.try_shutdown()
        signal.signal(signal.SIGTERM, previous_sigterm)
    return EXIT_OK
