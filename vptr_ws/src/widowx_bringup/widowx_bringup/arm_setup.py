"""Prepare the real WidowX before recording or running a policy (blocking script).

    ros2 run widowx_bringup arm_setup --robot-model wx250s --pose neutral --gripper open

Uses Interbotix's `InterbotixManipulatorXS`, whose API blocks and keeps its own global
node: right for a one-shot script, wrong for the timer-driven nodes (which talk to the
driver over its command topics). Steps: move slowly to the requested pose (home, sleep,
or Bridge's neutral joints), open/close the gripper, then set the arm's motor profile to
Bridge's controller convention (time-based, 0.25 s moving time, 0.1 s acceleration) so the
5 Hz joint goals of the policy node are followed the way the training data was collected.
The xsarm_control launch with config/modes.yaml sets the same profile at start-up; this
re-applies it after the slow move changed it.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from vptr_training.robot.kinematics import WidowXKinematics

BRIDGE_MOVING_TIME = 0.25    # s
BRIDGE_ACCEL_TIME = 0.1      # s
POSES = ('neutral', 'home', 'sleep', 'none')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='arm_setup', description=__doc__.split('\n\n')[0])
    parser.add_argument('--robot-model', default='wx250s', choices=('wx250s', 'wx250'))
    parser.add_argument('--robot-name', default='', help='driver namespace (default: model)')
    parser.add_argument('--pose', default='neutral', choices=POSES,
                        help="where to move: Bridge's neutral joints, Interbotix home or sleep")
    parser.add_argument('--gripper', default='open', choices=('open', 'close', 'none'))
    parser.add_argument('--moving-time', type=float, default=2.0,
                        help='seconds for the move to the pose (slow and safe)')
    parser.add_argument('--no-bridge-profile', action='store_true',
                        help='leave the motor profile as the move left it')
    return parser


def run_setup(bot: Any, args: argparse.Namespace) -> list[str]:
    """The setup sequence on an InterbotixManipulatorXS-like `bot`; returns what it did."""
    done = []
    accel = max(0.1, args.moving_time / 4.0)
    if args.pose == 'neutral':
        neutral = WidowXKinematics(args.robot_model).neutral
        bot.arm.set_joint_positions([float(v) for v in neutral], moving_time=args.moving_time,
                                    accel_time=accel)
        done.append('moved to the neutral joints')
    elif args.pose == 'home':
        bot.arm.go_to_home_pose(moving_time=args.moving_time, accel_time=accel)
        done.append('moved to the home pose')
    elif args.pose == 'sleep':
        bot.arm.go_to_sleep_pose(moving_time=args.moving_time, accel_time=accel)
        done.append('moved to the sleep pose')
    if args.gripper == 'open':
        bot.gripper.release()
        done.append('opened the gripper')
    elif args.gripper == 'close':
        bot.gripper.grasp()
        done.append('closed the gripper')
    if not args.no_bridge_profile:
        bot.arm.set_trajectory_time(moving_time=BRIDGE_MOVING_TIME,
                                    accel_time=BRIDGE_ACCEL_TIME)
        done.append(f'set the motor profile to {BRIDGE_MOVING_TIME} s / '
                    f'{BRIDGE_ACCEL_TIME} s')
    return done


def main(argv: list[str] | None = None) -> int:
    # ros2 run appends --ros-args ...: keep only our own options.
    args, _ = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    from interbotix_xs_modules.xs_robot.arm import InterbotixManipulatorXS
    bot = InterbotixManipulatorXS(robot_model=args.robot_model, group_name='arm',
                                  gripper_name='gripper',
                                  robot_name=args.robot_name or args.robot_model)
    try:
        for line in run_setup(bot, args):
            print(line)
    finally:
        bot.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
