"""`vptr eval-sim`: success rates of a checkpoint on the simulated WidowX.

Each evaluation condition (seen positions, new positions, new distractors) runs the same
episode seeds for every checkpoint, so methods are compared on identical scenes. Success
rates come with Wilson 95% intervals (they stay inside [0, 1] and behave at 0/N and N/N,
unlike the normal approximation). Rollout videos and value-along-episode plots go to the
output folder for the report.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
import json
import math
import os
from pathlib import Path
import time
from typing import Any, Sequence

import numpy as np
from vptr_training.errors import VptrError

CONDITIONS = ('seen', 'new_positions', 'new_distractors')
# Episode seeds: condition k, episode i -> base + 10_000 * k + i (disjoint from the data
# generator's seeds, which start at 0 and stay below 10_000 per task).
_SEED_STRIDE = 10_000
_EVAL_SEED_BASE = 1_000_000


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# Partial progress on pick-and-place tasks, for budgets where no method completes the task:
# the gripper came within REACH_DISTANCE of the object, and the object rose LIFT_HEIGHT
# above where it started.
REACH_DISTANCE = 0.04   # m, EE site (between the fingertips) to the object's centre
LIFT_HEIGHT = 0.03      # m


@dataclass
class ConditionResult:
    condition: str
    episodes: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_steps: float
    videos: list[str] = field(default_factory=list)
    value_plots: list[str] = field(default_factory=list)
    reached: int | None = None    # episodes whose gripper reached the object (pick-place)
    lifted: int | None = None     # episodes that lifted the object (pick-place)


class _Progress:
    """Tracks reach / lift of the task object during one episode (pick-and-place only)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.obj = env.task.obj if env.task.kind == 'pick_place' else None
        self.reached = self.lifted = False
        if self.obj is not None:
            self.start_height = float(env.object_position(self.obj)[2])
            self.update()

    def update(self) -> None:
        if self.obj is None:
            return
        position = self.env.object_position(self.obj)
        ee = self.env.ee_site_pose()[:3, 3]
        self.reached |= bool(np.linalg.norm(ee - position) < REACH_DISTANCE)
        self.lifted |= bool(position[2] > self.start_height + LIFT_HEIGHT)


def _write_video(path: Path, frames: Sequence[np.ndarray], fps: float) -> None:
    import cv2
    h, w = frames[0].shape[:2]
    tmp = path.with_name(path.stem + '.tmp' + path.suffix)
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    os.replace(tmp, path)


def plot_values(path: Path, values: Sequence[float], success: bool, title: str) -> None:
    """Value (min Q of the policy's action) along one episode."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(np.arange(len(values)), values, color='tab:green' if success else 'tab:red')
    ax.set_xlabel('step (5 Hz)')
    ax.set_ylabel('Q(s, pi(s))')
    ax.set_title(f'{title} ({"success" if success else "failure"})', fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.stem + '.tmp.png')
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def check_policy_matches_env(policy: Any, task: str) -> None:
    """A checkpoint whose spec does not fit the simulator fails here, not inside MuJoCo."""
    from vptr_training.robot.conventions import ACTION_DIM
    from vptr_training.sim import TASKS
    spec = policy.spec
    names = list(spec['task_names'])
    if task not in names:
        raise VptrError(f'task {task!r} is not one the checkpoint was trained on; '
                        f'its tasks: {", ".join(names)}')
    if task not in TASKS:
        raise VptrError(f'task {task!r} does not exist in the simulator; '
                        f'simulated tasks: {", ".join(sorted(TASKS))}')
    action_dim = len(spec.get('action_names', ())) or ACTION_DIM
    if action_dim != ACTION_DIM:
        raise VptrError(f'checkpoint acts with {action_dim}-D actions; the simulated WidowX '
                        f'takes {ACTION_DIM}-D Bridge actions')


def evaluate_policy(policy: Any, task: str, episodes: int, out_dir: Path | None = None,
                    conditions: Sequence[str] = CONDITIONS, seed: int = 0,
                    videos_per_condition: int = 1, value_plots_per_condition: int = 1,
                    label: str = 'policy', progress: bool = True) -> list[ConditionResult]:
    """Roll the policy out `episodes` times per condition on the simulated WidowX.

    With `out_dir`, the first `videos_per_condition` episodes of each condition are saved
    as videos, and so is the first successful episode when none of those succeeded
    (`<label>_<condition>_epNN_success.mp4`), so that a report can show what success
    looks like next to a typical rollout."""
    from vptr_training.sim import WidowXSimEnv
    check_policy_matches_env(policy, task)
    image_size = int(policy.spec['image_size'])
    fps = float(policy.spec.get('control_hz', 5.0))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for k, condition in enumerate(conditions):
        if condition not in CONDITIONS:
            raise VptrError(f'unknown condition {condition!r}; choose from {CONDITIONS}')
        env = WidowXSimEnv(task=task, image_size=image_size, condition=condition)
        successes, steps, videos, plots = 0, [], [], []
        reached = lifted = 0
        success_saved = False
        start = time.time()
        for i in range(episodes):
            first = i < videos_per_condition
            # Until a successful episode is on video, every episode is filmed (frames kept
            # in memory, written only if it succeeds: about 2 ms a step).
            wanted = first or (videos_per_condition > 0 and not success_saved)
            record = out_dir is not None and wanted
            want_values = (out_dir is not None and i < value_plots_per_condition
                           and getattr(policy, 'has_critic', True))
            obs, info = env.reset(seed=seed + _EVAL_SEED_BASE + _SEED_STRIDE * k + i)
            frames = [env.render_camera(256, 192)] if record else []
            values = []
            tracker = _Progress(env)
            success, t = False, 0
            while True:
                if want_values:
                    values.append(policy.value(obs['image'], obs['state'], task))
                action = policy.act(obs['image'], obs['state'], task)
                obs, _, terminated, truncated, info = env.step(action)
                tracker.update()
                t += 1
                if record:
                    frames.append(env.render_camera(256, 192))
                success = bool(info.get('success', False))
                if terminated or truncated:
                    break
            successes += success
            reached += tracker.reached
            lifted += tracker.lifted
            steps.append(t)
            stem = f'{label}_{condition}_ep{i:02d}'
            if record and (first or success):
                videos.append(f'{stem}.mp4' if first else f'{stem}_success.mp4')
                _write_video(out_dir / videos[-1], frames, fps)
                success_saved = success_saved or success
            if want_values:
                plots.append(f'{stem}_value.png')
                plot_values(out_dir / plots[-1], values, success, f'{label} / {condition}')
            if progress:
                print(f'\r  {label:>10} {condition:<16} {i + 1:>3}/{episodes} episodes, '
                      f'{successes} successes ({time.time() - start:.0f}s)', end='', flush=True)
        if progress:
            print()
        env.close()
        low, high = wilson_interval(successes, episodes)
        pick_place = env.task.kind == 'pick_place'
        results.append(ConditionResult(condition, episodes, successes, successes / episodes,
                                       low, high, float(np.mean(steps)), videos, plots,
                                       reached if pick_place else None,
                                       lifted if pick_place else None))
    return results


def format_progress_table(rows: dict[str, list[ConditionResult]]) -> str:
    """Markdown table of partial progress (reached / lifted the object) per condition."""
    conditions = [r.condition for r in next(iter(rows.values()))]
    lines = ['| method | ' + ' | '.join(conditions) + ' |', '|---|' + '---|' * len(conditions)]
    for method, results in rows.items():
        cells = [('n/a' if r.reached is None else
                  f'reached {r.reached}/{r.episodes}, lifted {r.lifted}/{r.episodes}')
                 for r in results]
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_table(rows: dict[str, list[ConditionResult]]) -> str:
    """Markdown table: one row per method, one column per condition."""
    conditions = [r.condition for r in next(iter(rows.values()))]
    head = '| method | ' + ' | '.join(conditions) + ' |'
    rule = '|---|' + '---|' * len(conditions)
    lines = [head, rule]
    for method, results in rows.items():
        cells = [f'{r.successes}/{r.episodes} ({r.success_rate:.0%}, '
                 f'95% CI {r.ci_low:.0%}-{r.ci_high:.0%})' for r in results]
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _target_task_of(checkpoint: Path) -> str:
    """The task a fine-tuned checkpoint was fine-tuned on: the one task of its target store.

    Read from the checkpoint's stats.json (the stores it trained on, with their tasks), so
    it does not depend on where the data lives now or on the working directory (a config's
    data paths may be relative to the folder training ran in); the store named in
    config.yaml is the fallback for checkpoints without those stats."""
    import json

    from vptr_training.data.store import EpisodeStore
    from vptr_training.training.checkpoint import (read_checkpoint_config,
                                                   resolve_checkpoint_dir, STATS_FILE)
    folder = resolve_checkpoint_dir(checkpoint)
    stats_file = folder / STATS_FILE
    if stats_file.is_file():
        tasks = (json.loads(stats_file.read_text()).get('target') or {}).get('tasks') or []
        if tasks:
            return tasks[0] if len(tasks) == 1 else ''
    config = read_checkpoint_config(folder)
    target = (config.get('data') or {}).get('target') or ''
    if not target or not Path(target).is_dir():
        return ''
    tasks = EpisodeStore(target).tasks
    return tasks[0] if len(tasks) == 1 else ''


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('checkpoint', type=Path, help='checkpoint directory')
    parser.add_argument('--episodes', type=int, default=20, help='episodes per condition')
    parser.add_argument('--task', default='', help='simulated task (default: the '
                        "checkpoint's target task)")
    parser.add_argument('--conditions', default=','.join(CONDITIONS),
                        help='comma-separated subset of ' + ', '.join(CONDITIONS))
    from vptr_training.robot.conventions import ACTION_MODES
    parser.add_argument('--mode', choices=ACTION_MODES, default=ACTION_MODES[0],
                        help='act with tanh(mean) of the actor, or re-rank actor samples by Q')
    parser.add_argument('--seed', type=int, default=0, help='offset of the episode seeds')
    parser.add_argument('--out', type=Path, default=None,
                        help='folder for eval.json, rollout videos and value plots '
                        '(default: CHECKPOINT/eval)')
    parser.add_argument('--videos', type=int, default=1, help='videos per condition')
    parser.add_argument('--json', action='store_true', help='print the results as JSON')


def run(args: argparse.Namespace) -> int:
    from vptr_training.policy import load_policy
    if args.episodes < 1:
        raise VptrError('--episodes must be at least 1')
    policy = load_policy(args.checkpoint, mode=args.mode)
    task = args.task or _target_task_of(args.checkpoint)
    if not task:
        raise VptrError(f'{args.checkpoint}: the checkpoint names no target task; pass --task '
                        f'(one of: {", ".join(policy.spec["task_names"])})')
    out = args.out or (args.checkpoint / 'eval')
    conditions = [c for c in args.conditions.split(',') if c]
    results = evaluate_policy(policy, task, args.episodes, out, conditions, args.seed,
                              videos_per_condition=args.videos, label=args.mode,
                              progress=not args.json)
    payload = {'checkpoint': str(args.checkpoint), 'task': task, 'mode': args.mode,
               'results': [asdict(r) for r in results]}
    tmp = out / 'eval.json.tmp'
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, out / 'eval.json')
    if args.json:
        print(json.dumps(payload))
    else:
        print(format_table({f'{args.checkpoint.name} ({task})': results}))
        print(f'videos, value plots and eval.json in {out}')
    return 0
