"""Latency of the ROS control path, without ROS: camera message -> joint command.

Measures, on this machine's CPU:
- control step: decode a 640x480 rgb8 sensor_msgs/Image (field-level, as the policy node
  does) + PolicyController.step (Policy.act with squash_resize, EE target, IK, safety),
  for a demo-sized checkpoint (random weights of the demo_finetune config; actor and
  q-rerank modes);
- IK alone (WidowXKinematics.ik seeded with joints near the solution, as in control).
Prints p50 / p99 in milliseconds.
"""
from __future__ import annotations

from pathlib import Path
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'vptr_ws' / 'src' / 'vptr_policy' / 'test'))

from checkpoints import make_random_checkpoint  # noqa: E402, I100
from vptr_policy.control import PolicyController  # noqa: E402
from vptr_training.policy import load_policy  # noqa: E402
from vptr_training.robot import conventions  # noqa: E402
from vptr_training.robot.kinematics import WidowXKinematics  # noqa: E402
from vptr_training.robot.messages import image_msg_to_rgb, rgb_to_image_fields  # noqa: E402
from widowx_bringup.arm_control import ControllerConfig  # noqa: E402

TASK = 'put_carrot_on_plate'
STEPS = 200


def percentiles(samples: list[float]) -> str:
    ms = np.asarray(samples) * 1e3
    return f'p50 {np.percentile(ms, 50):7.2f} ms   p99 {np.percentile(ms, 99):7.2f} ms'


def bench_control(checkpoint: Path, mode: str, kin: WidowXKinematics) -> list[float]:
    policy = load_policy(checkpoint, mode=mode)
    ctrl = PolicyController(policy, kin, ControllerConfig(task=TASK))
    ctrl.start()
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    msg = SimpleNamespace(**rgb_to_image_fields(frame))
    q = kin.neutral.copy()
    samples = []
    for i in range(STEPS + 10):
        t0 = time.perf_counter()
        image = image_msg_to_rgb(msg)
        result = ctrl.step(image, 100.0, q, 0.035, 100.0, 100.0)
        elapsed = time.perf_counter() - t0
        if result.arm_cmd is not None:
            q = result.arm_cmd
        if i >= 10:                       # warm-up steps excluded
            samples.append(elapsed)
    return samples


def bench_ik(kin: WidowXKinematics) -> tuple[list[float], float]:
    rng = np.random.default_rng(1)
    samples, solved = [], 0
    while len(samples) < 1000:
        q_true = np.clip(kin.neutral + rng.uniform(-0.6, 0.6, kin.num_joints),
                         kin.lower, kin.upper)
        T = kin.fk(q_true)
        if not np.all((T[:3, 3] >= conventions.WORKSPACE_LOW)
                      & (T[:3, 3] <= conventions.WORKSPACE_HIGH)):
            continue
        seed = q_true + rng.uniform(-0.1, 0.1, kin.num_joints)
        t0 = time.perf_counter()
        _, ok = kin.ik(T, seed)
        samples.append(time.perf_counter() - t0)
        solved += ok
    return samples, solved / len(samples)


def main() -> int:
    torch.set_num_threads(1)
    kin = WidowXKinematics('wx250s')
    print(f'bench_ros: torch threads {torch.get_num_threads()}, {STEPS} control steps')
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = make_random_checkpoint(tmp, [TASK, 'open_drawer'])
        for mode in conventions.ACTION_MODES:
            print(f'control step (640x480 rgb8 -> joint command), {mode:8s}: '
                  f'{percentiles(bench_control(checkpoint, mode, kin))}')
    samples, rate = bench_ik(kin)
    print(f'IK (seed within 0.1 rad), 1000 poses: {percentiles(samples)}   '
          f'solved {rate:.1%}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
