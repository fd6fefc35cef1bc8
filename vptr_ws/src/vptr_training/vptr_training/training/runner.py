"""The training loop shared by the three phases (pretrain / train / finetune).

`train(config, resume=False)`:
  stores -> sampler -> loader (worker processes) -> agent (+ encoder from a phase-1
  checkpoint, or the whole agent from a phase-2 checkpoint) -> loop of agent.update(batch)
  with a tqdm bar, TensorBoard + CSV logs, the data-wait fraction, periodic evaluation
  hooks and periodic checkpoints.
Resume (`resume=True`) restarts from RUN_DIR's latest checkpoint with the same weights,
optimizer state, RNG states and data position, so a killed-and-resumed run logs exactly
the losses of an uninterrupted one (on CPU with a fixed seed).

Evaluation hooks: `register_eval_hook(name, fn)`; config `eval.hook` names one (or gives
'package.module:function'), `eval_every` its period, `eval.args` its keyword arguments.
A hook gets an `EvalContext` and returns a dict of floats that is logged.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
import importlib
import io
import logging
import math
import os
from pathlib import Path
import random
import time
from typing import Any, Callable

import numpy as np
import torch

from vptr_training.algos import make_agent, PRETRAIN_ALGOS, ROBOT_ALGOS
from vptr_training.algos.base import Agent
from vptr_training.errors import CheckpointError, ConfigError
from vptr_training.training import checkpoint as ckpt_io
from vptr_training.training import distributed
from vptr_training.training.config import flatten, load_config, save_config, TrainConfig

logger = logging.getLogger(__name__)
METRICS_FILE = 'metrics.csv'
EVAL_FILE = 'eval.csv'
# Modules that register evaluation hooks when imported (imported on first lookup).
HOOK_MODULES = ('vptr_training.evaluation', 'vptr_training.diagnostics')


# ------------------------------------------------------------------------- eval hooks

@dataclass
class EvalContext:
    agent: Agent
    config: TrainConfig
    spec: dict[str, Any]
    step: int
    run_dir: Path
    device: torch.device
    checkpoint_dir: Path | None          # latest checkpoint written (None if none yet)
    args: dict[str, Any] = field(default_factory=dict)


EvalHook = Callable[[EvalContext], dict[str, float]]
_EVAL_HOOKS: dict[str, EvalHook] = {}


def register_eval_hook(name: str, fn: EvalHook) -> None:
    """Make `fn(ctx: EvalContext) -> dict[str, float]` available as `eval.hook: NAME`."""
    _EVAL_HOOKS[name] = fn


def get_eval_hook(name: str) -> EvalHook:
    if ':' in name:                       # 'package.module:function'
        module_name, _, func = name.partition(':')
        try:
            return getattr(importlib.import_module(module_name), func)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f'eval.hook={name!r}: cannot import it ({exc})') from None
    if name not in _EVAL_HOOKS:
        for module in HOOK_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
    if name not in _EVAL_HOOKS:
        raise ConfigError(f'eval.hook={name!r} is not registered (registered: '
                          f'{", ".join(sorted(_EVAL_HOOKS)) or "none"})')
    return _EVAL_HOOKS[name]


# ------------------------------------------------------------------------- data + agent

@dataclass
class DataSetup:
    sampler: Any
    task_names: list[str]
    image_size: int
    control_hz: float
    stats: dict[str, Any]


def _open_store(path: str, key: str, image_size: int) -> Any:
    from vptr_training.data.store import EpisodeStore
    if not path:
        raise ConfigError(f'data.{key} is not set (path of an episode store)')
    store = EpisodeStore(path)
    if int(store.meta['image_size']) != image_size:
        raise ConfigError(f'data.{key}={path} holds {store.meta["image_size"]}x'
                          f'{store.meta["image_size"]} images but image_size={image_size}; '
                          'convert the data at that size or set image_size to match')
    return store


def _store_stats(store: Any) -> dict[str, Any]:
    meta = store.meta
    return {'path': str(Path(store.path).resolve()), 'kind': meta.get('kind'),
            'num_episodes': meta.get('num_episodes'), 'num_steps': meta.get('num_steps'),
            'tasks': list(meta.get('tasks', [])), 'state_stats': meta.get('state_stats'),
            'action_stats': meta.get('action_stats')}


def build_data(config: TrainConfig, rank: int = 0, world_size: int = 1,
               task_names: list[str] | None = None) -> DataSetup:
    """The sampler of this phase. `task_names` (from a phase-2 checkpoint) fixes the
    one-hot; otherwise it is the sorted union of the stores' tasks and data.extra_tasks."""
    from vptr_training.data.samplers import CQLSampler, ICVFSampler
    data, image_size = config.data, int(config.image_size)
    split = data.split or None
    if config.algo in PRETRAIN_ALGOS:
        store = _open_store(data.video, 'video', image_size)
        s = config.sampler
        sampler = ICVFSampler(store, config.batch_size, p_random=s.p_random,
                              p_traj=s.p_traj, p_curr=s.p_curr,
                              p_goal_is_intent=s.p_goal_is_intent, seed=config.seed,
                              rank=rank, world_size=world_size, split=split)
        return DataSetup(sampler, list(task_names or store.tasks), image_size,
                         float(store.meta['control_hz']), {'video': _store_stats(store)})
    stores = []
    for key in ('prior', 'target'):
        path, weight = getattr(data, key), getattr(data, f'{key}_weight')
        if path:
            stores.append((key, _open_store(path, key, image_size), float(weight)))
    if not stores:
        raise ConfigError('set data.prior and/or data.target (episode stores of robot data)')
    union = sorted({t for _, store, _ in stores for t in store.tasks} | set(data.extra_tasks))
    if task_names is None:
        task_names = union
    else:
        missing = sorted(set(union) - set(task_names))
        if missing:
            raise ConfigError(f'tasks {missing} of the data have no slot in the task one-hot '
                              f'of the checkpoint being continued ({task_names}); add them '
                              'to data.extra_tasks (or data.target) in the earlier phase')
    sampler = CQLSampler([(store, weight) for _, store, weight in stores], task_names,
                         config.batch_size, seed=config.seed, rank=rank,
                         world_size=world_size,
                         n_success_steps=config.sampler.n_success_steps, split=split)
    hz = {float(store.meta['control_hz']) for _, store, _ in stores}
    if len(hz) > 1:
        rates = ', '.join(f"{key}: {store.meta['control_hz']} Hz" for key, store, _ in stores)
        raise ConfigError(f'the robot stores have different control rates ({rates}): an '
                          'action means a different motion at each rate; convert them at '
                          'one --control-hz')
    return DataSetup(sampler, list(task_names), image_size, hz.pop(),
                     {key: _store_stats(store) for key, store, _ in stores})


def _set_state_normalization(agent: Any, config: TrainConfig, data: DataSetup) -> None:
    """A fresh robot agent standardises its state input with the statistics of the mixture
    it trains on (each store's meta.json `state_stats`, weighted as sampled)."""
    from vptr_training.algos.common import pooled_state_stats
    weights = {'prior': config.data.prior_weight, 'target': config.data.target_weight}
    pooled = pooled_state_stats((stats.get('state_stats'), weights.get(key, 0.0))
                                for key, stats in data.stats.items())
    if pooled is None:
        logger.warning('no state statistics in the stores (meta.json state_stats): the '
                       'state enters the policy unnormalised')
        return
    agent.set_state_normalization(*pooled)


def run_spec(config: TrainConfig, data: DataSetup) -> dict[str, Any]:
    return ckpt_io.make_spec(config.algo, data.image_size, data.task_names,
                             config.encoder.name, data.control_hz)


# ------------------------------------------------------------------------------ logging

class MetricsLog:
    """metrics.csv (+ eval.csv) and TensorBoard, on rank 0 only."""

    def __init__(self, run_dir: Path, enabled: bool, resume_step: int | None) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.writer: Any = None
        self._columns: dict[str, list[str]] = {}
        if not enabled:
            return
        for name in (METRICS_FILE, EVAL_FILE):
            path = run_dir / name
            if resume_step is not None and path.exists():
                self._truncate(path, resume_step)
            elif resume_step is None and path.exists():
                path.unlink()       # a fresh run in an old directory starts a fresh log
        try:
            from torch.utils.tensorboard import SummaryWriter
            # events after the checkpoint we resume from are dropped (its own step stays)
            purge = None if resume_step is None else resume_step + 1
            self.writer = SummaryWriter(str(run_dir / 'tb'), purge_step=purge)
        except ImportError as exc:      # tensorboard is optional at run time
            logger.warning(f'no TensorBoard logging ({exc})')

    def _truncate(self, path: Path, step: int) -> None:
        # Rows logged after the checkpoint we resume from belong to the lost future.
        with open(path, newline='') as f:
            rows = list(csv.reader(f))
        if not rows:
            return
        header, body = rows[0], [r for r in rows[1:] if r and int(r[0]) <= step]
        self._columns[path.name] = header
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows(body)
        tmp = path.with_name(f'.{path.name}.tmp')
        tmp.write_text(buf.getvalue())
        os.replace(tmp, path)

    def log(self, step: int, values: dict[str, float], file: str = METRICS_FILE,
            prefix: str = 'train') -> None:
        if not self.enabled:
            return
        path = self.run_dir / file
        columns = self._columns.get(file)
        if columns is None:
            columns = ['step'] + sorted(values)
            self._columns[file] = columns
            with open(path, 'w', newline='') as f:
                csv.writer(f).writerow(columns)
        with open(path, 'a', newline='') as f:
            # repr keeps every bit of a float, so runs can be compared exactly
            csv.writer(f).writerow([step] + [repr(float(values[c])) if c in values else ''
                                             for c in columns[1:]])
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f'{prefix}/{key}', value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


# ------------------------------------------------------------------------------ the loop

def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def init_from_previous_phases(config: TrainConfig, agent: Agent,
                              data: DataSetup) -> None:
    """Initialise from earlier phases: encoder.init_from (phase 1 encoder) and init_from
    (the whole agent of phase 2, continued in phase 3)."""
    expect_image = {'image_size': data.image_size, 'encoder': config.encoder.name}
    if config.encoder.init_from:
        source = ckpt_io.load_checkpoint(config.encoder.init_from, expect=expect_image,
                                         load_train_state=False)
        if source.encoder_state is None:
            raise CheckpointError(f'{source.path}: has no {ckpt_io.ENCODER_FILE} to '
                                  'initialise the encoder from')
        try:
            agent.load_encoder_state_dict(source.encoder_state)
        except CheckpointError as exc:
            raise CheckpointError(f'{source.path / ckpt_io.ENCODER_FILE}: {exc}') from None
    if config.init_from:
        source = ckpt_io.load_checkpoint(
            config.init_from, expect=dict(expect_image, algo=config.algo,
                                          task_names=data.task_names),
            load_train_state=bool(config.init_optimizer))
        _load_agent_state(agent, source.model_state, source.path)
        if config.init_optimizer:
            # moments and step counts continue; learning rates come from this config
            configured = {name: [group['lr'] for group in opt.param_groups]
                          for name, opt in agent.optimizers().items()}
            _load_optimizers(agent, source.optimizer_states, source.path)
            for name, opt in agent.optimizers().items():
                for group, lr in zip(opt.param_groups, configured[name]):
                    group['lr'] = lr


def _load_agent_state(agent: Agent, state: dict[str, torch.Tensor],
                      where: Path) -> None:
    try:
        agent.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f'{where}: weights do not fit this agent: '
                              f'{ckpt_io.state_dict_mismatch(exc)}') from None


def _load_optimizers(agent: Agent, states: dict[str, Any], where: Path) -> None:
    optimizers = agent.optimizers()
    if set(states) != set(optimizers):
        raise CheckpointError(f'{where}: optimizers {sorted(states)} do not match this '
                              f"agent's {sorted(optimizers)}")
    for name, optimizer in optimizers.items():
        try:
            optimizer.load_state_dict(states[name])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f'{where}: optimizer {name!r} state does not fit '
                                  f'({exc})') from None


# Keys that may change between a run and its resumption without changing the results.
RESUME_FREE_KEYS = {'steps', 'num_workers', 'prefetch', 'torch_threads', 'out_dir', 'log_every',
                    'eval_every', 'save_every', 'keep_last', 'progress', 'device'}


def _warn_config_changes(saved: dict[str, Any], config: TrainConfig,
                         dist_info: distributed.DistInfo) -> None:
    before, now = dict(flatten(saved)), dict(flatten(config.to_dict()))
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k)
                     and k.split('.')[0] not in RESUME_FREE_KEYS and not k.startswith('eval.'))
    if changed and dist_info.is_main:
        logger.warning("resuming with a config that differs from the checkpoint's in "
                       f'{", ".join(changed)}; the run will not match an uninterrupted one')


def _window_means(window: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for info in window for k in info})
    return {k: float(np.mean([info[k] for info in window if k in info])) for k in keys}


def train(config: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run one phase to `config.steps` updates. Returns a summary dict."""
    dist_info = distributed.init_from_env(config.device)
    try:
        return _train(config, resume, dist_info)
    finally:
        distributed.shutdown(dist_info)


def _train(config: TrainConfig, resume: bool,
           dist_info: distributed.DistInfo) -> dict[str, Any]:
    run_dir = Path(config.out_dir)
    device = dist_info.device
    if config.torch_threads > 0:
        torch.set_num_threads(int(config.torch_threads))
    resume_from = ckpt_io.latest_checkpoint(run_dir) if resume and run_dir.exists() else None
    if resume and resume_from is None and dist_info.is_main:
        logger.info(f'note: no checkpoint in {run_dir} to resume from, starting at step 0')
    if not resume and ckpt_io.latest_checkpoint(run_dir) is not None:
        if not config.overwrite:
            raise ConfigError(f'{run_dir} already holds a run; pass --resume to continue it, '
                              'overwrite=true to replace it, or choose another --out')
        if dist_info.is_main:
            _clear_run(run_dir)
        distributed.barrier(dist_info)
    state = None
    task_names = None
    if resume_from is not None:
        state = ckpt_io.load_checkpoint(resume_from)
        task_names = list(state.spec['task_names'])
    elif config.init_from and config.algo in ROBOT_ALGOS:
        # phase 3 keeps phase 2's one-hot layout (the target slot already exists)
        previous = ckpt_io.load_checkpoint(config.init_from, load_train_state=False,
                                           expect={'algo': config.algo})
        task_names = list(previous.spec['task_names'])

    _seed_everything(config.seed + dist_info.rank)
    data = build_data(config, dist_info.rank, dist_info.world_size, task_names)
    spec = run_spec(config, data)
    agent = make_agent(config, len(data.task_names)).to(device)
    step = 0
    if state is not None:
        ckpt_io.check_spec(state.spec, {'image_size': spec['image_size'], 'algo': spec['algo'],
                                        'encoder': spec['encoder']}, state.path)
        _load_agent_state(agent, state.model_state, state.path)
        _load_optimizers(agent, state.optimizer_states, state.path)
        data.sampler.load_state_dict(state.sampler_state)
        step = state.step
        _warn_config_changes(state.config, config, dist_info)
    else:
        if config.algo in ROBOT_ALGOS:
            _set_state_normalization(agent, config, data)
        # a phase-3 agent (init_from) is then restored whole, its phase-2 statistics included
        init_from_previous_phases(config, agent, data)
    if dist_info.enabled:
        agent.wrap_ddp(device_ids=[device.index] if device.type == 'cuda' else None)
    if state is not None and state.rng_state is not None:
        rng = dict(state.rng_state)
        per_rank = rng.pop('torch_per_rank', None)
        cuda_per_rank = rng.pop('cuda_per_rank', None)
        ckpt_io.restore_rng_state(rng)
        if per_rank is not None and len(per_rank) == dist_info.world_size:
            torch.set_rng_state(per_rank[dist_info.rank])
        if (cuda_per_rank is not None and device.type == 'cuda'
                and len(cuda_per_rank) == dist_info.world_size):
            torch.cuda.set_rng_state(torch.as_tensor(cuda_per_rank[dist_info.rank],
                                                     dtype=torch.uint8), device)

    if dist_info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / 'config.yaml')
    log = MetricsLog(run_dir, dist_info.is_main, step if state is not None else None)
    loader = _make_loader(config, data.sampler, device)
    hook = get_eval_hook(config.eval.hook) if config.eval.hook else None
    last_checkpoint = resume_from
    total = int(config.steps)
    bar = _progress(config, dist_info, step, total)
    # losses since the last log line; saved in checkpoints so a resumed run logs the
    # same means even when save_every is not a multiple of log_every
    window: list[dict[str, float]] = list((state.extra.get('log_window') or [])
                                          if state is not None else [])
    # throughput over the loop itself (loader wait + update), checkpoints and evals excluded
    wait_time = step_time = 0.0
    timed_steps = 0
    last: dict[str, float] = {}
    try:
        agent.train()
        while step < total:
            t0 = time.perf_counter()
            batch = next(loader)
            t1 = time.perf_counter()
            info = agent.update(batch)
            step += 1
            t2 = time.perf_counter()
            wait_time += t1 - t0
            step_time += t2 - t0
            timed_steps += 1
            window.append(info)
            if bar is not None:
                bar.update(1)
            if step % config.log_every == 0 or step == total:
                values = _window_means(window)
                last = dict(values)
                values['steps_per_s'] = timed_steps / max(step_time, 1e-9)
                values['data_wait_frac'] = wait_time / max(step_time, 1e-9)
                log.log(step, values)
                if bar is not None:
                    bar.set_postfix(_postfix(values), refresh=False)
                window, wait_time, step_time, timed_steps = [], 0.0, 0.0, 0
            if hook is not None and config.eval_every and (
                    step % config.eval_every == 0 or step == total):
                _run_eval(hook, agent, config, spec, step, run_dir, device,
                          last_checkpoint, dist_info, log, bar)
            if (config.save_every and step % config.save_every == 0) or step == total:
                last_checkpoint = _save(run_dir, step, agent, config, spec, data, loader,
                                        dist_info, {'log_window': window})
    finally:
        loader.close()
        if bar is not None:
            bar.close()
        log.close()
    return {'run_dir': str(run_dir),
            'checkpoint': None if last_checkpoint is None else str(last_checkpoint), 'step': step,
            'metrics': last, 'task_names': data.task_names, 'agent': agent}


def _clear_run(run_dir: Path) -> None:
    """Remove what an earlier run left in RUN_DIR (checkpoints, logs, plots)."""
    import shutil
    for name in (ckpt_io.CHECKPOINTS_DIR, 'tb', 'plots'):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (METRICS_FILE, EVAL_FILE, 'config.yaml'):
        (run_dir / name).unlink(missing_ok=True)


def _make_loader(config: TrainConfig, sampler: Any, device: torch.device) -> Any:
    from vptr_training.data.samplers import make_loader
    return make_loader(sampler, config.num_workers, config.prefetch,
                       pin_memory=device.type == 'cuda')


def _progress(config: TrainConfig, dist_info: distributed.DistInfo, step: int,
              total: int) -> Any:
    if not (config.progress and dist_info.is_main):
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=step, desc=f'{config.phase} ({config.algo})',
                unit='step', dynamic_ncols=True, mininterval=1.0)


def _postfix(values: dict[str, float]) -> dict[str, str]:
    keys = [k for k in values if k.endswith('loss')][:3] + ['steps_per_s', 'data_wait_frac']
    return {k.replace('_frac', ''): f'{values[k]:.3g}' for k in keys if k in values
            and math.isfinite(values[k])}


def _run_eval(hook: EvalHook, agent: Agent, config: TrainConfig,
              spec: dict[str, Any], step: int, run_dir: Path, device: torch.device,
              checkpoint_dir: Path | None, dist_info: distributed.DistInfo,
              log: MetricsLog, bar: Any) -> None:
    if dist_info.is_main:
        agent.eval()
        try:
            results = hook(EvalContext(agent, config, spec, step, run_dir, device,
                                       checkpoint_dir, dict(config.eval.args)))
        finally:
            agent.train()
        results = {k: float(v) for k, v in (results or {}).items()}
        log.log(step, results, EVAL_FILE, prefix='eval')
        message = ', '.join(f'{k}={v:.4g}' for k, v in results.items())
        if bar is not None:
            bar.write(f'eval @ {step}: {message}')
    distributed.barrier(dist_info)


def _save(run_dir: Path, step: int, agent: Agent, config: TrainConfig,
          spec: dict[str, Any], data: DataSetup, loader: Any,
          dist_info: distributed.DistInfo, extra: dict[str, Any]) -> Path | None:
    rng = ckpt_io.capture_rng_state()
    if dist_info.enabled:        # every rank's torch RNG (collective: all ranks call it)
        rng['torch_per_rank'] = distributed.gather_tensors(dist_info, torch.get_rng_state())
        if dist_info.device.type == 'cuda':   # and each rank's own GPU generator
            rng['cuda_per_rank'] = distributed.gather_tensors(
                dist_info, torch.cuda.get_rng_state(dist_info.device))
    distributed.barrier(dist_info)
    path = None
    if dist_info.is_main:
        path = ckpt_io.save_checkpoint(
            run_dir, step, agent.state_dict(), config=config, spec=spec, stats=data.stats,
            encoder_state=agent.encoder_state_dict(),
            optimizer_states={name: opt.state_dict()
                              for name, opt in agent.optimizers().items()},
            sampler_state=loader.state_dict(), rng_state=rng, extra=extra,
            keep_last=config.keep_last)
    distributed.barrier(dist_info)
    return path if path is not None else ckpt_io.latest_checkpoint(run_dir)


def load_and_train(config_file: str | None, overrides: list[str], phase: str,
                   out_dir: str | None = None, resume: bool = False) -> dict[str, Any]:
    """Resolve the config for `phase` (a run dir's saved config when resuming without
    --config) and train."""
    items = list(overrides)
    if out_dir:
        items.append(f'out_dir={out_dir}')
    if config_file is None:
        if not resume or not out_dir:
            raise ConfigError('give --config FILE (or --resume --out RUN_DIR to continue a run '
                              'with its saved config)')
        saved = Path(out_dir) / 'config.yaml'
        if not saved.is_file():
            raise ConfigError(f'{saved}: no saved config to resume from; give --config')
        config_file = str(saved)
    config = load_config(config_file, items)
    if config.phase != phase:
        raise ConfigError(f'{config_file} is a {config.phase!r} config; run it with '
                          f'`vptr {config.phase}` (or set phase={phase})')
    allowed = PRETRAIN_ALGOS if phase == 'pretrain' else ROBOT_ALGOS
    if config.algo not in allowed:
        raise ConfigError(f'algo {config.algo!r} cannot run in phase {phase!r} '
                          f'(choose {" or ".join(allowed)})')
    return train(config, resume=resume)
