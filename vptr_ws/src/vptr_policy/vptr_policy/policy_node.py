"""ROS 2 node running a V-PTR checkpoint on the WidowX 250 (thin: the logic is ROS-free).

One control tick, the call chain (paths under vptr_ws/src/):

    PolicyNode._on_control_timer    vptr_policy/vptr_policy/policy_node.py   timer, control_hz
     -> ArmIO.step                  widowx_bringup/widowx_bringup/arm_io.py  latest image and
                                    joint state in; after the step, arm + gripper commands out
     -> PolicyController.step       vptr_policy/vptr_policy/control.py (extends ArmController)
     -> ArmController._step         widowx_bringup/widowx_bringup/arm_control.py  mode,
                                    watchdog (stale or missing data holds), homing
     -> PolicyController._policy_step  (ArmController's, arm_control.py)  EE state,
                                    policy.act (vptr_training/vptr_training/policy.py), gripper
     -> bridge_arm_step             vptr_training/vptr_training/robot/arm_step.py  EE target,
                                    5-DoF projection, IK (robot/kinematics.py)
     -> filter_command              vptr_training/vptr_training/robot/safety.py  NaN hold,
                                    joint limits, workspace box, per-step joint change

Subscribes to the camera image and the Interbotix joint states (sensor-data QoS, depth 1,
only the latest message kept), runs `PolicyController.step` on a timer at control_hz, and
publishes interbotix_xs_msgs JointGroupCommand ('arm') and JointSingleCommand ('gripper',
PWM effort) to the driver's command topics, plus diagnostics. Starts paused: call
~/start, ~/stop, ~/home (std_srvs/Trigger). Sensors and the control timer live in separate
mutually exclusive callback groups, so a slow policy step never blocks the latest image from
being taken in (run it with a MultiThreadedExecutor, as main() does).

The gripper runs in PWM mode: the node sends an effort when the commanded direction changes
and zeroes it, as Interbotix's gripper interface does, when the fingers reach their limit,
on ~/stop, while paused and on exit, so the servo never keeps pushing against its stop.
Parameters are read once at start-up and are read-only.
"""
from __future__ import annotations

import re
import sys
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_srvs.srv import Trigger
from vptr_policy.control import only_task, PolicyController, spec_value
from vptr_training.errors import ConfigError
from vptr_training.policy import load_policy
from vptr_training.robot.conventions import ACTION_MODES, WORKSPACE_HIGH, WORKSPACE_LOW
from vptr_training.robot.kinematics import ROBOT_MODELS
from widowx_bringup.arm_control import (controller_kinematics, ControllerConfig, MODE_RUNNING,
                                        StepResult)
from widowx_bringup.arm_io import arm_parameters, ArmIO
from widowx_bringup.gripper import GRIPPER_CLOSE_EFFORT, GRIPPER_OPEN_EFFORT
from widowx_bringup.ros_main import declare_parameters, spin_node

# name -> (default, description): the one table of the node's parameters. Each default is
# taken from where the value is defined (ControllerConfig, the arm's I/O, the policy
# runtime); config/policy.yaml and the launch files' defaults are checked against this
# table by test_policy_parameters.py.
PARAMETERS: dict[str, tuple[Any, str]] = {
    'checkpoint_dir': ('', 'checkpoint directory written by vptr train/finetune (required)'),
    **arm_parameters('wx250s (6-DoF) or wx250 (5-DoF: 6-D EE targets projected to the '
                     'nearest reachable pose)'),
    'image_is_compressed': (False, 'subscribe to sensor_msgs/CompressedImage instead'),
    'task': ('', 'task name from the checkpoint spec; empty = its only task'),
    'action_mode': (ACTION_MODES[0],
                    'actor: actor mean; q-rerank: best of sampled actions by Q'),
    'device': ('cpu', 'torch device for the policy'),
    'workspace_low': ([float(v) for v in WORKSPACE_LOW], 'EE target box lower corner (m)'),
    'workspace_high': ([float(v) for v in WORKSPACE_HIGH], 'EE target box upper corner (m)'),
    'max_joint_step': (ControllerConfig.max_joint_step,
                       'max joint change per step (rad); 0 = velocity limit x period'),
    'gripper_threshold': (ControllerConfig.gripper_threshold,
                          'gripper action above this opens the gripper'),
    'gripper_open_effort': (GRIPPER_OPEN_EFFORT, 'PWM effort sent to open the gripper'),
    'gripper_close_effort': (GRIPPER_CLOSE_EFFORT, 'PWM effort sent to close the gripper'),
    'autostart': (False, 'start running the policy without a ~/start call'),
}


class PolicyNode(Node):
    """Camera + joint states in, safety-filtered joint commands out."""

    def __init__(self) -> None:
        super().__init__('policy_node')
        p = declare_parameters(self, PARAMETERS)
        if p['robot_model'] not in ROBOT_MODELS:
            raise ConfigError(f'robot_model must be one of {ROBOT_MODELS}, '
                              f"got {p['robot_model']!r}")
        if p['action_mode'] not in ACTION_MODES:
            raise ConfigError(f'action_mode must be one of {ACTION_MODES}, '
                              f"got {p['action_mode']!r}")
        if not p['checkpoint_dir']:
            raise ConfigError('parameter checkpoint_dir is required (a checkpoint directory)')
        robot_name = p['robot_name'] or p['robot_model']

        # Checked before the (slow) checkpoint load: an unknown model is a ConfigError.
        self.kinematics = controller_kinematics(p['robot_model'])
        policy = load_policy(p['checkpoint_dir'], mode=p['action_mode'], device=p['device'])
        task = p['task'] or only_task(policy)
        spec_hz = spec_value(policy, 'control_hz')
        if spec_hz and abs(float(spec_hz) - float(p['control_hz'])) > 1e-6:
            self.get_logger().warning(f"control_hz {p['control_hz']} differs from the "
                                      f"checkpoint's {spec_hz} Hz: actions are per step")
        self.controller = PolicyController(policy, self.kinematics, ControllerConfig(
            task=task, control_hz=float(p['control_hz']),
            stale_timeout=float(p['stale_timeout']),
            gripper_threshold=float(p['gripper_threshold']),
            workspace_low=np.asarray(p['workspace_low'], dtype=np.float64),
            workspace_high=np.asarray(p['workspace_high'], dtype=np.float64),
            max_joint_step=float(p['max_joint_step'])))
        self._last_reason: str | None = None
        self.last_result: StepResult | None = None
        sensor_group = MutuallyExclusiveCallbackGroup()
        control_group = MutuallyExclusiveCallbackGroup()
        self.io = ArmIO(self, robot_name, list(self.kinematics.joint_names), p['image_topic'],
                        bool(p['image_is_compressed']),
                        (float(p['gripper_open_effort']), float(p['gripper_close_effort'])),
                        sensor_group=sensor_group)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.timer = self.create_timer(1.0 / float(p['control_hz']), self._on_control_timer,
                                       callback_group=control_group)
        # Services share the timer's group: a start/stop never interleaves with a step.
        for name, transition in (('start', self.controller.start),
                                 ('stop', self._stop),
                                 ('home', self.controller.home)):
            self.create_service(Trigger, f'~/{name}', _trigger(self, name, transition),
                                callback_group=control_group)
        if p['autostart']:
            self.controller.start()
        self.get_logger().info(
            f"policy node ready: task {task!r}, {p['robot_model']} as /{robot_name}, "
            f"{p['control_hz']} Hz, mode {self.controller.mode}")

    def _stop(self) -> tuple[bool, str]:
        """~/stop: pause, and zero the gripper's PWM now rather than at the next tick."""
        ok, message = self.controller.stop()
        self.io.stop_gripper()
        return ok, message

    def _on_control_timer(self) -> None:
        result = self.io.step(self.controller)
        self.last_result = result
        # Log changes, not every tick: reasons that differ only in their numbers (the age of
        # stale data, a step's scale) are the same condition.
        if _reason_kind(result.reason) != _reason_kind(self._last_reason):
            if result.reason:
                # One call site per severity: rclpy fixes a call site's severity at its first
                # call and raises ValueError if a later call changes it.
                if result.mode == MODE_RUNNING and result.arm_cmd is None:
                    self.get_logger().warning(f'[{result.mode}] {result.reason}')
                else:
                    self.get_logger().info(f'[{result.mode}] {result.reason}')
            self._last_reason = result.reason
        self.diagnostics_pub.publish(self._diagnostics(result))

    def _diagnostics(self, result: StepResult) -> DiagnosticArray:
        held = result.arm_cmd is None and result.mode == MODE_RUNNING
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if held else DiagnosticStatus.OK,
            name='vptr_policy: policy_node', hardware_id=self.kinematics.model,
            message=result.reason or f'{result.mode}: ok')

        def fmt(values: Any) -> str:
            return '' if values is None else ' '.join(f'{float(v):.4f}' for v in values)

        status.values = [
            KeyValue(key='mode', value=result.mode),
            KeyValue(key='paused', value=str(result.mode != MODE_RUNNING).lower()),
            KeyValue(key='reason', value=result.reason),
            KeyValue(key='step_latency_ms', value=f'{result.latency * 1e3:.2f}'),
            KeyValue(key='image_age_ms', value='' if result.image_age is None
                     else f'{result.image_age * 1e3:.1f}'),
            KeyValue(key='last_action', value=fmt(result.action)),
            KeyValue(key='state', value=fmt(result.state)),
            KeyValue(key='arm_command', value=fmt(result.arm_cmd)),
        ]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        return array


def _reason_kind(reason: str | None) -> str | None:
    """A step's reason with its numbers blanked, to tell a new condition from a repeat."""
    return None if reason is None else re.sub(r'-?\d+(\.\d+)?(e-?\d+)?', '#', reason)


def _trigger(node: Node, name: str, transition: Callable[[], tuple[bool, str]]) -> Callable:
    def callback(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        ok, message = transition()
        response.success = bool(ok)
        response.message = message
        node.get_logger().info(f'~/{name}: {message}')
        return response
    return callback


def main(args: list[str] | None = None) -> int:
    # Multi-threaded: the sensor group keeps taking images in while a step runs. On exit
    # (Ctrl-C, an error) the gripper's PWM is zeroed so the servo stops pushing.
    return spin_node(PolicyNode, executor='multi', args=args,
                     on_exit=lambda node: node.io.stop_gripper())


if __name__ == '__main__':
    sys.exit(main())
