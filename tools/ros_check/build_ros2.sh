#!/usr/bin/env bash
# Build the minimal ROS 2 Humble that `make ros-check` runs against, once, into a cache
# folder outside the repository (default /root/ros2_humble; override with ROS2_CACHE):
#
#   <cache>/src      upstream sources at the commits of tools/ros_check/humble.repos
#   <cache>/vendor   sources a vendor package would download at build time (libyaml)
#   <cache>/venv     Debian's python3 + apt's python3-* packages (--system-site-packages)
#                    + numpy and colcon from PyPI
#   <cache>/build, install (merge-install), log
#
# The sources must be in place first (the build machine has no GitHub access):
#   python3 tools/ros_check/place_sources.py --mirror /work/.mirror   # from fetched mirrors
#   python3 tools/ros_check/place_sources.py --remote                 # with internet
# Idempotent: when <cache>/install/ros_check.stamp matches the pinned commits of
# humble.repos and the package lists, it only prints where the install is and exits.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ROS2_CACHE:-/root/ros2_humble}"
JOBS="${ROS2_BUILD_JOBS:-2}"

# What the stack's nodes, launch files and tests use, and the CLI verbs of the checks.
PACKAGES=(
  ros_environment rclpy rmw_implementation rmw_cyclonedds_cpp
  launch launch_xml launch_yaml launch_ros launch_testing launch_testing_ros
  ros2cli ros2launch ros2topic ros2service ros2param ros2run ros2node ros2pkg ros2interface
  std_msgs sensor_msgs std_srvs diagnostic_msgs geometry_msgs interbotix_xs_msgs
)
# Stage 2 (ROS2_SKIP_ROSBAG2=1 skips it): `ros2 bag record` with the mcap storage. Its
# failure does not fail the script: the core stays usable and ros-check says what it skips.
ROSBAG2_PACKAGES=(ros2bag rosbag2_py rosbag2_transport rosbag2_storage_mcap)
# Test-only packages that --packages-up-to would pull in through <test_depend>, and the
# sqlite3 storage (its vendor package downloads sqlite; mcap is the storage we record with).
IGNORED=(test_msgs ros2cli_test_interfaces rosbag2_test_common rosbag2_storage_mcap_testdata
         rosbag2_storage_default_plugins sqlite3_vendor)
# Debian packages the build needs (python3-numpy must NOT be installed, see below).
DEBS=(cmake g++ make git pkg-config python3-dev python3-venv python3-pip libssl-dev
      libyaml-dev libacl1-dev pybind11-dev libspdlog-dev libfmt-dev python3-empy
      python3-lark python3-catkin-pkg python3-yaml python3-netifaces python3-psutil
      python3-setuptools python3-packaging python3-pytest python3-argcomplete
      libzstd-dev libtinyxml2-dev libconsole-bridge-dev libyaml-cpp-dev)

# The stamp changes with the pinned commits and the package lists, nothing else.
STAMP="$( { grep -E '^ +version:' "$HERE/humble.repos"
            echo "${PACKAGES[*]} | ${ROSBAG2_PACKAGES[*]} | ${IGNORED[*]}"; } |
          sha256sum | cut -c1-16)"
STAMP_FILE="$CACHE/install/ros_check.stamp"
if [[ -f "$STAMP_FILE" && "$(head -1 "$STAMP_FILE")" == "$STAMP" ]]; then
  echo "ros2 humble: already built in $CACHE/install ($(sed -n 2p "$STAMP_FILE"))"
  exit 0
fi

missing=()
for deb in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q 'install ok installed' || missing+=("$deb")
done
if ((${#missing[@]})); then
  echo "error: missing Debian packages: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 2
fi
# Debian's python3-numpy (1.24) puts its headers in /usr/include/python3.11/numpy, where
# rosidl_generator_py would compile the message extensions against NumPy 1.x; the
# project's venv runs NumPy 2.x. Build against the pinned NumPy 2 from PyPI instead.
if [[ -e /usr/include/python3.11/numpy ]]; then
  echo "error: /usr/include/python3.11/numpy exists (Debian python3-numpy); remove it" \
       "(apt-get remove python3-numpy) so the messages build against NumPy 2" >&2
  exit 2
fi
if ! python3 "$HERE/place_sources.py" --check --cache "$CACHE"; then
  echo "error: sources not in place; run tools/ros_check/place_sources.py first" \
       "(--mirror DIR or --remote)" >&2
  exit 2
fi

NUMPY_PIN="$(grep -E '^numpy==' "$REPO_ROOT/requirements.txt")"
if [[ ! -x "$CACHE/venv/bin/colcon" ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$CACHE/venv"
  "$CACHE/venv/bin/python" -m pip install -q "$NUMPY_PIN" colcon-common-extensions==0.3.0
fi

# libyaml_vendor clones https://github.com/yaml/libyaml.git: send git to the local copy.
cat > "$CACHE/gitconfig" <<EOF
[url "file://$CACHE/vendor/yaml+libyaml"]
	insteadOf = https://github.com/yaml/libyaml.git
[advice]
	detachedHead = false
EOF
export GIT_CONFIG_GLOBAL="$CACHE/gitconfig"
export PATH="$CACHE/venv/bin:$PATH" VIRTUAL_ENV="$CACHE/venv"
export MAKEFLAGS="-j$JOBS" CMAKE_BUILD_PARALLEL_LEVEL="$JOBS"
unset AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH PYTHONPATH

PY="$CACHE/venv/bin/python3"
XS_MSGS=src/Interbotix+interbotix_ros_core/interbotix_ros_xseries/interbotix_xs_msgs
COMMON_ARGS=(--base-paths src "$XS_MSGS" --build-base build --install-base install
             --merge-install --packages-ignore "${IGNORED[@]}" --parallel-workers "$JOBS"
             --event-handlers console_cohesion- summary+)
CMAKE_ARGS=(-DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release "-DPYTHON_EXECUTABLE=$PY"
            "-DPython3_EXECUTABLE=$PY")
cd "$CACHE"
mkdir -p install

# interbotix_ros_xseries carries a COLCON_IGNORE upstream: its message package is named
# as a base path of its own.
start=$(date +%s)
echo "ros2 humble: building ${PACKAGES[*]} and their dependencies in $CACHE" \
     "(nice 19, $JOBS workers; logs in $CACHE/log)"
nice -n 19 colcon build "${COMMON_ARGS[@]}" --packages-up-to "${PACKAGES[@]}" \
  --cmake-args "${CMAKE_ARGS[@]}" -DENABLE_SHM=OFF
core=$(( $(date +%s) - start ))
echo "ros2 humble: core built in $(( core / 60 )) min $(( core % 60 )) s"

rosbag2="skipped (ROS2_SKIP_ROSBAG2=1)"
if [[ "${ROS2_SKIP_ROSBAG2:-0}" != 1 ]]; then
  # shared_queues_vendor downloads two GitHub zip archives (ExternalProject URL): make them
  # from the vendored trees and point its CMakeLists.txt at them (an edit of the cache's
  # source copy; `git -C src/ros2+rosbag2 diff` shows it).
  for name in readerwriterqueue concurrentqueue; do
    commit=$(grep -A3 "cameron314/$name:" "$HERE/humble.repos" | sed -n 's/ *version: //p')
    zip="$CACHE/vendor/$name-$commit.zip"
    [[ -f "$zip" ]] || git -C "$CACHE/vendor/cameron314+$name" archive --format=zip \
      --prefix="$name-$commit/" -o "$zip" "$commit"
    sed -i -e "s#URL https://github.com/cameron314/$name/archive/$commit.zip#URL file://$zip#" \
      src/ros2+rosbag2/shared_queues_vendor/CMakeLists.txt
  done
  sed -i -e '/URL_MD5/d' src/ros2+rosbag2/shared_queues_vendor/CMakeLists.txt
  start2=$(date +%s)
  echo "ros2 humble: building ${ROSBAG2_PACKAGES[*]} (rclcpp, rosbag2 with mcap)"
  # mcap_vendor uses FetchContent: its sources are named directly.
  if nice -n 19 colcon build "${COMMON_ARGS[@]}" --packages-up-to "${ROSBAG2_PACKAGES[@]}" \
      --cmake-args "${CMAKE_ARGS[@]}" \
      "-DFETCHCONTENT_SOURCE_DIR_MCAP=$CACHE/vendor/foxglove+mcap" \
      "-DFETCHCONTENT_SOURCE_DIR_LZ4=$CACHE/vendor/lz4+lz4"; then
    t=$(( $(date +%s) - start2 ))
    rosbag2="$(( t / 60 )) min $(( t % 60 )) s"
  else
    rosbag2="FAILED (see $CACHE/log/latest_build)"
  fi
  echo "ros2 humble: rosbag2 $rosbag2"
fi
total=$(( $(date +%s) - start ))
summary="last build: stage 1 (core) $(( core / 60 )) min $(( core % 60 )) s, stage 2 (rosbag2) $rosbag2"
echo "$summary" > "$CACHE/install/ros_check.last_build"
if [[ "$rosbag2" == FAILED* ]]; then
  # No stamp: the next run tries again (colcon rebuilds only what is missing).
  echo "ros2 humble: core usable, rosbag2 failed ($summary)" >&2
  exit 0
fi
printf '%s\n%s\n' "$STAMP" "$summary" > "$STAMP_FILE"
echo "ros2 humble: done in $(( total / 60 )) min $(( total % 60 )) s ($STAMP_FILE)"
