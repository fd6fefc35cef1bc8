"""The scripted collector's episode bookkeeping, without ROS.

States: need_reset -> resetting (the sim's ~/reset was called) -> ready (waiting for the
first expert action of the new episode) -> running -> need_reset ... -> finished.
An episode ends on task success (ignored during the first `min_steps` steps, so a success
flag still in flight from the previous episode cannot end the new one) or after
`max_steps` steps.
"""
from __future__ import annotations

from dataclasses import dataclass

NEED_RESET = 'need_reset'
RESETTING = 'resetting'
READY = 'ready'
RUNNING = 'running'
FINISHED = 'finished'


@dataclass
class EpisodeEnd:
    index: int
    success: bool
    steps: int


class CollectionPlan:
    def __init__(self, num_episodes: int, max_steps: int, min_steps: int = 2) -> None:
        if num_episodes < 1 or max_steps < 1:
            raise ValueError('num_episodes and max_steps must be positive')
        self.num_episodes = int(num_episodes)
        self.max_steps = int(max_steps)
        self.min_steps = int(min_steps)
        self.state = NEED_RESET
        self.episode = 0          # index of the current / next episode
        self.steps = 0
        self.results: list[EpisodeEnd] = []

    def should_reset(self) -> bool:
        """True once per episode: the caller requests the sim reset now."""
        if self.state != NEED_RESET:
            return False
        self.state = RESETTING
        return True

    def reset_done(self, ok: bool) -> None:
        self.state = READY if ok else NEED_RESET

    def begin(self) -> bool:
        """Called when control data for the new episode arrives; True = episode starts."""
        if self.state != READY:
            return False
        self.state = RUNNING
        self.steps = 0
        return True

    def after_step(self, success: bool) -> EpisodeEnd | None:
        """Count a control step; returns the episode's end when it ends."""
        if self.state != RUNNING:
            return None
        self.steps += 1
        succeeded = bool(success) and self.steps > self.min_steps
        if not succeeded and self.steps < self.max_steps:
            return None
        end = EpisodeEnd(self.episode, succeeded, self.steps)
        self.results.append(end)
        self.episode += 1
        self.state = FINISHED if self.episode >= self.num_episodes else NEED_RESET
        return end

    @property
    def success_rate(self) -> float:
        return sum(r.success for r in self.results) / max(1, len(self.results))
