"""Benchmark: `vptr data video` throughput against ffmpeg, and converter peak memory.

(1) Throughput: the same mp4 files (640x480, 30000/1001 fps, 10 s each; 8 and 16 files)
    converted by `vptr data video --workers 2 --fps 5 --size 128`, and decoded by the
    ffmpeg binary of imageio-ffmpeg to raw 128x128 RGB (`-f rawvideo -pix_fmt rgb24` into
    a drained pipe, two files at a time) with `-vf fps=5,scale=128:128` (the converter's
    output) and with `-vf scale=128:128` (every frame). Figures are source frames per
    second of wall clock, best of two interleaved runs; "marginal" divides the extra
    frames of the 16-file corpus by the extra seconds, which cancels process start-up.
(2) Peak memory: `vptr data bridge` (raw tree, 640x480 JPEGs) and `vptr data video` on a
    1x and a 10x input, each run as a child process; the peak resident memory of the
    child's process tree is sampled with psutil, and the largest single process's peak
    comes from getrusage. Flat peaks = memory does not grow with the input size.
All inputs are generated in a temporary folder. Prints measured figures; exits 0.
"""
from __future__ import annotations

import os
from pathlib import Path
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import psutil

PY = sys.executable
VIDEO_W, VIDEO_H, VIDEO_FPS, VIDEO_SECONDS = 640, 480, 30000 / 1001, 10
CLI = [PY, '-m', 'vptr_training.cli']


def make_video(path: Path, seconds: float = VIDEO_SECONDS) -> int:
    n = int(seconds * VIDEO_FPS)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), VIDEO_FPS,
                             (VIDEO_W, VIDEO_H))
    yy, xx = np.mgrid[0:VIDEO_H, 0:VIDEO_W]
    base = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=2).astype(np.uint8)
    for i in range(n):
        writer.write(np.roll(base, 4 * i, axis=1))
    writer.release()
    return n


def video_corpus(root: Path, copies: int, per_task: int = 2) -> int:
    """`copies` videos (copies of one generated file) in task folders; returns frames."""
    root.mkdir(parents=True)
    master = root.parent / f'{root.name}_master.mp4'
    frames = make_video(master)
    for k in range(copies):
        folder = root / f'task{k // per_task}'
        folder.mkdir(exist_ok=True)
        shutil.copy(master, folder / f'clip{k}.mp4')
    master.unlink()
    return frames * copies


def bridge_tree(root: Path, trajectories: int, steps: int = 25) -> None:
    """Raw Bridge trajectories with 640x480 JPEGs (distinct images per step)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:480, 0:640]
    base = np.stack([xx % 256, yy % 256, (xx * yy) % 256], axis=2).astype(np.uint8)
    jpegs = [cv2.imencode('.jpg', np.roll(base, 8 * t, axis=0))[1].tobytes()
             for t in range(steps + 1)]
    for k in range(trajectories):
        traj = root / f'task{k % 4}' / '00' / '2022-01-01_00-00-00' / 'raw' / \
            'traj_group0' / f'traj{k}'
        (traj / 'images0').mkdir(parents=True)
        for t, data in enumerate(jpegs):
            (traj / 'images0' / f'im_{t}.jpg').write_bytes(data)
        with open(traj / 'obs_dict.pkl', 'wb') as f:
            pickle.dump({'full_state': rng.normal(size=(steps + 1, 7)) * 0.1}, f)
        with open(traj / 'policy_out.pkl', 'wb') as f:
            pickle.dump([{'actions': a} for a in rng.normal(size=(steps, 7)) * 0.01], f)


def run_measured(cmd: list[str]) -> tuple[float, float, float, float]:
    """(wall seconds, peak RSS of the process tree MiB, largest single-process peak MiB,
    CPU seconds (user + sys) of the whole process tree)."""
    env = dict(os.environ, VPTR_NO_PROGRESS='1')
    # run through an intermediary so that RUSAGE_CHILDREN covers only this command
    probe = ('import resource, subprocess, sys; '
             'rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); '
             'u = resource.getrusage(resource.RUSAGE_CHILDREN); '
             'print(u.ru_maxrss, u.ru_utime + u.ru_stime); sys.exit(rc)')
    start = time.monotonic()
    proc = subprocess.Popen([PY, '-c', probe, *cmd], stdout=subprocess.PIPE, env=env)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [parent] + parent.children(recursive=True):
                if p.pid != proc.pid:          # the intermediary itself is not counted
                    total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        peak = max(peak, total)
        time.sleep(0.05)
    seconds = time.monotonic() - start
    out = proc.stdout.read().decode().strip().splitlines()
    if proc.returncode != 0:
        raise SystemExit(f'command failed ({proc.returncode}): {" ".join(cmd)}')
    maxrss, cpu = out[-1].split()
    return seconds, peak / 2 ** 20, int(maxrss) / 1024, float(cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ffmpeg_seconds(files: list[Path], filters: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ffmpeg over the files, two processes at a time."""
    import imageio_ffmpeg
    exe = imageio_ffmpeg.get_ffmpeg_exe()

    def start(path: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [exe, '-v', 'error', '-i', str(path), '-vf', filters, '-f',
             'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], stdout=subprocess.PIPE)

    t0, cpu0 = time.monotonic(), _children_cpu()
    pending = list(files)
    running: list[subprocess.Popen] = []
    while pending or running:
        while pending and len(running) < 2:          # two at a time, like --workers 2
            running.append(start(pending.pop(0)))
        proc = running.pop(0)
        while proc.stdout.read(1 << 20):
            pass
        proc.wait()
    return time.monotonic() - t0, _children_cpu() - cpu0


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix='bench_data_'))
    try:
        print('== video conversion throughput (640x480 mp4v, 29.97 fps -> 5 fps, 128 px; '
              'best of 2) ==')
        small = video_corpus(tmp / 'videos_small', 8)
        big = video_corpus(tmp / 'videos_big', 16)
        wall: dict[tuple[str, int], float] = {}
        cpu: dict[tuple[str, int], float] = {}
        runners = {
            # the same output as the converter: 5 fps, 128x128 RGB
            'ffmpeg fps=5,scale': lambda files, _: ffmpeg_seconds(files, 'fps=5,scale=128:128'),
            # every frame decoded and scaled to raw frames
            'ffmpeg scale (all frames)': lambda files, _: ffmpeg_seconds(files, 'scale=128:128'),
            'vptr data video --workers 2': lambda _, out: run_measured(
                CLI + ['data', 'video', str(out[0]), str(out[1]), '--workers', '2'])[::3],
        }
        for rep in range(2):      # interleaved, best of two: the machine is shared
            for name, frames in (('videos_small', small), ('videos_big', big)):
                files = sorted((tmp / name).rglob('*.mp4'))
                for label, runner in runners.items():
                    secs, cpu_secs = runner(files, (tmp / name, tmp / f'store_{name}_{rep}'))
                    key = (label, frames)
                    wall[key] = min(wall.get(key, float('inf')), secs)
                    cpu[key] = min(cpu.get(key, float('inf')), cpu_secs)
        head_wall, head_cpu = f'wall, {big} frames', f'CPU, {big} frames'
        print(f'{"":28s} {head_wall:>22s} {head_cpu:>22s} {"CPU marginal":>14s}')
        ours = 'vptr data video --workers 2'
        marginal = {}
        for label in runners:
            d_cpu = cpu[(label, big)] - cpu[(label, small)]
            marginal[label] = (big - small) / d_cpu if d_cpu > 0 else float('nan')
            print(f'{label:28s} {big / wall[(label, big)]:8.0f} f/s ({wall[(label, big)]:4.1f} s)'
                  f' {big / cpu[(label, big)]:8.0f} f/cpu-s ({cpu[(label, big)]:4.1f} s)'
                  f' {marginal[label]:8.0f} f/cpu-s')
        for label in runners:
            if label != ours:
                print(f'ratio vptr / {label}: wall {wall[(label, big)] / wall[(ours, big)]:.2f}x, '
                      f'CPU {cpu[(label, big)] / cpu[(ours, big)]:.2f}x, CPU marginal '
                      f'{marginal[ours] / marginal[label]:.2f}x (start-up excluded)')
        print('(CPU time is the robust figure on a shared machine; marginal = extra frames of '
              f'the {big}-frame corpus over the {small}-frame one / extra CPU seconds)')
        shutil.rmtree(tmp / 'videos_small')
        shutil.rmtree(tmp / 'videos_big')

        print('\n== converter peak memory, 1x vs 10x input (--workers 2) ==')
        print(f'{"converter":28s} {"input":>14s} {"seconds":>8s} {"tree peak MiB":>14s} '
              f'{"max proc MiB":>13s}')
        for scale in (1, 10):
            src = tmp / f'bridge{scale}'
            bridge_tree(src, 4 * scale)
            secs, tree, single, _ = run_measured(
                CLI + ['data', 'bridge', str(src), str(tmp / f'bstore{scale}'), '--workers', '2'])
            print(f'{"bridge raw (640x480 jpg)":28s} {f"{4 * scale} trajs":>14s} '
                  f'{secs:8.1f} {tree:14.0f} {single:13.0f}')
            shutil.rmtree(src)
        for scale in (1, 10):
            src = tmp / f'video{scale}'
            video_corpus(src, 2 * scale)
            secs, tree, single, _ = run_measured(
                CLI + ['data', 'video', str(src), str(tmp / f'vmem{scale}'), '--workers', '2'])
            print(f'{"video (640x480 mp4, 10 s)":28s} {f"{2 * scale} videos":>14s} '
                  f'{secs:8.1f} {tree:14.0f} {single:13.0f}')
            shutil.rmtree(src)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
