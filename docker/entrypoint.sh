#!/usr/bin/env bash
# Source ROS 2, the Interbotix workspace and this workspace, then run the command.
set -e
# shellcheck disable=SC1091
source /opt/ros/humble/setup.bash
# shellcheck disable=SC1091
source /opt/interbotix_ws/install/setup.bash
# shellcheck disable=SC1091
source /opt/vptr_ws/install/setup.bash
exec "$@"
