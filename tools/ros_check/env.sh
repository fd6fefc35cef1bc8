# Source this (bash) to get the real ROS 2 Humble of tools/ros_check/build_ros2.sh, the
# workspace overlay that run.sh builds, and the project's Python packages (torch, MuJoCo,
# ...) from .venv:
#
#   source tools/ros_check/env.sh && ros2 launch launch/sim.launch.py checkpoint_dir:=...
#
# ROS's own Python (the cache's venv: Debian's python3 3.11 + apt's python3-* + NumPy 2)
# runs everything; .venv's site-packages come after ROS's on PYTHONPATH (same Python 3.11
# ABI, same NumPy pin), so an import of rclpy or a message package can only find ROS's.
_ros_check_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_ros_check_repo="$(cd "$_ros_check_here/../.." && pwd)"
ROS2_CACHE="${ROS2_CACHE:-/root/ros2_humble}"
ROS_CHECK_DIR="${ROS_CHECK_DIR:-/tmp/vptr_ros_check}"
export ROS2_CACHE ROS_CHECK_DIR
if [[ ! -f "$ROS2_CACHE/install/setup.bash" ]]; then
  echo "error: no ROS 2 install in $ROS2_CACHE (run tools/ros_check/build_ros2.sh)" >&2
  return 2
fi
# The setup scripts read unset variables.
set +u
unset PYTHONPATH AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH
# shellcheck disable=SC1091
source "$ROS2_CACHE/install/setup.bash"
if [[ -f "$ROS_CHECK_DIR/ws/install/setup.bash" ]]; then
  # shellcheck disable=SC1091
  source "$ROS_CHECK_DIR/ws/install/setup.bash"
fi
export PATH="$ROS2_CACHE/venv/bin:$PATH"
_ros_check_site="$(echo "$_ros_check_repo"/.venv/lib/python3.*/site-packages)"
export PYTHONPATH="$PYTHONPATH:$_ros_check_site"
export RMW_IMPLEMENTATION=rmw_cyclonedds_cpp
# Keep the checks on this machine's loopback (cyclonedds.xml: unicast discovery, as lo
# often has no multicast in containers) and off other sessions' graphs.
export CYCLONEDDS_URI="file://$_ros_check_here/cyclonedds.xml"
unset ROS_LOCALHOST_ONLY
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-73}"
export MUJOCO_GL="${MUJOCO_GL:-egl}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"
unset _ros_check_here _ros_check_repo _ros_check_site
