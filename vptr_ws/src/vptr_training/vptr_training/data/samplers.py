"""Batch samplers for ICVF pre-training (video) and CQL / BC (robot data).

Both samplers are `torch.utils.data.IterableDataset`s over an infinite stream of batches.
Randomness is counter based: batch number k of a given (seed, rank) is drawn from its own
generator seeded with SeedSequence([seed, rank, k]). Consequences, all deliberate:
- the batch sequence is the same whatever the number of DataLoader workers (worker w of W
  draws batches w, w + W, ... and the in-order DataLoader interleaves them back);
- each DDP rank gets its own stream (rank is part of the seed);
- the whole sampler state is one integer (the next batch number), so `state_dict()` /
  `load_state_dict()` resume the exact data order, with any number of workers.
Sampling is vectorised: indices are drawn for the whole batch, then images are fetched with
one `store.gather` call per key.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, get_worker_info, IterableDataset

from vptr_training.errors import ConfigError, DataError
from vptr_training.robot.conventions import ptr_rewards, scale_action

Batch = dict[str, np.ndarray]


def _rng_for_batch(seed: int, rank: int, batch_number: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [int(seed), int(rank), int(batch_number)])))


def _transition_index(store: Any, split: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Global indices of every non-final observation (a transition start) and the global
    index of the last observation of its episode, for the episodes of `split`."""
    starts, ends = [], []
    for info in store.episodes:
        if split is not None and info.split != split:
            continue
        if info.length < 2:         # a single frame has no transition
            continue
        first = int(info.start)
        last = first + int(info.length) - 1
        starts.append(np.arange(first, last, dtype=np.int64))
        ends.append(np.full(last - first, last, dtype=np.int64))
    if not starts:
        raise DataError(getattr(store, 'path', '<store>'),
                        f'no episode with at least 2 frames in split {split!r}')
    return np.concatenate(starts), np.concatenate(ends)


class _CountedBatchStream(IterableDataset):
    """Shared machinery: counter-based RNG, worker/rank sharding, resume state."""

    def __init__(self, seed: int, rank: int, world_size: int) -> None:
        super().__init__()
        if not 0 <= rank < world_size:
            raise ConfigError(f'rank {rank} is not in [0, world_size={world_size})')
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.next_batch = 0          # number of the next batch `sample()` returns

    def sample_batch(self, batch_number: int) -> Batch:
        raise NotImplementedError

    def sample(self) -> Batch:
        batch = self.sample_batch(self.next_batch)
        self.next_batch += 1
        return batch

    def state_dict(self) -> dict[str, int]:
        # No rank: under DDP every rank consumes the same number of batches, so rank 0's
        # state (the one saved) resumes every rank.
        return {'seed': self.seed, 'world_size': self.world_size,
                'next_batch': self.next_batch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ('seed', 'world_size'):
            if key in state and int(state[key]) != getattr(self, key):
                raise ConfigError(f'sampler state was saved with {key}={state[key]}, this '
                                  f'run has {key}={getattr(self, key)}')
        self.next_batch = int(state['next_batch'])

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker_id, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        number = self.next_batch + worker_id
        while True:
            yield {key: torch.from_numpy(value) for key, value in
                   self.sample_batch(number).items()}
            number += num_workers


class ICVFSampler(_CountedBatchStream):
    """(s, s', g, z) batches for ICVF from an action-free video store.

    Follows the public ICVF code's GCSDataset (intent_sametraj=True), see docs/method.md:
    s uniform over non-final frames; goal g: p_random a uniform corpus frame, p_traj a frame
    uniform in the strict future of the same clip (up to its last frame), p_curr s itself;
    intent z: s itself with p_curr, else a uniform future frame of the same clip; then with
    p_goal_is_intent the goal is replaced by the intent. r(s, x) = 0 if the indices are
    equal else -1 and mask = 1 - success, for x = g (rewards) and x = z (intent_rewards).
    (The ICVF code draws the trajectory goal by rounding a convex combination of s and the
    clip end; we draw it uniformly over s+1..end so the three mixture parts stay disjoint.)
    """

    def __init__(self, store: Any, batch_size: int, p_random: float = 0.1,
                 p_traj: float = 0.8, p_curr: float = 0.1, p_goal_is_intent: float = 0.5,
                 seed: int = 0, rank: int = 0, world_size: int = 1,
                 split: str | None = 'train') -> None:
        super().__init__(seed, rank, world_size)
        probs = np.array([p_random, p_traj, p_curr], dtype=np.float64)
        if np.any(probs < 0) or abs(probs.sum() - 1.0) > 1e-6:
            raise ConfigError(f'ICVF goal mixture p_random={p_random}, p_traj={p_traj}, '
                              f'p_curr={p_curr} must be non-negative and sum to 1')
        if not 0.0 <= p_goal_is_intent <= 1.0:
            raise ConfigError(f'p_goal_is_intent={p_goal_is_intent} is not in [0, 1]')
        self.store = store
        self.batch_size = int(batch_size)
        self.p_random, self.p_traj, self.p_curr = (float(p) for p in probs)
        self.p_goal_is_intent = float(p_goal_is_intent)
        self.valid_idx, self.clip_end = _transition_index(store, split)
        # Random goals come from every frame of the sampled split (finals included).
        frames = [np.arange(int(e.start), int(e.start) + int(e.length), dtype=np.int64)
                  for e in store.episodes if split is None or e.split == split]
        self.all_frames = np.concatenate(frames)

    def _future(self, rng: np.random.Generator, idx: np.ndarray,
                end: np.ndarray) -> np.ndarray:
        # uniform integer in [idx + 1, end]; end > idx holds for non-final frames
        return idx + 1 + np.floor(rng.random(idx.shape) * (end - idx)).astype(np.int64)

    def sample_indices(self, batch_number: int) -> dict[str, np.ndarray]:
        """The global frame indices of batch `batch_number` (for tests and diagnostics)."""
        rng = _rng_for_batch(self.seed, self.rank, batch_number)
        size = self.batch_size
        pick = rng.integers(0, len(self.valid_idx), size)
        idx, end = self.valid_idx[pick], self.clip_end[pick]
        random_goal = self.all_frames[rng.integers(0, len(self.all_frames), size)]
        u = rng.random(size)
        goal = np.where(u < self.p_curr, idx,
                        np.where(u < self.p_curr + self.p_traj,
                                 self._future(rng, idx, end), random_goal))
        intent = np.where(rng.random(size) < self.p_curr, idx, self._future(rng, idx, end))
        goal_is_intent = rng.random(size) < self.p_goal_is_intent
        goal = np.where(goal_is_intent, intent, goal)
        return {'idx': idx, 'next_idx': idx + 1, 'goal': goal, 'intent': intent,
                'goal_is_intent': goal_is_intent}

    def sample_batch(self, batch_number: int) -> Batch:
        ind = self.sample_indices(batch_number)
        goal_success = (ind['goal'] == ind['idx']).astype(np.float32)
        intent_success = (ind['intent'] == ind['idx']).astype(np.float32)
        return {
            'observations': self.store.gather('images', ind['idx']),
            'next_observations': self.store.gather('images', ind['next_idx']),
            'goals': self.store.gather('images', ind['goal']),
            'intents': self.store.gather('images', ind['intent']),
            'rewards': goal_success - 1.0,
            'masks': 1.0 - goal_success,
            'intent_rewards': intent_success - 1.0,
            'intent_masks': 1.0 - intent_success,
        }


class _RobotSource:
    """Per-store arrays aligned with the store's global step index."""

    def __init__(self, store: Any, task_index: dict[str, int], n_success_steps: int,
                 split: str | None, sampled: bool) -> None:
        self.store = store
        if sampled:
            self.valid_idx, _ = _transition_index(store, split)
        else:       # weight 0: only its task names matter, it may hold no training data
            self.valid_idx = np.zeros(0, dtype=np.int64)
        num_steps = int(np.sum(store.episode_lengths))
        self.rewards = np.full(num_steps, -1.0, dtype=np.float32)
        self.terminals = np.zeros(num_steps, dtype=np.float32)
        self.task_ids = np.full(num_steps, -1, dtype=np.int64)
        for info in store.episodes:
            if info.task not in task_index:
                raise ConfigError(f'{getattr(store, "path", "<store>")}: task {info.task!r} '
                                  f'is not in the task list {sorted(task_index)}')
            start, transitions = int(info.start), int(info.length) - 1
            rewards, terminals = ptr_rewards(transitions, bool(info.success), n_success_steps)
            self.rewards[start:start + transitions] = rewards
            self.terminals[start:start + transitions] = terminals
            self.task_ids[start:start + info.length] = task_index[info.task]


class CQLSampler(_CountedBatchStream):
    """Transition batches from a weighted mixture of robot stores (PTR conventions).

    Each batch element picks a store with probability proportional to its weight (phase 3
    default 0.9 prior / 0.1 target), then a transition uniformly among that store's
    non-final observations. Rewards are PTR's {-1, +10} (last `n_success_steps`
    transitions of successful episodes, which are terminal); actions are scaled to [-1, 1];
    task ids index `task_names` (the sorted union of prior and target tasks).
    """

    def __init__(self, stores: Sequence[tuple[Any, float]], task_names: Sequence[str],
                 batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 n_success_steps: int = 3, split: str | None = 'train') -> None:
        super().__init__(seed, rank, world_size)
        if not stores:
            raise ConfigError('CQLSampler needs at least one (store, weight) pair')
        weights = np.array([float(w) for _, w in stores], dtype=np.float64)
        if np.any(weights < 0) or weights.sum() <= 0:
            raise ConfigError(f'store weights {weights.tolist()} must be >= 0 with a '
                              'positive sum')
        sizes = {int(store.meta['image_size']) for store, _ in stores}
        if len(sizes) != 1:
            raise ConfigError(f'the stores have different image sizes {sorted(sizes)}')
        self.image_size = sizes.pop()
        self.task_names = list(task_names)
        task_index = {name: i for i, name in enumerate(self.task_names)}
        self.weights = weights / weights.sum()
        self.batch_size = int(batch_size)
        # Stores with weight 0 are still checked (their tasks must be known) but never read.
        self.sources = [_RobotSource(store, task_index, n_success_steps, split, weight > 0)
                        for (store, _), weight in zip(stores, self.weights)]

    def sample_indices(self, batch_number: int) -> tuple[np.ndarray, np.ndarray]:
        """(which store, global index within that store) for each element of a batch.

        Elements come grouped by store (store 0's first): each store's rows are then one
        contiguous gather and the batch needs no scatter copy. The order inside a batch
        carries no meaning for the losses."""
        rng = _rng_for_batch(self.seed, self.rank, batch_number)
        which = np.sort(rng.choice(len(self.sources), size=self.batch_size, p=self.weights))
        u = rng.random(self.batch_size)
        idx = np.empty(self.batch_size, dtype=np.int64)
        for s, source in enumerate(self.sources):
            sel = which == s
            idx[sel] = source.valid_idx[(u[sel] * len(source.valid_idx)).astype(np.int64)]
        return which, idx

    def sample_batch(self, batch_number: int) -> Batch:
        which, idx = self.sample_indices(batch_number)
        parts: dict[str, list[np.ndarray]] = {}
        for s, source in enumerate(self.sources):
            i = idx[which == s]
            if i.size == 0:
                continue
            store = source.store
            for key, value in (
                    ('observations', store.gather('images', i)),
                    ('next_observations', store.gather('images', i + 1)),
                    ('states', store.gather('states', i).astype(np.float32, copy=False)),
                    ('next_states',
                     store.gather('states', i + 1).astype(np.float32, copy=False)),
                    ('actions', scale_action(store.gather_actions(i))),
                    ('rewards', source.rewards[i]),
                    ('masks', 1.0 - source.terminals[i]),
                    ('task_ids', source.task_ids[i])):
                parts.setdefault(key, []).append(value)
        return {key: values[0] if len(values) == 1 else np.concatenate(values)
                for key, values in parts.items()}


class BatchLoader:
    """An infinite iterator of torch batches over a sampler, with resumable state.

    The state counts the batches handed to the training loop (not the ones prefetched by
    workers), so resuming restarts exactly at the first batch the loop has not used.
    """

    def __init__(self, sampler: _CountedBatchStream, num_workers: int = 0,
                 prefetch: int = 2, pin_memory: bool = False) -> None:
        self.sampler = sampler
        self.num_workers = int(num_workers)
        self.prefetch = int(prefetch)
        self.pin_memory = pin_memory
        self._start = sampler.next_batch
        self._consumed = 0
        self._iterator: Iterator[dict[str, torch.Tensor]] | None = None

    def _make_iterator(self) -> Iterator[dict[str, torch.Tensor]]:
        self.sampler.next_batch = self._start + self._consumed
        if self.num_workers == 0:
            return iter(self.sampler)
        loader = DataLoader(self.sampler, batch_size=None, num_workers=self.num_workers,
                            prefetch_factor=max(1, self.prefetch), persistent_workers=False,
                            pin_memory=self.pin_memory,
                            # its own generator: creating the iterator must not draw from
                            # the global torch RNG, or a resumed run would diverge
                            generator=torch.Generator().manual_seed(self.sampler.seed),
                            multiprocessing_context='fork' if _can_fork() else None)
        return iter(loader)

    def __iter__(self) -> 'BatchLoader':
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        if self._iterator is None:
            self._iterator = self._make_iterator()
        batch = next(self._iterator)
        self._consumed += 1
        return batch

    def state_dict(self) -> dict[str, int]:
        state = self.sampler.state_dict()
        state['next_batch'] = self._start + self._consumed
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.close()
        self.sampler.load_state_dict(state)
        self._start, self._consumed = self.sampler.next_batch, 0

    def close(self) -> None:
        # Dropping the DataLoader iterator shuts its workers down.
        self._iterator = None


def _can_fork() -> bool:
    import multiprocessing
    return 'fork' in multiprocessing.get_all_start_methods()


def make_loader(sampler: _CountedBatchStream, num_workers: int = 0, prefetch: int = 2,
                pin_memory: bool | None = None) -> BatchLoader:
    """Infinite iterator of batches (dict of torch tensors) drawn by `num_workers` worker
    processes (0: in the calling process), `prefetch` batches ahead per worker. Memory is
    pinned only when CUDA is available (pinning is useless, and slow, on CPU)."""
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    return BatchLoader(sampler, num_workers, prefetch, pin_memory)
