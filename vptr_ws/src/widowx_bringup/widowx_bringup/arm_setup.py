"""Prepare the real WidowX before recording or running a policy (blocking script).

    ros2 run widowx_bringup arm_setup --robot-model wx250s --pose neutral --gripper open

Uses Interbotix's `InterbotixManipulatorXS` (humble toolboxes, the Python-ROS 2 API of
April 2024: `robot_startup()` spins its node in a background thread, which the gripper's
limit timer needs, and `robot_shutdown()` ends it), whose API blocks: right for a one-shot
script, wrong for the timer-driven nodes (which talk to the driver over its command topics).

Steps: write a slow motor profile (--moving-time, default 2 s), move to the requested pose
(home, sleep, or Bridge's neutral joints), open/close the gripper and zero its PWM, then
write the arm's motor profile back to Bridge's controller convention (time-based, 0.25 s
moving time, 0.1 s acceleration; the profile config/modes.yaml gives the driver at start-up),
so the 5 Hz joint goals of the policy node are followed the way the training data was
collected.

Why the profile is written explicitly: the arm module caches a moving/acceleration time
(its constructor's, not what the motors hold) and writes the Profile_Velocity and
Profile_Acceleration registers only when a requested value differs from that cache. Built
with its default 2 s while the driver had set 0.25 s, a "2 s" move would run at 0.25 s.
The module also refuses a joint goal beyond the joint limits or faster than the velocity
limits at its cached moving time (set_joint_positions returns False); that is an error here.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from vptr_training.robot.kinematics import DEFAULT_ROBOT_MODEL, ROBOT_MODELS, WidowXKinematics

BRIDGE_MOVING_TIME = 0.25    # s, Profile_Velocity 250 in config/modes.yaml
BRIDGE_ACCEL_TIME = 0.1      # s, Profile_Acceleration 100 in config/modes.yaml
GRIPPER_DELAY = 1.5          # s the gripper is driven before its PWM is zeroed
POSES = ('neutral', 'home', 'sleep', 'none')


class SetupError(Exception):
    """The arm refused a step (reported as `error: ...`, exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='arm_setup', description=__doc__.split('\n\n')[0])
    parser.add_argument('--robot-model', default=DEFAULT_ROBOT_MODEL, choices=ROBOT_MODELS)
    parser.add_argument('--robot-name', default='', help='driver namespace (default: model)')
    parser.add_argument('--pose', default='neutral', choices=POSES,
                        help="where to move: Bridge's neutral joints, Interbotix home or sleep")
    parser.add_argument('--gripper', default='open', choices=('open', 'close', 'none'))
    parser.add_argument('--moving-time', type=float, default=2.0,
                        help='seconds for the move to the pose (slow and safe)')
    parser.add_argument('--no-bridge-profile', action='store_true',
                        help='leave the motor profile as the move left it')
    return parser


def write_profile(arm: Any, moving_time: float, accel_time: float) -> None:
    """Write Profile_Velocity / Profile_Acceleration whatever the arm module has cached.

    `set_trajectory_time` skips a register whose value equals the module's cached one, and
    the cache starts from the constructor's arguments, not from the motors: forgetting it
    makes both writes happen."""
    arm.moving_time = None
    arm.accel_time = None
    arm.set_trajectory_time(moving_time=moving_time, accel_time=accel_time)


def run_setup(bot: Any, args: argparse.Namespace) -> list[str]:
    """The setup sequence on an InterbotixManipulatorXS-like `bot`; returns what it did.
    Raises SetupError when the arm module refuses the move."""
    done = []
    # Time-based profile: the acceleration time may be at most half the moving time.
    accel = min(max(0.1, args.moving_time / 4.0), args.moving_time / 2.0)
    try:
        if args.pose != 'none':
            # Before the move: the module checks the goal's speed against its cached moving time.
            write_profile(bot.arm, args.moving_time, accel)
            done.append(f'set the motor profile to {args.moving_time} s / {accel} s')
        if args.pose == 'neutral':
            neutral = WidowXKinematics(args.robot_model).neutral
            if not bot.arm.set_joint_positions([float(v) for v in neutral],
                                               moving_time=args.moving_time, accel_time=accel):
                raise SetupError('the Interbotix arm module refused the move to the neutral '
                                 'joints (outside the joint limits, or faster than the velocity '
                                 f'limits in {args.moving_time} s): the arm did not move')
            done.append('moved to the neutral joints')
        elif args.pose == 'home':
            bot.arm.go_to_home_pose(moving_time=args.moving_time, accel_time=accel)
            done.append('moved to the home pose')
        elif args.pose == 'sleep':
            bot.arm.go_to_sleep_pose(moving_time=args.moving_time, accel_time=accel)
            done.append('moved to the sleep pose')
        if args.gripper != 'none':
            if args.gripper == 'open':
                bot.gripper.release(delay=GRIPPER_DELAY)
            else:
                bot.gripper.grasp(delay=GRIPPER_DELAY)
            # PWM mode: an effort keeps pushing until replaced; leave none behind.
            bot.core.robot_write_joint_command(bot.gripper.gripper_name, 0.0)
            done.append(f"{'opened' if args.gripper == 'open' else 'closed'} the gripper "
                        '(PWM zeroed)')
    finally:
        # Also after a refused move: the policy node needs Bridge's profile back.
        if not args.no_bridge_profile:
            write_profile(bot.arm, BRIDGE_MOVING_TIME, BRIDGE_ACCEL_TIME)
            done.append(f'set the motor profile to {BRIDGE_MOVING_TIME} s / '
                        f'{BRIDGE_ACCEL_TIME} s')
    return done


def main(argv: list[str] | None = None) -> int:
    # ros2 run appends --ros-args ...: keep only our own options.
    args, _ = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    from interbotix_common_modules.common_robot.robot import robot_shutdown, robot_startup
    from interbotix_xs_modules.xs_robot.arm import InterbotixManipulatorXS
    # Built with the profile the driver was started with (config/modes.yaml), so that the
    # module's cache starts out true.
    bot = InterbotixManipulatorXS(robot_model=args.robot_model, group_name='arm',
                                  gripper_name='gripper',
                                  robot_name=args.robot_name or args.robot_model,
                                  moving_time=BRIDGE_MOVING_TIME,
                                  accel_time=BRIDGE_ACCEL_TIME)
    robot_startup()
    try:
        for line in run_setup(bot, args):
            print(line)
    except SetupError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    finally:
        robot_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
