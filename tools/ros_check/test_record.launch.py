"""launch_testing, under the real ROS 2: launch/record.launch.py records scripted demos
from the simulated WidowX with `ros2 bag record` (mcap), and `vptr data rosbag` converts
the bag.

    launch_test tools/ros_check/test_record.launch.py    (run.sh sets the environment)

Needs rosbag2 with the mcap storage in the ROS 2 install (run.sh skips this test, and
says so, when build_ros2.sh could not build it).
"""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

import launch
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
import launch_testing
import launch_testing.actions
import launch_testing.asserts

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe import describe_ros, REPO, WORK_DIR  # noqa: E402, I100

TASK = 'put_carrot_on_plate'
EPISODES = 2
BAG_DIR = os.path.join(WORK_DIR, 'record', 'bag')
STORE_DIR = os.path.join(WORK_DIR, 'record', 'store')
VPTR = os.path.join(REPO, '.venv', 'bin', 'vptr')
COLLECT_TIMEOUT = 300.0   # s: 2 episodes of at most 40 steps at 5 Hz, plus start-up


def generate_test_description():
    shutil.rmtree(os.path.dirname(BAG_DIR), ignore_errors=True)
    os.makedirs(os.path.dirname(BAG_DIR))
    record = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(REPO, 'launch', 'record.launch.py')),
        launch_arguments={'robot': 'sim', 'source': 'collector', 'task': TASK,
                          'num_episodes': str(EPISODES), 'bag_dir': BAG_DIR,
                          'language': 'put the carrot on the plate'}.items())
    return launch.LaunchDescription([record, launch_testing.actions.ReadyToTest()])


class TestRecord(unittest.TestCase):
    def test_collector_records_its_episodes(self, proc_info, proc_output):
        print(f'[ros-check] {describe_ros()}', flush=True)
        start = time.monotonic()
        proc_info.assertWaitForShutdown(process='scripted_collector',
                                        timeout=COLLECT_TIMEOUT)
        print(f'[ros-check] collector finished {EPISODES} episodes in '
              f'{time.monotonic() - start:.0f} s', flush=True)
        proc_output.assertWaitFor(f'episode {EPISODES - 1} ended', timeout=5,  # from 0
                                  process='scripted_collector')
        time.sleep(1.0)   # the last messages reach the recorder


@launch_testing.post_shutdown_test()
class TestBagConverts(unittest.TestCase):
    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)

    def test_vptr_data_rosbag_converts_the_bag(self):
        names = sorted(os.listdir(BAG_DIR))
        print(f'[ros-check] bag {BAG_DIR}: {names}', flush=True)
        self.assertIn('metadata.yaml', names)
        self.assertTrue(any(n.endswith('.mcap') for n in names), names)
        env = dict(os.environ)
        env.pop('PYTHONPATH', None)   # the project's own environment, as a user runs it
        convert = subprocess.run(
            [VPTR, 'data', 'rosbag', BAG_DIR, STORE_DIR, '--size', '64', '--task', TASK,
             '--overwrite'], capture_output=True, text=True, env=env, timeout=600)
        print(convert.stdout[-2000:], convert.stderr[-2000:], flush=True)
        self.assertEqual(convert.returncode, 0, convert.stderr[-2000:])
        info = subprocess.run([VPTR, 'data', 'info', STORE_DIR, '--json'],
                              capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(info.returncode, 0, info.stderr)
        summary = json.loads(info.stdout)
        print(f'[ros-check] converted store: {json.dumps(summary)[:600]}', flush=True)
        self.assertEqual(summary.get('episodes'), EPISODES, summary)
        self.assertGreater(summary.get('steps', 0), EPISODES, summary)
