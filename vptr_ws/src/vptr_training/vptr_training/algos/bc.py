"""Behaviour cloning baseline (e.g. "BC on pre-trained features", MVP+BC / R3M+BC rows).

The actor network of CQL (its own encoder + tanh-Gaussian head on [latent, 7-D state, task
one-hot]), trained by one of two objectives (`objective`):
- 'mse' (default, a deviation from the likelihood the BC baselines are usually written
  with): squared error of the deterministic action tanh(mean); log_std is not trained (the
  policy acts with tanh(mean)). Measured on simulated target demos, the likelihood
  objective left the actor at the constant predictor's error for thousands of updates,
  while MSE fits in a few hundred: the likelihood's gradient is dominated by the atanh of
  saturated (+-1) actions, and even a likelihood term for log_std alone, sharing the trunk,
  held the mean at the constant predictor (docs/method.md);
- 'nll': negative log-likelihood of the dataset actions under the tanh-Gaussian, mean and
  std together. Actions are clipped to +-0.999 before atanh so gripper actions at exactly
  +-1 stay finite.
Frozen-encoder variants: `freeze_encoder=True` after `load_encoder_state_dict`.

Batch: the CQLSampler keys (observations, states, actions, task_ids are used).
"""

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import nn

from vptr_training.algos.base import AgentBase
from vptr_training.algos.common import ImageActor, jitter_kwargs, one_hot_tasks, prepare_images
from vptr_training.errors import ConfigError
from vptr_training.nets.encoders import make_encoder, to_float_images
from vptr_training.nets.heads import sample_tanh_gaussian, tanh_gaussian_log_prob


@dataclass
class Config:
    num_tasks: int = 1
    lr: float = 1e-4
    action_dim: int = 7
    state_dim: int = 7
    encoder: str = 'small'
    image_size: int = 128
    latent_dim: int = 256
    actor_hidden_dims: Sequence[int] = (256, 256, 256)
    action_clip: float = 0.999
    augment: bool = True            # random shift + colour jitter (as CQL)
    shift_pad: int = 4
    color_jitter: bool = True
    jitter_brightness: float = 0.2
    jitter_contrast: float = 0.1
    jitter_saturation: float = 0.1
    jitter_hue: float = 0.03
    jitter_p: float = 0.8
    freeze_encoder: bool = False
    objective: str = 'mse'          # 'mse' | 'nll' (see the module docstring)


OBJECTIVES = ('mse', 'nll')


def bc_loss(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor,
            action_clip: float = 0.999, objective: str = 'mse'
            ) -> tuple[torch.Tensor, dict[str, float]]:
    """BC loss of dataset actions (B, A) in [-1, 1] for a tanh-Gaussian (mean, log_std).

    'nll': -mean_b log pi(a_b). 'mse': mean_{b,i} (tanh(mean) - a)^2.
    """
    action_mse = (torch.tanh(mean) - actions).pow(2).mean()
    with torch.set_grad_enabled(objective == 'nll' and torch.is_grad_enabled()):
        nll = -tanh_gaussian_log_prob(mean, log_std, actions, action_clip).mean()
    if objective == 'nll':
        loss = nll
    elif objective == 'mse':
        # The zero-weighted log_std term gives the log_std head a (zero) gradient, so DDP's
        # reducer sees every parameter used in each step.
        loss = action_mse + 0.0 * log_std.sum()
    else:
        raise ConfigError(f'unknown BC objective {objective!r}; use one of '
                          f'{", ".join(OBJECTIVES)}')
    info = {'bc_loss': loss.item(), 'action_mse': action_mse.item(), 'nll': nll.item(),
            'log_std_mean': log_std.mean().item()}
    return loss, info


class Agent(AgentBase):
    """BC learner; `act(..., mode='actor')` like CQL (q-rerank needs a critic)."""

    OPTIMIZERS = {'actor': 'optimizer'}
    DDP_MODULES = ('actor',)
    ENCODERS = {'actor.encoder': 'BC actor'}

    def __init__(self, config: Config,
                 encoder_factory: Optional[Callable[[], nn.Module]] = None) -> None:
        super().__init__()
        self.config = config
        encoder = encoder_factory() if encoder_factory is not None else make_encoder(
            config.encoder, config.image_size, config.latent_dim)
        self.actor = ImageActor(encoder, config.state_dim, config.num_tasks, config.action_dim,
                                config.actor_hidden_dims, config.freeze_encoder)
        self.jitter = jitter_kwargs(config)
        self.optimizer = torch.optim.Adam(
            [p for p in self.actor.parameters() if p.requires_grad], lr=config.lr)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        device = self.device
        obs = prepare_images(batch['observations'], device, cfg.augment, cfg.shift_pad,
                             self.jitter)
        states = batch['states'].to(device).float()
        actions = batch['actions'].to(device).float()
        tasks = one_hot_tasks(batch['task_ids'].to(device), cfg.num_tasks)
        mean, log_std = self._ddp.get('actor', self.actor)(obs, states, tasks)
        loss, info = bc_loss(mean, log_std, actions, cfg.action_clip, cfg.objective)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return info

    @torch.no_grad()
    def act(self, images: torch.Tensor, states: torch.Tensor, task_ids: torch.Tensor,
            mode: str = 'actor', num_samples: int = 16) -> torch.Tensor:
        """Actions (B, 7) in [-1, 1]. 'actor': tanh(mean). 'sample': one policy sample."""
        device = self.device
        mean, log_std = self.actor(to_float_images(images.to(device)),
                                   states.to(device).float(),
                                   one_hot_tasks(task_ids.to(device), self.config.num_tasks))
        if mode == 'actor':
            return torch.tanh(mean)
        if mode == 'sample':
            return sample_tanh_gaussian(mean, log_std)[0]
        raise ConfigError(f"act mode {mode!r} is not available for BC (no critic); use 'actor'")

    def q_values(self, images: torch.Tensor, actions: torch.Tensor, task_ids: torch.Tensor,
                 states: Optional[torch.Tensor] = None) -> torch.Tensor:
        raise ConfigError('a BC policy has no critic: q_values / q-rerank need a CQL checkpoint')

    def value(self, images: torch.Tensor, states: torch.Tensor,
              task_ids: torch.Tensor) -> torch.Tensor:
        raise ConfigError('a BC policy has no critic: value() needs a CQL checkpoint')
