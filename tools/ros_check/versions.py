#!/usr/bin/env python3
"""Print the upstream commit each checked ROS 2 piece was built from, and what it is.

Reads tools/ros_check/humble.repos and the installed package.xml versions under
$ROS2_CACHE/install/share.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from place_sources import read_repos  # noqa: E402

# Repository -> the packages of it whose versions are printed.
SHOWN = {
    'ros2/rclpy': ['rclpy'], 'ros2/rcl': ['rcl'], 'ros2/launch': ['launch', 'launch_testing'],
    'ros2/launch_ros': ['launch_ros', 'launch_testing_ros', 'ros2launch'],
    'ros2/ros2cli': ['ros2cli', 'ros2topic', 'ros2service', 'ros2param'],
    'ros2/rmw_cyclonedds': ['rmw_cyclonedds_cpp'], 'eclipse-cyclonedds/cyclonedds': ['cyclonedds'],
    'ros2/common_interfaces': ['sensor_msgs', 'std_srvs'],
    'Interbotix/interbotix_ros_core': ['interbotix_xs_msgs'],
    'ros2/rclcpp': ['rclcpp'], 'ros2/rosbag2': ['ros2bag', 'rosbag2_storage_mcap'],
}


def installed_version(share: str, package: str) -> str | None:
    path = os.path.join(share, package, 'package.xml')
    pattern = r'<version>([^<]+)</version>'
    if package == 'cyclonedds':   # plain CMake: no package.xml is installed
        path = os.path.join(share, '..', 'lib', 'cmake', 'CycloneDDS',
                            'CycloneDDSConfigVersion.cmake')
        pattern = r'set\(PACKAGE_VERSION "([^"]+)"\)'
    if not os.path.isfile(path):
        return None
    match = re.search(pattern, open(path, encoding='utf-8').read())
    return match.group(1) if match else '?'


def main() -> int:
    share = os.path.join(os.environ.get('ROS2_CACHE', '/root/ros2_humble'), 'install', 'share')
    for repo in read_repos():
        if repo['name'] not in SHOWN:
            continue
        versions = [f'{p} {installed_version(share, p) or "NOT BUILT"}'
                    for p in SHOWN[repo['name']]]
        print(f"  {repo['name']:32s} {repo['branch']:16s} {repo['version'][:12]}  "
              + ', '.join(versions))
    return 0


if __name__ == '__main__':
    sys.exit(main())
