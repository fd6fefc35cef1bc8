"""`vptr sim generate`: simulated data in the formats of the real pipeline's inputs.

- Prior robot data as a Bridge *raw* tree (docs/robot.md): `<root>/<task>/00/<date>/raw/
  traj_group0/traj<N>/` with `images0/im_<t>.jpg`, `obs_dict.pkl`, `policy_out.pkl`,
  `agent_data.pkl` (ROS 1 message classes, as in the real data: unloadable without ROS)
  and `lang.txt` (instruction + a `confidence` metadata line).
- Target-task demos as rosbag2 folders written by `DemoBagWriter` (camera Image rgb8 at
  5 Hz, joint states at `joint_state_hz`, the 7-D actions, episode start / end events).
- Human videos: `<dir>/<task>/clip_XXXX.mp4` (mp4v) from `sim.human_video`.

Every unit (trajectory, bag, clip) is written to a hidden temporary name and renamed when
complete, existing units are skipped (so an interrupted run resumes), and each output
folder gets a `.vptr_sim_complete.json` marker once everything in it is done; a later
call with the same parameters returns at once.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import datetime
import json
import multiprocessing
import os
from pathlib import Path
import pickle
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from vptr_training.errors import ConfigError

MARKER = '.vptr_sim_complete.json'
DEFAULT_TARGET_TASK = 'put_corn_in_bowl'
JOINT_STATE_NAMES = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle',
                     'wrist_rotate', 'gripper', 'left_finger', 'right_finger')
FIRST_DATE = datetime.datetime(2022, 3, 1, 9, 0, 0)   # after the 2021-07-23 latency fix
WALL_CLOCK_T0 = 1_650_000_000.0                      # stamps look like real wall time
SUCCESS_TAIL = 2           # steps recorded after the first success (PTR: last 3 obs)
RETRIES = 6                # new seeds tried for an episode the expert failed
# Pickle of ROS 1 message objects like Bridge's agent_data.pkl: loading it needs the
# (absent) ROS 1 `sensor_msgs` package, which is why readers must never open it.
AGENT_DATA_PICKLE = (b'(dp0\nVcamera_info\np1\ncsensor_msgs.msg._CameraInfo\nCameraInfo\n'
                     b'p2\n(tRp3\ns.')


@dataclass
class RobotEpisode:
    """One rollout, every array indexed by observation (T+1) or step (T)."""
    task: str
    language: str
    frames: np.ndarray          # (T+1, H, W, 3) uint8
    states: np.ndarray          # (T+1, 7)
    desired: np.ndarray         # (T+1, 7) controller target + gripper command
    qpos: np.ndarray            # (T+1, 6)
    qvel: np.ndarray            # (T+1, 6)
    effort: np.ndarray          # (T+1, 6)
    eef: np.ndarray             # (T+1, 4, 4)
    times: np.ndarray           # (T+1,) seconds from the episode start
    actions: np.ndarray         # (T, 7)
    success: bool
    joint_log: list[tuple[float, np.ndarray]] = field(default_factory=list)


def parse_frame_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise ConfigError(f'frame size must look like 640x480, got {text!r}') from None
    if not (16 <= width <= 640 and 16 <= height <= 480):
        raise ConfigError(f'frame size must be within 16x16..640x480, got {text!r}')
    return width, height


def _gripper_angle(left_finger: float) -> float:
    """Approximate Interbotix gripper horn angle (rad) for a finger position (m)."""
    return float(-0.65 + (left_finger - 0.015) / 0.022 * 1.9)


# ------------------------------------------------------------------------- rollouts

_ENVS: dict[tuple, Any] = {}


def _env_for(task: str, condition: str, max_steps: int) -> Any:
    from vptr_training.sim.env import WidowXSimEnv
    key = (task, condition, max_steps)
    if key not in _ENVS:
        _ENVS[key] = WidowXSimEnv(task, condition=condition, render=False,
                                  terminate_on_success=False, max_episode_steps=max_steps)
    return _ENVS[key]


def rollout(task: str, seed: int, frame_size: tuple[int, int] | None = (640, 480),
            noise: float = 0.0, condition: str = 'seen', max_steps: int = 40,
            joint_state_hz: float | None = None) -> RobotEpisode:
    """Run the scripted expert for one episode, recording what the real robot logs.

    The episode stops SUCCESS_TAIL steps after the first success (or at max_steps).
    frame_size None records no camera frames (zeros of 1x1).
    """
    from vptr_training.sim.experts import make_expert
    env = _env_for(task, condition, max_steps)
    expert = make_expert(env, noise=noise, seed=seed)
    joint_log: list[tuple[float, np.ndarray]] = []
    next_log = [0.0]
    period = 1.0 / joint_state_hz if joint_state_hz else None

    def log_joints(t: float) -> None:
        if period is not None and t + 1e-9 >= next_log[0]:
            fingers = env.finger_positions()
            joint_log.append((t, np.concatenate([env.joint_positions(),
                                                 [_gripper_angle(fingers[0])], fingers])))
            next_log[0] += period

    obs, _ = env.reset(seed=seed)
    width, height = frame_size if frame_size else (1, 1)
    rec: dict[str, list] = {k: [] for k in ('frames', 'states', 'desired', 'qpos', 'qvel',
                                            'effort', 'eef', 'times', 'actions')}
    gripper_cmd = 1.0

    def record(obs: dict) -> None:
        rec['frames'].append(env.render_camera(width, height) if frame_size
                             else np.zeros((1, 1, 3), np.uint8))
        rec['states'].append(obs['state'].astype(np.float64))
        rec['desired'].append(np.concatenate([env.target6, [gripper_cmd]]))
        q = env.joint_positions()
        rec['qpos'].append(q)
        rec['qvel'].append(env.joint_velocities())
        rec['effort'].append(env.data.actuator_force[env._arm_act].copy())
        rec['eef'].append(env.kin.fk(q))
        rec['times'].append(float(env.data.time))

    env.tick_callback = log_joints
    log_joints(0.0)
    record(obs)
    success_at = None
    try:
        for t in range(max_steps):
            action = expert(obs)
            gripper_cmd = float(action[6])
            obs, _, _, _, info = env.step(action)
            rec['actions'].append(action.astype(np.float64))
            record(obs)
            if info['success'] and success_at is None:
                success_at = t
            if success_at is not None and t - success_at >= SUCCESS_TAIL:
                break
    finally:
        env.tick_callback = None
    arrays = {k: np.stack(v) for k, v in rec.items()}
    return RobotEpisode(task=task, language=env.language, success=bool(env.success()),
                        joint_log=joint_log, **arrays)


def _successful_rollout(task: str, seed: int, keep_failures: bool,
                        **kwargs: Any) -> tuple[RobotEpisode, int]:
    """A rollout, re-seeded up to RETRIES times while the expert fails (unless kept)."""
    for attempt in range(RETRIES):
        episode = rollout(task, seed + attempt * 1_000_003, **kwargs)
        if episode.success or keep_failures:
            return episode, attempt
    raise ConfigError(f'the {task} expert failed {RETRIES} times from seed {seed}; lower '
                      f'the noise (--noise) or keep failed episodes (keep_failures=True)')


# ------------------------------------------------------------------------- file helpers

def _write_pickle(path: Path, obj: Any) -> None:
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=2)


def _write_jpeg(path: Path, rgb: np.ndarray, quality: int = 95) -> None:
    import cv2
    if not cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f'could not write {path}')


def _marker_matches(folder: Path, params: dict) -> dict | None:
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved if saved.get('params') == params else None


def _write_marker(folder: Path, params: dict, summary: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.marker.', dir=folder)
    with os.fdopen(fd, 'w') as f:
        json.dump({'params': params, 'summary': summary}, f, indent=1, sort_keys=True)
    os.replace(tmp, folder / MARKER)


def _run_units(fn: Callable[[dict], dict], units: Sequence[dict], workers: int,
               desc: str) -> list[dict]:
    """Run fn over units, in `workers` processes (spawned: each builds its own GL
    context) or in this process when workers <= 1."""
    results: list[dict] = []
    if not units:
        return results
    start = time.time()
    if workers <= 1 or len(units) == 1:
        iterator: Iterable[dict] = map(fn, units)
        pool = None
    else:
        pool = multiprocessing.get_context('spawn').Pool(min(workers, len(units)))
        iterator = pool.imap_unordered(fn, units)
    try:
        for i, result in enumerate(iterator, 1):
            results.append(result)
            if i == len(units) or i % max(1, len(units) // 10) == 0:
                print(f'{desc}: {i}/{len(units)} ({time.time() - start:.0f}s)',
                      file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return results


def _episode_seed(seed: int, name: str, index: int) -> int:
    # Stable across processes (unlike hash()): a tiny FNV-1a of the task name.
    h = 2166136261
    for byte in name.encode():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return (seed * 1_000_003 + h * 7919 + index * 104_729) % (2 ** 31)


def bridge_episode_seed(seed: int, task: str, index: int) -> int:
    """The environment seed of episode `index` of `task` in write_bridge_raw(seed=seed)
    (its first attempt): reset a WidowXSimEnv with it to meet the same scene again."""
    return _episode_seed(seed, task, index)


def target_demo_seed(seed: int, task: str, index: int) -> int:
    """The environment seed of demo `index` in write_target_rosbags(seed=seed)."""
    return _episode_seed(seed + 7777, task, index)


# ------------------------------------------------------------------------- Bridge raw

def _bridge_traj_unit(unit: dict) -> dict:
    final = Path(unit['path'])
    if final.is_dir():
        return {'task': unit['task'], 'skipped': True}
    episode, retries = _successful_rollout(
        unit['task'], unit['seed'], unit['keep_failures'], frame_size=unit['frame_size'],
        noise=unit['noise'], condition=unit['condition'], max_steps=unit['max_steps'])
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{final.name}.', dir=final.parent))
    try:
        images = tmp / 'images0'
        images.mkdir()
        for t, frame in enumerate(episode.frames):
            _write_jpeg(images / f'im_{t}.jpg', frame)
        n_obs = len(episode.states)
        stamps = unit['t0'] + episode.times
        _write_pickle(tmp / 'obs_dict.pkl', {
            'full_state': episode.states, 'state': episode.states.copy(),
            'desired_state': episode.desired, 'qpos': episode.qpos, 'qvel': episode.qvel,
            'joint_effort': episode.effort, 'eef_transform': episode.eef,
            'time_stamp': stamps, 'env_done': np.zeros(n_obs, bool),
            't_get_obs': stamps + 0.01,
        })
        policy_out = []
        for t, action in enumerate(episode.actions):
            policy_out.append({'actions': action, 'new_robot_transform': episode.eef[t + 1],
                               'delta_robot_transform': np.linalg.inv(episode.eef[t])
                               @ episode.eef[t + 1], 'policy_type': 'ScriptedPolicy'})
        _write_pickle(tmp / 'policy_out.pkl', policy_out)
        (tmp / 'agent_data.pkl').write_bytes(AGENT_DATA_PICKLE)
        (tmp / 'lang.txt').write_text(f'{episode.language}\nconfidence: 1\n')
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {'task': unit['task'], 'skipped': False, 'success': episode.success,
            'length': len(episode.actions), 'retries': retries}


def bridge_traj_path(root: Path, task: str, task_index: int, episode: int,
                     trajs_per_folder: int) -> Path:
    folder = episode // trajs_per_folder
    date = FIRST_DATE + datetime.timedelta(days=3 * task_index, hours=folder,
                                           minutes=7 * task_index % 60)
    return (root / task / '00' / date.strftime('%Y-%m-%d_%H-%M-%S') / 'raw' / 'traj_group0'
            / f'traj{episode % trajs_per_folder}')


def write_bridge_raw(root: str | os.PathLike, tasks: Sequence[str],
                     episodes_per_task: int | Mapping[str, int],
                     frame_size: tuple[int, int] = (640, 480), seed: int = 0,
                     noise: float = 0.0, condition: str = 'seen', max_steps: int = 40,
                     keep_failures: bool = False, trajs_per_folder: int = 25,
                     workers: int = 1) -> dict:
    """Scripted episodes of `tasks` as a Bridge raw tree under root; returns a summary.

    Failed episodes are re-seeded (up to RETRIES times) unless keep_failures, since the
    Bridge raw format has no success flag (converters treat every trajectory as a demo).
    """
    from vptr_training.sim.tasks import check_condition, get_task
    tasks = [get_task(t).name for t in tasks]
    check_condition(condition)
    counts = ({t: int(episodes_per_task.get(t, 0)) for t in tasks}
              if isinstance(episodes_per_task, Mapping)
              else {t: int(episodes_per_task) for t in tasks})
    if min(counts.values(), default=0) < 0 or trajs_per_folder < 1:
        raise ConfigError('episodes_per_task must be >= 0 and trajs_per_folder >= 1')
    root = Path(root)
    params = {'kind': 'bridge_raw', 'tasks': list(tasks), 'episodes_per_task':
              counts, 'frame_size': list(frame_size), 'seed': seed, 'noise': noise,
              'condition': condition, 'max_steps': max_steps, 'keep_failures': keep_failures,
              'trajs_per_folder': trajs_per_folder}
    done = _marker_matches(root, params)
    if done is not None:
        return dict(done['summary'], cached=True)
    units = []
    for ti, task in enumerate(tasks):
        for i in range(counts[task]):
            path = bridge_traj_path(root, task, ti, i, trajs_per_folder)
            units.append({'path': str(path), 'task': task,
                          'seed': bridge_episode_seed(seed, task, i),
                          'frame_size': tuple(frame_size), 'noise': noise,
                          'condition': condition, 'max_steps': max_steps,
                          'keep_failures': keep_failures,
                          't0': WALL_CLOCK_T0 + 86400.0 * ti + 60.0 * i})
    results = _run_units(_bridge_traj_unit, units, workers, 'bridge raw')
    made = [r for r in results if not r['skipped']]
    summary = {'trajectories': len(units), 'written': len(made),
               'skipped_existing': len(results) - len(made),
               'successes': sum(r['success'] for r in made),
               'retries': sum(r['retries'] for r in made),
               'mean_length': float(np.mean([r['length'] for r in made])) if made else 0.0}
    _write_marker(root, params, summary)
    return dict(summary, cached=False)


# ------------------------------------------------------------------------- rosbags

def _bag_unit(unit: dict) -> dict:
    from vptr_training.data.rosbag_io import DemoBagWriter
    final = Path(unit['path'])
    if final.exists():
        return {'skipped': True}
    episode, retries = _successful_rollout(
        unit['task'], unit['seed'], unit['keep_failures'], frame_size=unit['frame_size'],
        noise=unit['noise'], condition=unit['condition'], max_steps=unit['max_steps'],
        joint_state_hz=unit['joint_state_hz'])
    t0 = unit['t0']
    with DemoBagWriter(final, storage=unit['storage'], robot_name=unit['robot_name']) as bag:
        bag.write_episode_event(t0, 'start', episode.task, episode.language)
        for t, positions in episode.joint_log:
            bag.write_joint_state(t0 + t, JOINT_STATE_NAMES, positions)
        for t, frame in enumerate(episode.frames):
            bag.write_image(t0 + episode.times[t], frame)
            if t < len(episode.actions):
                # the action is computed from this frame and sent right after it
                bag.write_action(t0 + episode.times[t] + 0.001, episode.actions[t])
        bag.write_episode_event(t0 + episode.times[-1] + 0.01, 'end', episode.task,
                                episode.language, episode.success)
    return {'skipped': False, 'success': episode.success, 'length': len(episode.actions),
            'retries': retries}


def write_target_rosbags(out_dir: str | os.PathLike, task: str, n_demos: int,
                         storage: str = 'mcap', frame_size: tuple[int, int] = (640, 480),
                         seed: int = 0, noise: float = 0.0, condition: str = 'seen',
                         joint_state_hz: float = 20.0, max_steps: int = 40,
                         keep_failures: bool = False, robot_name: str = 'wx250s',
                         workers: int = 1) -> dict:
    """n_demos demos of `task`, one rosbag2 folder each: `<out_dir>/<task>_demo_XXXX/`."""
    from vptr_training.sim.tasks import check_condition, get_task
    task = get_task(task).name
    check_condition(condition)
    if storage not in ('mcap', 'sqlite3'):
        raise ConfigError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
    if n_demos < 0 or joint_state_hz <= 0:
        raise ConfigError('n_demos must be >= 0 and joint_state_hz > 0')
    out = Path(out_dir)
    params = {'kind': 'target_rosbags', 'task': task, 'n_demos': n_demos, 'storage': storage,
              'frame_size': list(frame_size), 'seed': seed, 'noise': noise,
              'condition': condition, 'joint_state_hz': joint_state_hz,
              'max_steps': max_steps, 'keep_failures': keep_failures,
              'robot_name': robot_name}
    done = _marker_matches(out, params)
    if done is not None:
        return dict(done['summary'], cached=True)
    units = [{'path': str(out / f'{task}_demo_{i:04d}'), 'task': task,
              'seed': target_demo_seed(seed, task, i), 'frame_size': tuple(frame_size),
              'noise': noise, 'condition': condition, 'max_steps': max_steps,
              'keep_failures': keep_failures, 'joint_state_hz': joint_state_hz,
              'storage': storage, 'robot_name': robot_name,
              't0': WALL_CLOCK_T0 + 10_000_000.0 + 120.0 * i} for i in range(n_demos)]
    results = _run_units(_bag_unit, units, workers, 'target rosbags')
    made = [r for r in results if not r['skipped']]
    summary = {'bags': len(units), 'written': len(made),
               'skipped_existing': len(results) - len(made),
               'successes': sum(r['success'] for r in made),
               'retries': sum(r['retries'] for r in made)}
    _write_marker(out, params, summary)
    return dict(summary, cached=False)


# ------------------------------------------------------------------------- human videos

_VIDEO_SCENES: dict[tuple[int, int], Any] = {}


def _video_unit(unit: dict) -> dict:
    import cv2
    from vptr_training.sim.human_video import HumanVideoScene
    final = Path(unit['path'])
    if final.is_file():
        return {'skipped': True}
    size = tuple(unit['frame_size'])
    if size not in _VIDEO_SCENES:
        _VIDEO_SCENES[size] = HumanVideoScene(*size)
    frames = _VIDEO_SCENES[size].clip(unit['task'], unit['seed'], unit['fps'])
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{final.stem}.', suffix='.mp4', dir=final.parent)
    os.close(fd)
    try:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), float(unit['fps']),
                                 (size[0], size[1]))
        if not writer.isOpened():
            raise OSError(f'OpenCV cannot write mp4v video to {tmp}')
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
        writer.release()
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {'skipped': False, 'frames': len(frames)}


def write_human_videos(out_dir: str | os.PathLike, n: int, fps: float = 10.0,
                       frame_size: tuple[int, int] = (320, 240), seed: int = 0,
                       tasks: Sequence[str] | None = None, workers: int = 1) -> dict:
    """n clips of the hand doing VIDEO_TASKS (round robin): `<out_dir>/<task>/clip_XXXX.mp4`."""
    from vptr_training.sim.human_video import VIDEO_TASKS
    names = sorted(VIDEO_TASKS) if tasks is None else list(tasks)
    unknown = [t for t in names if t not in VIDEO_TASKS]
    if unknown or not names:
        raise ConfigError(f'unknown video task(s) {unknown}; known: '
                          f'{", ".join(sorted(VIDEO_TASKS))}')
    if n < 0 or fps <= 0:
        raise ConfigError('n must be >= 0 and fps > 0')
    out = Path(out_dir)
    params = {'kind': 'human_videos', 'n': n, 'fps': fps, 'frame_size': list(frame_size),
              'seed': seed, 'tasks': names}
    done = _marker_matches(out, params)
    if done is not None:
        return dict(done['summary'], cached=True)
    order = np.random.default_rng(seed).permutation(len(names))
    units = []
    for i in range(n):
        task = names[order[i % len(names)]]
        units.append({'path': str(out / task / f'clip_{i:04d}.mp4'), 'task': task,
                      'seed': _episode_seed(seed + 31337, task, i), 'fps': fps,
                      'frame_size': tuple(frame_size)})
    results = _run_units(_video_unit, units, workers, 'human videos')
    made = [r for r in results if not r['skipped']]
    summary = {'clips': len(units), 'written': len(made),
               'skipped_existing': len(results) - len(made),
               'frames': int(sum(r['frames'] for r in made))}
    _write_marker(out, params, summary)
    return dict(summary, cached=False)


# ------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('out', help='output folder (bridge_raw/, target_rosbags/, '
                        'human_videos/ inside)')
    parser.add_argument('--robot-episodes', type=int, default=100,
                        help='prior robot episodes in total, spread over every task except '
                        'the target task (Bridge raw format)')
    parser.add_argument('--target-demos', type=int, default=10,
                        help='target-task demos (one rosbag2 folder each)')
    parser.add_argument('--videos', type=int, default=50, help='human video clips (mp4)')
    parser.add_argument('--target-task', default=DEFAULT_TARGET_TASK,
                        help=f'the target task (default {DEFAULT_TARGET_TASK})')
    parser.add_argument('--image-size', type=int, default=128,
                        help='model image size the data is meant for: camera frames are '
                        'rendered at least this tall (default 128)')
    parser.add_argument('--frame-size', default=None,
                        help='camera frame WxH, 4:3 like the 640x480 camera (default: '
                        '320x240, or taller when --image-size needs it)')
    parser.add_argument('--video-size', default='320x240', help='human video frame WxH')
    parser.add_argument('--fps', type=float, default=10.0, help='human video frame rate')
    parser.add_argument('--noise', type=float, default=0.1,
                        help='expert action noise (std as a fraction of the action bound)')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                        help='rosbag2 storage of the target demos')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')


def default_frame_size(image_size: int) -> tuple[int, int]:
    height = max(240, int(image_size))
    height += height % 2
    return min(640, int(round(height * 4 / 3))), min(480, height)


def run(args: argparse.Namespace) -> int:
    from vptr_training.sim.tasks import TASKS, get_task
    target = get_task(args.target_task).name
    if args.image_size < 8:
        raise ConfigError(f'--image-size must be >= 8, got {args.image_size}')
    if args.workers < 1:
        raise ConfigError(f'--workers must be >= 1, got {args.workers}')
    for name in ('robot_episodes', 'target_demos', 'videos'):
        if getattr(args, name) < 0:
            raise ConfigError(f'--{name.replace("_", "-")} must be >= 0')
    frame_size = (parse_frame_size(args.frame_size) if args.frame_size
                  else default_frame_size(args.image_size))
    if frame_size[1] < args.image_size:
        raise ConfigError(f'frames {frame_size[0]}x{frame_size[1]} are smaller than '
                          f'--image-size {args.image_size}')
    out = Path(args.out)
    prior = [t for t in sorted(TASKS) if t != target]
    # N episodes in total, as even as possible over the prior tasks
    counts = {t: args.robot_episodes // len(prior) + (i < args.robot_episodes % len(prior))
              for i, t in enumerate(prior)}
    summary: dict[str, Any] = {}
    if args.robot_episodes:
        summary['bridge_raw'] = write_bridge_raw(
            out / 'bridge_raw', prior, counts, frame_size=frame_size, seed=args.seed,
            noise=args.noise, workers=args.workers)
    if args.target_demos:
        summary['target_rosbags'] = write_target_rosbags(
            out / 'target_rosbags', target, args.target_demos, storage=args.storage,
            frame_size=frame_size, seed=args.seed, noise=args.noise, workers=args.workers)
    if args.videos:
        summary['human_videos'] = write_human_videos(
            out / 'human_videos', args.videos, fps=args.fps,
            frame_size=parse_frame_size(args.video_size), seed=args.seed,
            workers=args.workers)
    print(json.dumps(summary, indent=1, sort_keys=True))
    return 0
