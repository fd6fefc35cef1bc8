"""The agent contract: what the training loop, the checkpoint code and `Policy` call.

`Agent` (a Protocol) is every learner (ICVF, VIP, CQL, BC); `ActingAgent` adds what
`policy.Policy` needs from a robot learner (CQL, BC). `AgentBase` writes the plumbing that
every learner shares once; an algorithm file declares which of its attributes it means:

    class Agent(AgentBase):
        OPTIMIZERS = {'critic': 'critic_optimizer', 'actor': 'actor_optimizer'}
        DDP_MODULES = ('critic', 'actor')           # wrapped by wrap_ddp, in this order
        ENCODERS = {'critic.encoder': 'CQL critic',  # the first is saved for the next phase,
                    'actor.encoder': 'CQL actor'}    # every one is loaded from it

and keeps its networks, its losses and `update()` in its own file (read top to bottom).
Algorithm names map to their modules in `vptr_training.algos` (`ALGOS`, `make_agent`).
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional, Protocol, runtime_checkable

import torch
from torch import nn

from vptr_training.algos.common import (broadcast_parameters, ddp_wrap, encoder_state_copy,
                                        load_encoder_strict, module_device)


@runtime_checkable
class Agent(Protocol):
    """A learner as the runner and the checkpoint code see it (also an `nn.Module`:
    `state_dict`, `load_state_dict`, `to`, `train`, `eval`)."""

    config: Any                 # the algorithm's Config dataclass, derived fields filled

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on a batch of the algorithm's sampler; scalar metrics."""

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Name -> optimizer (checkpointed and restored by name)."""

    def wrap_ddp(self, process_group: Optional[object] = None,
                 device_ids: Optional[list[int]] = None) -> None:
        """DDP around the trainable modules (after init_process_group and `.to(device)`)."""

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder the next phase starts from (a detached CPU copy)."""

    def load_encoder_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Initialise every encoder from one encoder (strict; CheckpointError)."""

    @property
    def device(self) -> torch.device:
        """Where the agent's parameters live."""


@runtime_checkable
class ActingAgent(Agent, Protocol):
    """A robot learner (CQL, BC): what `Policy` calls."""

    def act(self, images: torch.Tensor, states: torch.Tensor, task_ids: torch.Tensor,
            mode: str = 'actor', num_samples: int = 16) -> torch.Tensor:
        """uint8 images (B, S, S, 3), states (B, 7), task ids (B,) -> actions (B, 7) in
        [-1, 1]."""

    def value(self, images: torch.Tensor, states: torch.Tensor,
              task_ids: torch.Tensor) -> torch.Tensor:
        """min_k Q_k(s, pi(s)), (B,) (ConfigError for a learner without a critic)."""


class AgentBase(nn.Module):
    """The plumbing of `Agent`, driven by three class attributes (see the module docstring).

    DDP (algos/common.py): the wrappers live in `self._ddp` (name -> wrapper), outside the
    module tree, so state_dict keys never change; `update()` takes
    `self._ddp.get(name, module)`. Parameters outside any wrapper that must match across
    ranks (target networks, temperatures) are listed by `replicated_parameters()` and
    broadcast from rank 0 when wrapping; `self._process_group` is kept for averaging
    their gradients.
    """

    OPTIMIZERS: ClassVar[dict[str, str]] = {}     # checkpoint name -> attribute (None: skipped)
    DDP_MODULES: ClassVar[tuple[str, ...]] = ()   # attributes wrapped by wrap_ddp
    ENCODERS: ClassVar[dict[str, str]] = {}       # dotted module path -> name in errors

    def __init__(self) -> None:
        super().__init__()
        self._ddp: dict[str, nn.Module] = {}
        self._process_group: Optional[object] = None

    def set_state_normalization(self, mean: list[float], std: list[float]) -> None:
        """Standardise the robot state inputs with the training data's statistics (a fresh
        agent of a robot phase; the runner calls it, a continued agent keeps its own).
        Agents without a state input ignore it."""
        actor = getattr(self, 'actor', None)
        if actor is not None and hasattr(actor, 'set_state_normalization'):
            actor.set_state_normalization(mean, std)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        found = {name: getattr(self, attr) for name, attr in self.OPTIMIZERS.items()}
        return {name: opt for name, opt in found.items() if opt is not None}

    def replicated_parameters(self) -> list[nn.Parameter]:
        """Parameters outside the DDP wrappers that every rank must share (rank 0's)."""
        return []

    def wrap_ddp(self, process_group: Optional[object] = None,
                 device_ids: Optional[list[int]] = None) -> None:
        """Wrap DDP_MODULES; broadcast `replicated_parameters()` from rank 0.

        Broadcast, not re-copied from the online networks: after a resume or a phase-3
        `init_from` a restored target differs from its online network and must survive.
        """
        self._process_group = process_group
        for name in self.DDP_MODULES:
            self._ddp[name] = ddp_wrap(getattr(self, name), process_group, device_ids)
        replicated = self.replicated_parameters()
        if replicated:
            broadcast_parameters(replicated, process_group)

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        return encoder_state_copy(self.get_submodule(next(iter(self.ENCODERS))))

    def load_encoder_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        for path, where in self.ENCODERS.items():
            load_encoder_strict(self.get_submodule(path), state_dict, where)

    @property
    def device(self) -> torch.device:
        return module_device(self)
