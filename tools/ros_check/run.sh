#!/usr/bin/env bash
# `make ros-check`: run the stack's nodes and launch files under a real ROS 2 Humble.
#
#  1. build the minimal ROS 2 Humble once (build_ros2.sh; skipped when its cache is built);
#  2. build vptr_ws (vptr_training, vptr_policy, widowx_bringup) against it with colcon,
#     without --symlink-install, into $ROS_CHECK_DIR/ws (outside the repository);
#  3. train a checkpoint with `vptr demo --preset micro` (once; reused);
#  4. run the launch_testing tests of this folder with `launch_test`:
#       test_sim_policy.launch.py  launch/sim.launch.py + the policy node (start, 5 Hz
#                                  commands within limits, stop, its parameters)
#       test_policy_held.launch.py the policy node alone, held ticks after ~/start
#       test_record.launch.py      launch/record.launch.py -> bag -> `vptr data rosbag`
#                                  (only if rosbag2 + mcap were built; else SKIPPED, said)
# Exit status: 0 when every test that ran passed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export ROS2_CACHE="${ROS2_CACHE:-/root/ros2_humble}"
export ROS_CHECK_DIR="${ROS_CHECK_DIR:-/tmp/vptr_ros_check}"
TEST_TIMEOUT="${ROS_CHECK_TEST_TIMEOUT:-900}"
mkdir -p "$ROS_CHECK_DIR"
cd "$REPO"

say() { printf '\n[ros-check] %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }

say "1/4 ROS 2 Humble from source in $ROS2_CACHE"
"$HERE/build_ros2.sh" || fail "building ROS 2 (see $ROS2_CACHE/log/latest_build)"

# shellcheck disable=SC1091
source "$HERE/env.sh" || fail "no ROS 2 environment"

say "2/4 colcon build of vptr_ws against it (into $ROS_CHECK_DIR/ws)"
# Build-time Python is ROS's alone (its setuptools); .venv joins at run time (env.sh).
( unset PYTHONPATH
  # shellcheck disable=SC1091
  source "$ROS2_CACHE/install/setup.bash"
  nice -n 10 colcon --log-base "$ROS_CHECK_DIR/ws/log" build --base-paths vptr_ws/src \
    --build-base "$ROS_CHECK_DIR/ws/build" --install-base "$ROS_CHECK_DIR/ws/install" \
    --packages-select vptr_training vptr_policy widowx_bringup \
    --event-handlers console_cohesion- summary+ ) || fail "colcon build of vptr_ws"
# shellcheck disable=SC1091
source "$HERE/env.sh"

say "3/4 a trained checkpoint"
if [[ -z "${VPTR_ROS_CHECK_CHECKPOINT:-}" ]]; then
  micro="$ROS_CHECK_DIR/micro"
  VPTR_ROS_CHECK_CHECKPOINT="$micro/runs/seed0/vptr_finetune"
  if [[ ! -d "$VPTR_ROS_CHECK_CHECKPOINT" ]]; then
    echo "training one: .venv/bin/vptr demo --preset micro --out $micro"
    ( unset PYTHONPATH; nice -n 10 .venv/bin/vptr demo --preset micro --out "$micro" ) \
      > "$ROS_CHECK_DIR/micro.log" 2>&1 || fail "vptr demo --preset micro (see $ROS_CHECK_DIR/micro.log)"
  fi
fi
export VPTR_ROS_CHECK_CHECKPOINT VPTR_ROS_CHECK_TASK="${VPTR_ROS_CHECK_TASK:-put_corn_in_bowl}"
echo "checkpoint $VPTR_ROS_CHECK_CHECKPOINT (task $VPTR_ROS_CHECK_TASK)"

say "4/4 launch tests under the real ROS 2"
echo "what runs: ROS 2 $ROS_DISTRO built from source in $ROS2_CACHE" \
     "($(cat "$ROS2_CACHE/install/ros_check.last_build" 2>/dev/null))"
python3 "$HERE/versions.py"
python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import probe; print(probe.describe_ros())' \
  "$HERE" || fail "rclpy does not import"
echo "ros2 CLI: $(command -v ros2); launch_test: $(command -v launch_test)"

results=()
status=0
run_test() {  # name file
  local name="$1" file="$2" log="$ROS_CHECK_DIR/results/$1.log"
  mkdir -p "$ROS_CHECK_DIR/results"
  say "launch_test $file"
  timeout --signal=INT --kill-after=30 "$TEST_TIMEOUT" launch_test "$file" \
    --junit-xml "$ROS_CHECK_DIR/results/$name.xml" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if [[ $rc == 0 ]]; then
    results+=("PASSED   $name")
  else
    results+=("FAILED   $name (exit $rc; log $log)")
    status=1
  fi
}

# ros2launch parses the top-level launch files and lists their arguments.
for f in launch/sim.launch.py launch/record.launch.py launch/robot.launch.py; do
  if ros2 launch "$f" --show-args > "$ROS_CHECK_DIR/show_args.log" 2>&1; then
    results+=("PASSED   ros2 launch $f --show-args")
  else
    results+=("FAILED   ros2 launch $f --show-args: $(tail -1 "$ROS_CHECK_DIR/show_args.log")")
    status=1
  fi
done

run_test sim_policy "$HERE/test_sim_policy.launch.py"
run_test policy_held "$HERE/test_policy_held.launch.py"
if ros2 pkg prefix rosbag2_storage_mcap > /dev/null 2>&1 && ros2 bag --help > /dev/null 2>&1; then
  run_test record "$HERE/test_record.launch.py"
else
  why="$(cat "$ROS2_CACHE/install/ros_check.last_build" 2>/dev/null || echo 'not built')"
  results+=("SKIPPED  record: rosbag2 + mcap storage not in $ROS2_CACHE/install ($why)")
fi

say "summary (ROS 2 $ROS_DISTRO from source, $RMW_IMPLEMENTATION; commits in tools/ros_check/humble.repos)"
printf '  %s\n' "${results[@]}"
exit $status
