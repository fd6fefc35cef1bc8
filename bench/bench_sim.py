"""Simulated WidowX speed: env step (physics + 128 px render), render alone, data generation.

Target (the lead's brief): env step <= 10 ms with shadows off at 128x128. Software GL
(llvmpipe under EGL) is what CI and most laptops without a GPU use; numbers are medians.
"""
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

from vptr_training.robot.image import squash_resize  # noqa: E402
from vptr_training.sim import generate  # noqa: E402
from vptr_training.sim.env import WidowXSimEnv  # noqa: E402
from vptr_training.sim.experts import make_expert  # noqa: E402


class Timing:
    """Median wall time and median CPU time (all threads of this process) in ms.

    On a shared, oversubscribed machine wall time includes waiting for a core; the CPU
    time is what one step costs when it has a core to itself."""

    def __init__(self, wall: list[float], cpu: list[float]) -> None:
        self.wall = 1000.0 * statistics.median(wall)
        self.cpu = 1000.0 * statistics.median(cpu)

    def __str__(self) -> str:
        return f'median {self.wall:.2f} ms wall, {self.cpu:.2f} ms CPU'


def _median_ms(fn, n: int) -> Timing:
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return Timing(wall, cpu)


def bench_env(render: bool, steps: int = 150) -> Timing:
    env = WidowXSimEnv('put_carrot_on_plate', image_size=128, render=render,
                       terminate_on_success=False, max_episode_steps=10_000)
    expert = make_expert(env)
    obs, _ = env.reset(seed=0)
    state = {'obs': obs}

    def one_step():
        obs, _, _, _, _ = env.step(expert(state['obs']))
        state['obs'] = obs
        if env.steps % 30 == 0:
            state['obs'], _ = env.reset(seed=env.steps)
    one_step()   # warm-up (GL context, first frame)
    return _median_ms(one_step, steps)


def main() -> int:
    print(f'MUJOCO_GL={os.environ["MUJOCO_GL"]}')
    print(f'load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs')
    print(f'env step, physics + IK + 128x128 observation: {bench_env(render=True)} '
          f'(target <= 10 ms)')
    print(f'env step, physics + IK only (render=False):   {bench_env(render=False)}')
    env = WidowXSimEnv('put_cube_in_bowl', image_size=128)
    env.reset(seed=0)
    obs_render = _median_ms(lambda: squash_resize(
        env.render_camera(env.obs_width, env.obs_height), 128), 100)
    print(f'render only, {env.obs_width}x{env.obs_height} + squash to 128: {obs_render}')
    print(f'render only, 640x480 camera frame: '
          f'{_median_ms(lambda: env.render_camera(640, 480), 30)}')
    print(f'physics only, 0.2 s (one control step): {_median_ms(lambda: env.advance(0.2), 50)}')

    with tempfile.TemporaryDirectory() as tmp:
        n = 6
        for size in ((320, 240), (640, 480)):
            t = time.perf_counter()
            summary = generate.write_bridge_raw(
                f'{tmp}/raw{size[0]}', ['put_cube_on_plate', 'open_drawer'], n // 2,
                frame_size=size, seed=1)
            dt = time.perf_counter() - t
            print(f'Bridge raw generation at {size[0]}x{size[1]}: {n / dt:.2f} episodes/s '
                  f'({summary["mean_length"]:.1f} steps mean, 1 worker)')
        t = time.perf_counter()
        generate.write_target_rosbags(f'{tmp}/bags', 'open_drawer', 2, frame_size=(320, 240))
        print(f'rosbag demo generation at 320x240: {2 / (time.perf_counter() - t):.2f} '
              f'demos/s')
        t = time.perf_counter()
        summary = generate.write_human_videos(f'{tmp}/videos', 4, frame_size=(320, 240))
        dt = time.perf_counter() - t
        print(f'human video generation at 320x240: {4 / dt:.2f} clips/s '
              f'({summary["frames"] / dt:.0f} frames/s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
