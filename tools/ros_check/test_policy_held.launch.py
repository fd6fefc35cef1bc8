"""launch_testing, under the real ROS 2: the policy node alone (vptr_policy's
policy.launch.py), fed by the test with joint states but no camera image.

    launch_test tools/ros_check/test_policy_held.launch.py    (run.sh sets the environment)

After ~/start every control tick is held (no image): the node must stay alive (real rclpy
fixes a call site's log severity on first use, issue 9 defect 1), send no arm command,
and report the held state as a WARN diagnostic at 5 Hz.
"""
import os
import sys
import unittest

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from interbotix_xs_msgs.msg import JointGroupCommand
import launch
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
import launch_testing
import launch_testing.actions
import launch_testing.asserts
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe import describe_ros, Probe  # noqa: E402, I100

CHECKPOINT = os.environ.get('VPTR_ROS_CHECK_CHECKPOINT', '')
TASK = os.environ.get('VPTR_ROS_CHECK_TASK', 'put_corn_in_bowl')
ARM_JOINTS = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate']
NEUTRAL = [-0.1319, -0.7624, 0.4449, -0.0199, 1.7564, -0.1595]
STARTUP_TIMEOUT = 180.0


def generate_test_description():
    from ament_index_python.packages import get_package_share_directory
    policy = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(
            get_package_share_directory('vptr_policy'), 'launch', 'policy.launch.py')),
        launch_arguments={'checkpoint_dir': CHECKPOINT, 'task': TASK}.items())
    return launch.LaunchDescription([policy, launch_testing.actions.ReadyToTest()])


class TestPolicyHeld(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.probe = Probe()
        print(f'[ros-check] {describe_ros()}', flush=True)
        cls.arm = cls.probe.record(JointGroupCommand, '/wx250s/commands/joint_group')
        cls.diagnostics = cls.probe.record(DiagnosticArray, '/diagnostics')
        cls.joint_pub = cls.probe.node.create_publisher(JointState, '/wx250s/joint_states', 10)
        cls.probe.node.create_timer(0.02, cls._publish_joints)

    @classmethod
    def _publish_joints(cls):
        msg = JointState(name=ARM_JOINTS + ['gripper', 'left_finger', 'right_finger'],
                         position=NEUTRAL + [0.0, 0.03, -0.03])
        msg.header.stamp = cls.probe.node.get_clock().now().to_msg()
        cls.joint_pub.publish(msg)

    @classmethod
    def tearDownClass(cls):
        cls.probe.close()

    def test_held_ticks_keep_the_node_alive(self):
        probe = self.probe
        # Paused ticks first (their reason is logged at info), then the held running ticks
        # (logged at warning): the sequence that kills a node logging both from one line.
        self.assertTrue(probe.wait_for(lambda: len(self.diagnostics.items) >= 5,
                                       STARTUP_TIMEOUT), 'the policy node does not tick')
        self.assertEqual(self.diagnostics.items[-1][1].status[0].level, DiagnosticStatus.OK)
        response = probe.call(Trigger, '/policy_node/start')
        self.assertIsNotNone(response, '~/start did not answer')
        self.assertTrue(response.success, response.message)
        t0 = probe.now()
        probe.spin_for(4.0)
        self.assertIn('/policy_node', probe.node_names(),
                      'the policy node died on a held tick after ~/start')
        self.assertEqual(self.arm.since(t0), [], 'arm commands without a camera image')
        ticks = [m for _, m in self.diagnostics.since(t0 + 0.5)]
        self.assertGreaterEqual(len(ticks), 10, f'{len(ticks)} control ticks in 3.5 s')
        status = ticks[-1].status[0]
        print(f'[ros-check] held: level {status.level!r} message {status.message!r}',
              flush=True)
        self.assertEqual(status.level, DiagnosticStatus.WARN)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
