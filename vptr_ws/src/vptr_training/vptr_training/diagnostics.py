"""Value diagnostics: does the critic know where success lies?

- `episode_values` / `plot_episode_values`: V(s_t) = min_k Q_k(s_t, pi(s_t)) along one
  stored episode (a good critic rises towards the end of a successful episode).
- `value_separation` / `plot_value_separation`: held-out successful vs failed episodes, each
  scored by its mean value; AUROC (probability that a random successful episode scores above
  a random failed one, ties count half) and the gap of the means.
Functions take a `Policy` (vptr_training.policy), or an agent wrapped with `Policy(agent,
spec)`, and an `EpisodeStore`. The `value-separation` evaluation hook runs them during
training (config: eval.hook=value-separation eval.args.store=PATH).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vptr_training.errors import DataError


def episode_values(policy: Any, store: Any, episode_index: int, task: str | None = None,
                   batch_size: int = 64) -> np.ndarray:
    """(N,) value of every observation of one episode, conditioned on its task (or `task`)."""
    episode = store.episode(episode_index)
    if episode.get('states') is None:
        raise DataError(getattr(store, 'path', '<store>'),
                        'a video store has no states; value diagnostics need robot data')
    return policy.values(np.asarray(episode['images']), np.asarray(episode['states']),
                         task or episode['task'], batch_size=batch_size)


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save_figure(fig: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.stem}.tmp{os.getpid()}{path.suffix}')
    fig.savefig(tmp, dpi=100, bbox_inches='tight')
    os.replace(tmp, path)
    return path


def plot_episode_values(values: np.ndarray | dict[str, np.ndarray], path: str | os.PathLike,
                        title: str = 'value along the episode') -> Path:
    """Line plot of one or several value curves (label -> values) to a PNG."""
    plt = _pyplot()
    curves = values if isinstance(values, dict) else {'V(s_t)': values}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, curve in curves.items():
        ax.plot(np.arange(len(curve)), curve, label=label)
    ax.set_xlabel('step t')
    ax.set_ylabel('min_k Q_k(s_t, pi(s_t))')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    try:
        return _save_figure(fig, path)
    finally:
        plt.close(fig)


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(score of a positive > score of a negative), ties counting 1/2 (Mann-Whitney U)."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return float('nan')
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind='mergesort')
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [scores.size]])
    for lo, hi in zip(starts, ends):
        ranks[order[lo:hi]] = 0.5 * (lo + hi - 1) + 1.0
    u = ranks[:pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


@dataclass
class Separation:
    auroc: float
    mean_gap: float                  # mean score of successes - mean score of failures
    success_mean: float
    failure_mean: float
    num_success: int
    num_failure: int
    episode_scores: dict[int, float] = field(default_factory=dict)
    episode_success: dict[int, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {'value_auroc': self.auroc, 'value_gap': self.mean_gap,
                'value_success_mean': self.success_mean,
                'value_failure_mean': self.failure_mean,
                'num_success': float(self.num_success), 'num_failure': float(self.num_failure)}


def value_separation(policy: Any, store: Any, episodes: Sequence[int] | None = None,
                     split: str | None = 'val', reduce: str = 'mean',
                     max_episodes: int | None = None) -> Separation:
    """Score episodes by their mean (or 'final', or 'max') value and compare successes with
    failures. Default episodes: the store's `split` ('val' = held out; None = all)."""
    if episodes is None:
        episodes = [e.index for e in store.episodes if split is None or e.split == split]
        if not episodes:
            raise DataError(getattr(store, 'path', '<store>'),
                            f'no episodes in split {split!r} to measure value separation on')
    episodes = list(episodes)[:max_episodes] if max_episodes else list(episodes)
    reducers = {'mean': np.mean, 'final': lambda v: v[-1], 'max': np.max}
    if reduce not in reducers:
        raise ValueError(f'reduce must be one of {sorted(reducers)}')
    scores, success = {}, {}
    for index in episodes:
        scores[index] = float(reducers[reduce](episode_values(policy, store, index)))
        success[index] = bool(store.episodes[index].success)
    pos = [scores[i] for i in episodes if success[i]]
    neg = [scores[i] for i in episodes if not success[i]]
    nan = float('nan')
    return Separation(
        auroc=auroc(pos, neg),
        mean_gap=float(np.mean(pos) - np.mean(neg)) if pos and neg else nan,
        success_mean=float(np.mean(pos)) if pos else nan,
        failure_mean=float(np.mean(neg)) if neg else nan,
        num_success=len(pos), num_failure=len(neg), episode_scores=scores,
        episode_success=success)


def plot_value_separation(result: Separation, path: str | os.PathLike,
                          title: str = 'episode value: successes vs failures') -> Path:
    plt = _pyplot()
    pos = [s for i, s in result.episode_scores.items() if result.episode_success[i]]
    neg = [s for i, s in result.episode_scores.items() if not result.episode_success[i]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    everything = pos + neg
    bins = np.linspace(min(everything), max(everything) + 1e-6, 21) if everything else 10
    ax.hist(pos, bins=bins, alpha=0.6, label=f'success ({len(pos)})', color='tab:green')
    ax.hist(neg, bins=bins, alpha=0.6, label=f'failure ({len(neg)})', color='tab:red')
    ax.set_xlabel('episode mean value')
    ax.set_ylabel('episodes')
    ax.set_title(f'{title}\nAUROC {result.auroc:.3f}, gap {result.mean_gap:.3g}')
    ax.legend()
    try:
        return _save_figure(fig, path)
    finally:
        plt.close(fig)


def value_separation_hook(ctx: Any) -> dict[str, float]:
    """Evaluation hook: eval.args.store (robot store with held-out episodes), optional
    eval.args.split (default 'val'), eval.args.max_episodes, eval.args.plot (bool)."""
    from vptr_training.data.store import EpisodeStore
    from vptr_training.errors import ConfigError
    from vptr_training.policy import Policy
    store_path = ctx.args.get('store') or ctx.config.data.target
    if not store_path:
        raise ConfigError('eval.hook=value-separation needs eval.args.store=PATH')
    store = EpisodeStore(store_path)
    policy = Policy(ctx.agent, ctx.spec, mode='actor', device=ctx.device)
    result = value_separation(policy, store, split=ctx.args.get('split', 'val'),
                              max_episodes=ctx.args.get('max_episodes'))
    if ctx.args.get('plot', True):
        plot_value_separation(result, Path(ctx.run_dir) / 'plots' /
                              f'value_separation_{ctx.step:08d}.png')
    return result.as_dict()


def _register() -> None:
    from vptr_training.training.runner import register_eval_hook
    register_eval_hook('value-separation', value_separation_hook)


_register()
