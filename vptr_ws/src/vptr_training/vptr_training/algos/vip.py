"""VIP-style time-contrastive pre-training baseline (the "VIP + CQL" row of V-PTR).

Ma et al. 2022, "VIP: Towards Universal Visual Reward and Representation via Value-Implicit
Pre-Training". Value V(o, g) = -||phi(o) - phi(g)||_2 on the encoder latent phi, loss

  (1 - gamma) * E[-V(o_0, g)] + log E exp( -(r + gamma * V(o', g) - V(o, g)) )
  (+ the same log-E-exp term on in-batch negatives, as in the VIP trainer)

with r(o, g) = 0 if o is g else -1 (so the exponent is V(o, g) + 1 - gamma V(o', g)).

Batch mapping (the ICVFSampler keys are reused so one sampler serves both pre-trainings):
  o_t = observations, o_t+1 = next_observations, g = goals, r = rewards;
  o_0 = observations as well. (Deviation: VIP draws o_0 at the start of the sampled
  sub-clip; the ICVF sampler has no such frame. The first term then pulls each sampled
  frame's embedding towards its goal, which is what o_0's term does in VIP.)
  Negatives: o_t, o_t+1 of other batch elements paired with this element's goal
  (random permutations, `num_negatives` of them, reward -1).
The encoder (`encoder_state_dict()`) initialises CQL like the ICVF encoder does.
"""

from dataclasses import dataclass
import math
from typing import Callable, Optional

import torch
from torch import nn

from vptr_training.algos.base import AgentBase
from vptr_training.algos.common import module_device, prepare_images
from vptr_training.nets.encoders import make_encoder, to_float_images


@dataclass
class Config:
    gamma: float = 0.98             # VIP default
    lr: float = 1e-4                # VIP default
    num_negatives: int = 3          # VIP default
    encoder: str = 'small'
    image_size: int = 128
    latent_dim: int = 256
    augment: bool = True            # random shift, independently per frame
    shift_pad: int = 4


def _log_mean_exp(values: torch.Tensor) -> torch.Tensor:
    # log E exp(x) = logsumexp(x) - log n: stable where VIP's log(eps + mean(exp(x))) overflows.
    return torch.logsumexp(values, 0) - math.log(values.numel())


def vip_value(latent_o: torch.Tensor, latent_g: torch.Tensor) -> torch.Tensor:
    """V(o, g) = -||phi(o) - phi(g)||_2 for latents (B, D) -> (B,)."""
    return -torch.linalg.vector_norm(latent_o - latent_g, dim=-1)


def vip_loss(value_initial: torch.Tensor, value_current: torch.Tensor,
             value_next: torch.Tensor, rewards: torch.Tensor, gamma: float,
             negative_value_current: Optional[torch.Tensor] = None,
             negative_value_next: Optional[torch.Tensor] = None
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """VIP objective. value_* (B,): V(o_0, g), V(o_t, g), V(o_t+1, g); rewards (B,).

    negative_value_* (M,): V of mismatched (o, o') with goals, whose reward is -1.
    """
    initial_term = (1.0 - gamma) * (-value_initial).mean()
    alignment = _log_mean_exp(-(rewards + gamma * value_next - value_current))
    loss = initial_term + alignment
    info = {'vip_initial_term': initial_term.item(), 'vip_alignment': alignment.item()}
    if negative_value_current is not None and negative_value_next is not None:
        negative = _log_mean_exp(-(-1.0 + gamma * negative_value_next - negative_value_current))
        loss = loss + negative
        info['vip_negative'] = negative.item()
    info['vip_loss'] = loss.item()
    return loss, info


class Agent(AgentBase):
    """VIP learner over one encoder (no heads: the value is a latent distance)."""

    OPTIMIZERS = {'encoder': 'optimizer'}
    DDP_MODULES = ('encoder',)
    ENCODERS = {'encoder': 'VIP'}

    def __init__(self, config: Config,
                 encoder_factory: Optional[Callable[[], nn.Module]] = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder_factory() if encoder_factory is not None else make_encoder(
            config.encoder, config.image_size, config.latent_dim)
        self.optimizer = torch.optim.Adam(self.encoder.parameters(), lr=config.lr)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        device = module_device(self.encoder)
        frames = [prepare_images(batch[key], device, cfg.augment, cfg.shift_pad)
                  for key in ('observations', 'next_observations', 'goals')]
        rewards = batch['rewards'].to(device).float()
        batch_size = rewards.shape[0]
        latent_now, latent_next, latent_goal = self._ddp.get('encoder', self.encoder)(
            torch.cat(frames)).split(batch_size)
        value_now = vip_value(latent_now, latent_goal)
        value_next = vip_value(latent_next, latent_goal)
        negative_now, negative_next = None, None
        if cfg.num_negatives > 0 and batch_size > 1:
            now_list, next_list = [], []
            for _ in range(cfg.num_negatives):
                permutation = torch.randperm(batch_size, device=device)
                now_list.append(vip_value(latent_now[permutation], latent_goal))
                next_list.append(vip_value(latent_next[permutation], latent_goal))
            negative_now, negative_next = torch.cat(now_list), torch.cat(next_list)
        loss, info = vip_loss(value_now, value_now, value_next, rewards, cfg.gamma,
                              negative_now, negative_next)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return info

    @torch.no_grad()
    def value(self, observations: torch.Tensor, goals: torch.Tensor) -> torch.Tensor:
        """V(o, g) for uint8 images (B, S, S, 3) -> (B,)."""
        device = module_device(self.encoder)
        latent_o = self.encoder(to_float_images(observations.to(device)))
        latent_g = self.encoder(to_float_images(goals.to(device)))
        return vip_value(latent_o, latent_g)
