"""`vptr demo`: the whole V-PTR pipeline on the simulated WidowX, with one command.

The pipeline runs the same commands a user runs on real data, in order:

1. generate simulated data in the real formats (cached): multi-task robot data as a
   Bridge raw tree, target-task demos as rosbag2 (mcap), "human" videos as mp4;
2. convert them with `vptr data bridge | rosbag | video`;
3. pre-train on video (ICVF; VIP for the VIP baseline);
4. multi-task CQL on the prior robot data, encoders initialised from phase 1;
5. fine-tune on the target demos mixed with prior data;
6. evaluate V-PTR, PTR (phases 2+3 from a random encoder) and BC side by side on seen
   positions, new positions and new distractors, print the table and write a report.

Every step is cached: a step whose output is complete is skipped, a training run that was
interrupted resumes from its last checkpoint.

Training runs that do not depend on each other run side by side (`--jobs`, default 2 on a
machine with 2 or more cores): each as its own `vptr <phase>` process with
`torch_threads` = cores / jobs and its output in `OUT/logs/`. On 2 cores two one-thread CQL
runs make 1.24x the updates of one two-thread run (small convolutions do not split well
over threads), which with the overlap of the short runs takes minutes off `make demo`.

A pipeline preset (`configs/pipelines/<name>.yaml`, or any file of that format) sizes the
run: data sizes, evaluation episodes and conditions, seeds, methods, and what it sets on
the training runs (`set:` for all, `runs:` per run) on top of each run's shipped config
(RUN_CONFIGS). Each training run gets one config file, `OUT/configs/seed<S>/<run>.yaml`
(`base:` its shipped config, then the preset's overlay, then the run's seed, paths and
initialisations), and is started as `vptr <phase> --config <that file>`: no sizes travel
through argv, so what the preset and configs say is what runs. `micro` is the smoke test
`make test` runs, `demo` is `make demo`, `sim-benchmark` tests the paper's claim.
"""
from __future__ import annotations

import argparse
import copy
import csv
from dataclasses import asdict, dataclass, field, replace
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time
from typing import Callable

from vptr_training.errors import ConfigError, VptrError
from vptr_training.evaluation import (ConditionResult, CONDITIONS, evaluate_policy,
                                      format_progress_table, format_table, LIFT_HEIGHT,
                                      REACH_DISTANCE, wilson_interval)


PIPELINE_DIR = Path(__file__).resolve().parent / 'configs' / 'pipelines'

# The training runs of the pipeline and the shipped config each starts from. Which runs a
# method chains through is the pipeline's structure; how big each run is lives in the
# configs (and in a preset's `set` / `runs` overlays), never in argv.
RUN_CONFIGS = {
    'pretrain_icvf': 'demo_pretrain',
    'pretrain_vip': 'vip_pretrain',
    'vptr_train': 'demo_train',
    'vptr_finetune': 'demo_finetune',
    'ptr_train': 'ptr_train',
    'ptr_finetune': 'ptr_finetune',
    'vip_train': 'vip_train',
    'vip_finetune': 'vip_finetune',
    'bc_finetune': 'bc_finetune',
    'vptr_no_multitask_finetune': 'vptr_no_multitask_finetune',
}
METHODS = ('vptr', 'ptr', 'bc', 'vip', 'vptr_no_multitask')


@dataclass(frozen=True)
class DemoPreset:
    """A pipeline preset (`configs/pipelines/<name>.yaml`): data sizes, evaluation, seeds,
    methods, and the overlays it sets on the training runs' shipped configs."""

    image_size: int
    robot_episodes: int
    target_demos: int
    video_clips: int
    eval_episodes: int
    frame_size: str = ''          # camera frames of the generated data ('' : the default)
    conditions: tuple[str, ...] = CONDITIONS
    seeds: tuple[int, ...] = (0,)
    methods: tuple[str, ...] = ('vptr', 'ptr', 'bc')
    # Set on every training run, then per run (keys of RUN_CONFIGS): what is written here
    # is what runs, on top of the run's shipped config.
    set_all: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    # What the preset can show, printed with its results: a preset sized below what its
    # task needs says so instead of letting a table of zeros speak for itself.
    note: str = ''
    source: str = ''

    def overlay(self, run: str) -> dict:
        """The keys this preset sets on one training run (all-runs first, then the run's)."""
        return _deep_merge(_deep_merge({}, self.set_all), self.runs.get(run, {}))


def _deep_merge(base: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


_PRESET_KEYS = {'note': str, 'data': dict, 'eval': dict, 'seeds': list, 'methods': list,
                'set': dict, 'runs': dict}
_DATA_KEYS = ('image_size', 'robot_episodes', 'target_demos', 'video_clips', 'frame_size')
_EVAL_KEYS = ('episodes', 'conditions')


def preset_names() -> list[str]:
    return sorted(p.stem for p in PIPELINE_DIR.glob('*.yaml'))


def _check_keys(source: str, where: str, data: dict, known) -> None:
    import difflib
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=2, cutoff=0.5)
            hint = f'; did you mean {", ".join(close)}?' if close else ''
            raise ConfigError(f'{source}: unknown key {where}{key!r}{hint}')


def load_preset(name_or_path: str | Path) -> DemoPreset:
    """Read a pipeline preset by name (configs/pipelines) or path; ConfigError naming the
    file and key on anything it does not know."""
    from vptr_training.training.config import read_yaml_mapping
    path = Path(name_or_path)
    if not path.is_file():
        path = PIPELINE_DIR / f'{name_or_path}.yaml'
    if not path.is_file():
        raise ConfigError(f'{name_or_path}: no such pipeline preset (presets: '
                          f'{", ".join(preset_names())})')
    source = str(path)
    raw = read_yaml_mapping(path)
    try:
        _check_keys(source, '', raw, _PRESET_KEYS)
        for key, kind in _PRESET_KEYS.items():
            if key in raw and not isinstance(raw[key], kind):
                raise ConfigError(f'{source}: {key} must be a {kind.__name__}')
        data, evaluation = raw.get('data', {}), raw.get('eval', {})
        _check_keys(source, 'data.', data, _DATA_KEYS)
        _check_keys(source, 'eval.', evaluation, _EVAL_KEYS)
        methods = tuple(raw.get('methods', ('vptr', 'ptr', 'bc')))
        _check_keys(source, 'methods: ', dict.fromkeys(methods), METHODS)
        runs = raw.get('runs', {})
        _check_keys(source, 'runs.', runs, RUN_CONFIGS)
        conditions = tuple(evaluation.get('conditions', CONDITIONS))
        _check_keys(source, 'eval.conditions: ', dict.fromkeys(conditions), CONDITIONS)
        missing = [f'data.{k}' for k in _DATA_KEYS if k not in data and k != 'frame_size']
        missing += ['eval.episodes'] if 'episodes' not in evaluation else []
        if missing:
            raise ConfigError(f'{source}: missing {", ".join(missing)}')
        preset = DemoPreset(
            image_size=int(data['image_size']), robot_episodes=int(data['robot_episodes']),
            target_demos=int(data['target_demos']), video_clips=int(data['video_clips']),
            frame_size=str(data.get('frame_size') or ''),
            eval_episodes=int(evaluation['episodes']), conditions=conditions,
            seeds=tuple(int(s) for s in raw.get('seeds', (0,))), methods=methods,
            set_all=dict(raw.get('set', {})), runs={k: dict(v) for k, v in runs.items()},
            note=str(raw.get('note') or ''), source=source)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f'{source}: {exc}') from None
    return preset


METHOD_NAMES = {'vptr': 'V-PTR', 'ptr': 'PTR', 'bc': 'BC', 'vip': 'VIP+CQL',
                'vptr_no_multitask': 'V-PTR w/o multi-task'}
METHOD_LABELS = {'vptr': 'V-PTR (ICVF video pre-training + multi-task CQL + fine-tune)',
                 'ptr': 'PTR (multi-task CQL + fine-tune, random encoder)',
                 'bc': 'BC from the ICVF encoder, fine-tuned end to end (phase-3 data)',
                 'vip': 'VIP pre-training + multi-task CQL + fine-tune',
                 'vptr_no_multitask': 'V-PTR without multi-task data: ICVF encoder, then CQL '
                 "on the target demos only (the paper's ablation)"}


@dataclass
class Step:
    """One pipeline step: what it does, the command it stands for, and its output.

    `after`: the indices of the steps it needs. A step with `launch` (training runs) can run
    as its own process: `launch()` gives its `vptr` arguments at start time (with
    `--resume` when a run folder exists); `action` runs it in this process instead.
    """

    title: str
    command: list[str]
    output: Path
    done: Callable[[], bool]
    action: Callable[[], None]
    after: tuple[int, ...] = ()
    launch: Callable[[], list[str]] | None = None
    log: Path | None = None
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class DemoLayout:
    root: Path

    @property
    def raw(self) -> Path:
        return self.root / 'data' / 'raw'

    @property
    def stores(self) -> Path:
        return self.root / 'data' / 'stores'

    def run(self, seed: int, name: str) -> Path:
        return self.root / 'runs' / f'seed{seed}' / name

    def eval(self, seed: int, method: str) -> Path:
        return self.root / 'eval' / f'seed{seed}' / method


def _cli(argv: list[str]) -> None:
    from vptr_training.cli import main
    code = main(argv)
    if code:
        raise VptrError(f'step failed (exit {code}): vptr {" ".join(argv)}')


def _log_tail(log: Path | None, lines: int = 15) -> str:
    """The last lines of a step's log (progress-bar redraws folded), for an error."""
    if log is None or not log.is_file():
        return ''
    text = log.read_text(errors='replace').replace('\r', '\n')
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return '\n' + '\n'.join(tail)


def _store_done(path: Path) -> Callable[[], bool]:
    return lambda: (path / 'meta.json').is_file()


def _checkpoint_done(run_dir: Path, steps: int) -> Callable[[], bool]:
    def done() -> bool:
        from vptr_training.training.checkpoint import latest_checkpoint, TRAIN_JSON_FILE
        latest = latest_checkpoint(run_dir / 'checkpoints')
        if latest is None:
            return False
        state = json.loads((latest / TRAIN_JSON_FILE).read_text())
        return int(state['step']) >= steps
    return done


def run_steps(steps: list[Step], jobs: int = 1) -> None:
    """Run every step not already done, each once the steps it needs (`after`) are done.

    Steps with `launch` run up to `jobs` at a time, each as its own `vptr` process with its
    output in `step.log`; the other steps (and every step when jobs is 1) run in this
    process, taking a slot while they do. A failed step stops the others and raises
    VptrError naming its command and log.
    """
    start = time.time()
    finished: set[int] = set()
    running: dict[int, tuple[subprocess.Popen, float]] = {}

    def head(i: int) -> str:
        return f'[{i + 1}/{len(steps)} | {(time.time() - start) / 60:4.1f} min] {steps[i].title}'

    def start_ready() -> bool:
        """Start the steps whose needs are met, in order, while a slot is free (in-process
        steps run to their end here). True if a step started or was found done."""
        progressed = False
        for i, step in enumerate(steps):
            if i in finished or i in running or not finished.issuperset(step.after):
                continue
            if step.done():
                step.skipped = True
                finished.add(i)
                progressed = True
                print(f'{head(i)}: cached')
                continue
            if len(running) >= jobs:
                break
            progressed = True
            if step.launch is not None and jobs > 1:
                step.log.parent.mkdir(parents=True, exist_ok=True)
                with step.log.open('ab') as log:
                    running[i] = (subprocess.Popen(
                        [sys.executable, '-m', 'vptr_training.cli', *step.launch()],
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL),
                        time.time())
                print(f'{head(i)} ... (output: {step.log})', flush=True)
                continue
            print(f'{head(i)} ...', flush=True)
            t0 = time.time()
            step.action()
            step.seconds = time.time() - t0
            finished.add(i)
            print(f'    done in {step.seconds:.0f}s', flush=True)
        return progressed

    try:
        while len(finished) < len(steps):
            progressed = start_ready()
            for i, (process, t0) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[i]
                step = steps[i]
                step.seconds = time.time() - t0
                if process.returncode != 0:
                    raise VptrError(f'step failed (exit {process.returncode}): vptr '
                                    f'{" ".join(step.command)}; its output: {step.log}'
                                    f'{_log_tail(step.log)}')
                finished.add(i)
                progressed = True
                print(f'    done in {step.seconds:.0f}s: {step.title}', flush=True)
            if not progressed:
                if not running:
                    raise VptrError('demo pipeline: steps wait on steps that never run: '
                                    + ', '.join(steps[i].title for i in range(len(steps))
                                                if i not in finished))
                time.sleep(0.2)
    finally:
        # Stopped early (a failure, Ctrl-C): the runs still going are stopped; each resumes
        # from its last checkpoint next time.
        for process, _ in running.values():
            process.terminate()
        for process, _ in running.values():
            process.wait()


class DemoPipeline:
    """Builds the list of steps for a preset, runs them, and writes the report.

    `jobs`: how many training runs may run at once, each in its own process (1: every
    step in this process, one after the other)."""

    def __init__(self, out: Path, preset_name: str, preset: DemoPreset, target_task: str,
                 prior_tasks: list[str], video_tasks: list[str], workers: int,
                 jobs: int = 1) -> None:
        if jobs < 1:
            raise ConfigError(f'--jobs must be at least 1, got {jobs}')
        self.layout = DemoLayout(out)
        self.preset_name = preset_name
        self.preset = preset
        self.target_task = target_task
        self.prior_tasks = prior_tasks
        self.video_tasks = video_tasks
        self.workers = workers
        self.jobs = jobs
        # Threads per training run: the cores shared out between the runs side by side
        # (0: torch's default, when one run has the machine).
        self.torch_threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
        self.steps: list[Step] = []
        self.results: dict[int, dict[str, list[ConditionResult]]] = {}
        self.total_seconds: float | None = None
        self._build()

    # ------------------------------------------------------------------ steps

    def _add(self, title: str, command: list[str], output: Path, done: Callable[[], bool],
             action: Callable[[], None] | None = None, after: tuple[int, ...] = (),
             launch: Callable[[], list[str]] | None = None, log: Path | None = None) -> int:
        """Append a step; returns its index (for the `after` of the steps that need it)."""
        self.steps.append(Step(title, command, output, done,
                               action or (lambda: _cli(command)), tuple(after), launch, log))
        return len(self.steps) - 1

    def _run_config(self, seed: int, run: str, keys: dict) -> tuple[Path, int]:
        """Write the config file of one training run: its shipped config as `base`, the
        preset's overlay, then this run's seed, paths and initialisations. Returns the file
        and the number of steps it resolves to."""
        import yaml
        from vptr_training.training.config import load_config, resolve_config_path
        config = {'base': str(resolve_config_path(RUN_CONFIGS[run]))}
        config.update(_deep_merge(self.preset.overlay(run), keys))
        path = self.layout.root / 'configs' / f'seed{seed}' / f'{run}.yaml'
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (f'# Written by `vptr demo` from {self.preset.source}: the shipped config '
                  f"{RUN_CONFIGS[run]}, the preset's overlay, and this run's seed and paths.\n")
        text = header + yaml.safe_dump(config, sort_keys=False)
        if not path.is_file() or path.read_text() != text:
            tmp = path.with_suffix('.yaml.tmp')
            tmp.write_text(text)
            os.replace(tmp, path)
        try:
            resolved = load_config(path)
        except VptrError as exc:
            raise type(exc)(f'{self.preset.source} (run {run}): {exc}') from None
        if resolved.image_size != self.preset.image_size:
            raise ConfigError(f'{self.preset.source}: run {run} trains at image_size '
                              f'{resolved.image_size} but the data are converted at '
                              f'{self.preset.image_size} (data.image_size); set image_size '
                              'for the runs too')
        return path, resolved.steps

    def _build(self) -> None:
        from vptr_training.sim import generate
        p, L = self.preset, self.layout
        raw_bridge, raw_bags, raw_videos = (L.raw / 'bridge_raw', L.raw / 'target_rosbags',
                                            L.raw / 'human_videos')
        prior, target, video = L.stores / 'prior', L.stores / 'target', L.stores / 'video'
        size = str(p.image_size)
        n_robot, n_videos = p.robot_episodes, p.video_clips
        generated = self._add(
            f'generate data: {n_robot} robot episodes (Bridge raw), {p.target_demos} target '
            f'demos of {self.target_task} (rosbag2 mcap), {n_videos} human videos (mp4)',
            ['sim', 'generate', str(L.raw), '--robot-episodes', str(n_robot),
             '--target-demos', str(p.target_demos), '--videos', str(n_videos),
             '--target-task', self.target_task, '--image-size', size,
             *(['--frame-size', p.frame_size] if p.frame_size else []),
             '--workers', str(self.workers)],
            L.raw, lambda: all((d / generate.MARKER).is_file()
                               for d in (raw_bridge, raw_bags, raw_videos)))
        workers = ['--workers', str(self.workers)]
        stores = (
            self._add('convert the Bridge raw tree', ['data', 'bridge', str(raw_bridge),
                      str(prior), '--size', size, *workers], prior, _store_done(prior),
                      after=(generated,)),
            self._add('convert the target rosbags', ['data', 'rosbag', str(raw_bags),
                      str(target), '--task', self.target_task, '--size', size, *workers],
                      target, _store_done(target), after=(generated,)),
            self._add('convert the videos', ['data', 'video', str(raw_videos), str(video),
                      '--size', size, '--fps', '5', *workers], video, _store_done(video),
                      after=(generated,)))

        data = {'prior': str(prior), 'target': str(target), 'video': str(video)}
        methods = set(p.methods)
        for seed in p.seeds:
            ckpts: dict[str, Path] = {}
            index: dict[Path, int] = {}     # run folder -> its step

            def train(method: str, phase: str, run: str, keys: dict,
                      needs: tuple[Path, ...] = (), seed: int = seed) -> Path:
                """Add one training run (after the stores and the runs in `needs`)."""
                run_dir = L.run(seed, run)
                keys = _deep_merge({'seed': seed, 'out_dir': str(run_dir),
                                    'data': dict(data)}, keys)
                if self.torch_threads:
                    keys['torch_threads'] = self.torch_threads
                config, steps = self._run_config(seed, run, keys)
                args = [phase, '--config', str(config)]

                def launch(args: list[str] = args, run_dir: Path = run_dir) -> list[str]:
                    return args + (['--resume'] if (run_dir / 'checkpoints').exists() else [])

                index[run_dir] = self._add(
                    f'[seed {seed}] {method}: {phase} ({RUN_CONFIGS[run]}, {steps} steps)',
                    args, run_dir, _checkpoint_done(run_dir, steps),
                    lambda launch=launch: _cli(launch()),
                    after=stores + tuple(index[n] for n in needs), launch=launch,
                    log=L.root / 'logs' / f'seed{seed}_{run}.log')
                return run_dir

            pre = {}
            if methods & {'vptr', 'bc', 'vptr_no_multitask'}:
                pre['icvf'] = train('V-PTR', 'pretrain', 'pretrain_icvf', {})
            if 'vip' in methods:
                pre['vip'] = train('VIP', 'pretrain', 'pretrain_vip', {})
            for method, init in (('vptr', 'icvf'), ('ptr', None), ('vip', 'vip')):
                if method not in methods:
                    continue
                encoder = {'init_from': '' if init is None else str(pre[init])}
                phase2 = train(METHOD_NAMES[method], 'train', f'{method}_train',
                               {'encoder': encoder}, () if init is None else (pre[init],))
                ckpts[method] = train(METHOD_NAMES[method], 'finetune', f'{method}_finetune',
                                      {'init_from': str(phase2)}, (phase2,))
            if 'vptr_no_multitask' in methods:
                ckpts['vptr_no_multitask'] = train(
                    METHOD_NAMES['vptr_no_multitask'], 'finetune',
                    'vptr_no_multitask_finetune',
                    {'encoder': {'init_from': str(pre['icvf'])}, 'data': {'prior': ''}},
                    (pre['icvf'],))
            if 'bc' in methods:
                ckpts['bc'] = train('BC', 'finetune', 'bc_finetune',
                                    {'encoder': {'init_from': str(pre['icvf'])}}, (pre['icvf'],))
            for method, run_dir in ckpts.items():
                self._add_eval(seed, method, run_dir, index[run_dir])

    def _add_eval(self, seed: int, method: str, run_dir: Path, trained: int) -> None:
        out = self.layout.eval(seed, method)

        def action() -> None:
            from vptr_training.policy import load_policy
            policy = load_policy(run_dir)
            results = evaluate_policy(policy, self.target_task, self.preset.eval_episodes, out,
                                      self.preset.conditions, seed=0, label=method)
            tmp = out / 'eval.json.tmp'
            tmp.write_text(json.dumps([asdict(r) for r in results], indent=2))
            os.replace(tmp, out / 'eval.json')

        self._add(f'[seed {seed}] evaluate {method} on {", ".join(self.preset.conditions)}',
                  ['eval-sim', str(run_dir), '--episodes',
                   str(self.preset.eval_episodes)], out,
                  lambda: (out / 'eval.json').is_file(), action, after=(trained,))

    # ------------------------------------------------------------------ running

    def run(self) -> None:
        start = time.time()
        run_steps(self.steps, self.jobs)
        self.total_seconds = time.time() - start
        self._collect()

    def _collect(self) -> None:
        """Results of every seed whose methods were all evaluated (all seeds after a full
        run; the finished ones after an interrupted run, for `--report-only`)."""
        self.results = {}
        for seed in self.preset.seeds:
            paths = {m: self.layout.eval(seed, m) / 'eval.json' for m in self.preset.methods}
            if not all(path.is_file() for path in paths.values()):
                continue
            self.results[seed] = {m: [ConditionResult(**r) for r in json.loads(p.read_text())]
                                  for m, p in paths.items()}
        if not self.results:
            raise VptrError(f'{self.layout.root}: no seed has been evaluated for every method '
                            'yet; run the pipeline first')

    @property
    def completed_seeds(self) -> list[int]:
        return sorted(self.results)

    def aggregate(self) -> dict[str, list[ConditionResult]]:
        """Pool episodes over seeds: successes and episodes add up per condition."""
        table: dict[str, list[ConditionResult]] = {}
        for method in self.preset.methods:
            rows = []
            for k, condition in enumerate(self.preset.conditions):
                per_seed = [self.results[s][method][k] for s in self.completed_seeds]
                n = sum(r.episodes for r in per_seed)
                wins = sum(r.successes for r in per_seed)
                low, high = wilson_interval(wins, n)
                progress = [None if any(getattr(r, key) is None for r in per_seed)
                            else sum(getattr(r, key) for r in per_seed)
                            for key in ('reached', 'lifted')]
                rows.append(ConditionResult(condition, n, wins, wins / n, low, high,
                                            sum(r.mean_steps for r in per_seed) / len(per_seed),
                                            [], [], *progress))
            table[METHOD_NAMES[method]] = rows
        return table

    # ------------------------------------------------------------------ report

    def write_report(self) -> Path:
        L = self.layout
        report = L.root / 'report.md'
        plots = self._training_plots()
        timing = ('Written with --report-only from the runs already finished.'
                  if self.total_seconds is None else
                  f'Total time {self.total_seconds / 60:.1f} min (cached steps not counted'
                  + (f'; training runs {self.jobs} at a time, torch threads per run: '
                     f'{self.torch_threads}' if self.jobs > 1 else '') + ').')
        lines = [f'# V-PTR demo report (preset `{self.preset_name}`)', '',
                 f'Target task: `{self.target_task}` ({self.preset.target_demos} demos). '
                 f'Prior tasks: {", ".join(f"`{t}`" for t in self.prior_tasks)}. '
                 f'Seeds evaluated: {", ".join(map(str, self.completed_seeds))} (of '
                 f'{", ".join(map(str, self.preset.seeds))}). Images '
                 f'{self.preset.image_size}x{self.preset.image_size}. {timing}', '',
                 '## Success rates (episodes pooled over seeds, Wilson 95% intervals)', '',
                 format_table(self.aggregate()), '',
                 *([f'**Note:** {self.preset.note}.', ''] if self.preset.note else []),
                 '## Partial progress (pick-and-place: gripper within '
                 f'{REACH_DISTANCE * 100:.0f} cm of the object / object lifted '
                 f'{LIFT_HEIGHT * 100:.0f} cm)', '', format_progress_table(self.aggregate()), '']
        for method in self.preset.methods:
            lines.append(f'- **{METHOD_NAMES[method]}**: {METHOD_LABELS[method]}')
        lines += ['', '## Rollouts and value along an episode', '']
        for method in self.preset.methods:
            first = self.completed_seeds[0]
            for r in self.results[first][method]:
                rel = Path('eval') / f'seed{first}' / method
                items = [f'[{"successful rollout" if v.endswith("_success.mp4") else "video"}]'
                         f'({rel / v})' for v in r.videos]
                items += [f'![{method} {r.condition}]({rel / v})' for v in r.value_plots]
                lines.append(f'- {method} / {r.condition}: ' + ' '.join(items))
        if plots:
            lines += ['', '## Training curves', '']
            lines += [f'![{p.stem}]({p.relative_to(L.root)})' for p in plots]
        lines += ['', '## Steps and the commands they stand for', '',
                  '| step | seconds | command |', '|---|---|---|']
        for step in self.steps:
            secs = ('-' if self.total_seconds is None else
                    'cached' if step.skipped else f'{step.seconds:.0f}')
            lines.append(f'| {step.title} | {secs} | `vptr {" ".join(step.command)}` |')
        tmp = report.with_suffix('.md.tmp')
        tmp.write_text('\n'.join(lines) + '\n')
        os.replace(tmp, report)
        return report

    def _training_plots(self) -> list[Path]:
        """One PNG per training run: every numeric loss column of its CSV log over steps."""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        out_dir = self.layout.root / 'plots'
        out_dir.mkdir(exist_ok=True)
        plots = []
        for csv_path in sorted((self.layout.root / 'runs').glob('seed*/*/*.csv')):
            with csv_path.open() as f:
                rows = list(csv.DictReader(f))
            if len(rows) < 2 or 'step' not in rows[0]:
                continue
            keys = [k for k in rows[0] if k != 'step' and 'loss' in k][:6]
            if not keys:
                continue
            fig, axes = plt.subplots(1, len(keys), figsize=(3 * len(keys), 2.5), squeeze=False)
            steps = [float(r['step']) for r in rows]
            for ax, key in zip(axes[0], keys):
                values = [float(r[key]) if r.get(key) not in (None, '') else float('nan')
                          for r in rows]
                ax.plot(steps, values)
                ax.set_title(key, fontsize=8)
            name = f'{csv_path.parent.parent.name}_{csv_path.parent.name}'
            fig.suptitle(name, fontsize=9)
            fig.tight_layout()
            path = out_dir / f'{name}.png'
            fig.savefig(path, dpi=80)
            plt.close(fig)
            plots.append(path)
        return plots


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--preset', default='demo', metavar='NAME|FILE',
                        help='a pipeline preset: micro (smoke test), demo (~15 min on 2 '
                        "cores), sim-benchmark (the paper's claim, 3 seeds), or the path of "
                        'your own file in the format of configs/pipelines/*.yaml')
    parser.add_argument('--out', type=Path, default=Path('demo_out'), help='output folder')
    parser.add_argument('--target-task', default='', help='the new task to fine-tune on')
    parser.add_argument('--seeds', default='', help='comma-separated seeds (preset default)')
    parser.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1),
                        help='worker processes for data generation and conversion')
    parser.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1),
                        help='training runs side by side, each in its own process with '
                        'cores/jobs torch threads (1: one run at a time, in this process)')
    parser.add_argument('--fresh', action='store_true',
                        help='delete OUT first instead of reusing cached steps')
    parser.add_argument('--report-only', action='store_true',
                        help='run nothing: write the report from the seeds already evaluated '
                        'in OUT (e.g. after an interrupted sim-benchmark)')


def run(args: argparse.Namespace) -> int:
    from vptr_training.sim import generate
    preset = load_preset(args.preset)
    if args.seeds:
        preset = replace(preset, seeds=tuple(int(s) for s in args.seeds.split(',')))
    from vptr_training.sim.human_video import VIDEO_TASKS
    from vptr_training.sim.tasks import TASKS, get_task
    target = get_task(args.target_task or generate.DEFAULT_TARGET_TASK).name
    # `vptr sim generate` spreads robot episodes over every task but the target one.
    prior_tasks = [t for t in sorted(TASKS) if t != target]
    video_tasks = sorted(VIDEO_TASKS)
    if args.fresh and args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    torch_threads = os.environ.get('VPTR_TORCH_THREADS')
    if torch_threads:
        import torch
        torch.set_num_threads(int(torch_threads))
    pipeline = DemoPipeline(args.out, args.preset, preset, target, prior_tasks, video_tasks,
                            args.workers, args.jobs)
    if args.report_only:
        pipeline.total_seconds = None
        pipeline._collect()
    else:
        print(f'V-PTR demo, preset {args.preset}: target task {target}, '
              f'{len(pipeline.steps)} steps, output in {args.out}')
        pipeline.run()
    print()
    print(format_table(pipeline.aggregate()))
    if preset.note:
        print(f'\nnote: {preset.note}')
    report = pipeline.write_report()
    print(f'\nreport: {report}')
    return 0
