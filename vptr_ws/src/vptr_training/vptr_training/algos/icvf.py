"""ICVF: intent-conditioned value functions from action-free video (phase 1 of V-PTR).

Ghosh et al. 2023, "Reinforcement Learning from Passive Data via Latent Intentions"; the
loss, the multilinear head and the hyper-parameters follow the public ICVF code
(`icvf_learner.py`) as summarised in docs/method.md. Only the encoder is carried
forward to CQL (`encoder_state_dict()`).

Batch (from `ICVFSampler`): observations, next_observations, goals, intents uint8
(B, S, S, 3); rewards, masks (for reaching the goal g), intent_rewards, intent_masks (for
reaching the intent z) float (B,).
"""

import copy
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import nn

from vptr_training.algos.base import AgentBase
from vptr_training.algos.common import module_device, polyak_update, prepare_images
from vptr_training.nets.encoders import make_encoder, to_float_images
from vptr_training.nets.heads import ICVFHead


@dataclass
class Config:
    gamma: float = 0.99
    expectile: float = 0.9          # tau: weight of samples whose intent advantage is >= 0
    lr: float = 5e-5
    adam_eps: float = 3.125e-4
    polyak: float = 0.005
    encoder: str = 'small'          # 'small' | 'resnet34' | 'identity'
    image_size: int = 128
    latent_dim: int = 256           # encoder output (for 'small' / 'resnet34')
    hidden_dims: Sequence[int] = (256, 256)   # phi / psi / T MLPs; d = hidden_dims[-1]
    num_heads: int = 2              # value ensemble sharing one encoder
    augment: bool = True            # random shift, independently on s, s', g, z
    shift_pad: int = 4


# ---------------------------------------------------------------------------- the loss
def icvf_loss(values: torch.Tensor, target_next_values: torch.Tensor,
              target_intent_values_next: torch.Tensor,
              target_intent_values_curr: torch.Tensor, rewards: torch.Tensor,
              masks: torch.Tensor, intent_rewards: torch.Tensor, intent_masks: torch.Tensor,
              gamma: float, expectile: float) -> tuple[torch.Tensor, dict[str, float]]:
    """ICVF expectile TD loss.

    values V_k(s, g, z) (k, B) with gradient; target_next_values Vbar_k(s', g, z),
    target_intent_values_next Vbar_k(s', z, z), target_intent_values_curr Vbar_k(s, z, z)
    (k, B) from the target network.
      y_k = r + gamma * m * Vbar_k(s', g, z)
      A   = r_z + gamma * m_z * min_k Vbar_k(s', z, z) - mean_k Vbar_k(s, z, z)
      L   = sum_k mean_b [ w(A) (y_k - V_k)^2 ],  w = tau if A >= 0 else 1 - tau
    The weight comes from the sign of the INTENT advantage, not of the TD error: states
    whose transition follows intent z are regressed towards an upper expectile.
    """
    target_next_values = target_next_values.detach()
    td_targets = rewards + gamma * masks * target_next_values
    intent_q = intent_rewards + gamma * intent_masks * \
        target_intent_values_next.detach().min(0).values
    intent_advantage = intent_q - target_intent_values_curr.detach().mean(0)
    weight = torch.where(intent_advantage >= 0, torch.full_like(intent_advantage, expectile),
                         torch.full_like(intent_advantage, 1.0 - expectile))
    squared_errors = (td_targets - values).pow(2)
    loss = (weight * squared_errors).mean(1).sum()
    info = {
        'value_loss': loss.item(),
        'value_mean': values.mean().item(),
        'value_min': values.min().item(),
        'td_abs_error': (td_targets - values).abs().mean().item(),
        'intent_advantage_mean': intent_advantage.mean().item(),
        'intent_advantage_positive': (intent_advantage >= 0).float().mean().item(),
    }
    return loss, info


# ---------------------------------------------------------------------------- the network
class ICVFValue(nn.Module):
    """Shared encoder + `num_heads` multilinear value heads: V(s, g, z) -> (k, B)."""

    def __init__(self, encoder: nn.Module, hidden_dims: Sequence[int], num_heads: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleList(
            ICVFHead(encoder.output_dim, tuple(hidden_dims)) for _ in range(num_heads))

    def values_from_latents(self, latent_s: torch.Tensor, latent_g: torch.Tensor,
                            latent_z: torch.Tensor) -> torch.Tensor:
        return torch.stack([head(latent_s, latent_g, latent_z) for head in self.heads])

    def forward(self, images_s: torch.Tensor, images_g: torch.Tensor,
                images_z: torch.Tensor) -> torch.Tensor:
        """float images (B, 3, S, S) each -> V (k, B). One encoder pass over all three."""
        latents = self.encoder(torch.cat([images_s, images_g, images_z])).chunk(3)
        return self.values_from_latents(*latents)


# ---------------------------------------------------------------------------- the agent
class Agent(AgentBase):
    """ICVF learner. `encoder_factory` (optional) replaces `make_encoder` (tests)."""

    OPTIMIZERS = {'value': 'optimizer'}
    DDP_MODULES = ('value_net',)
    ENCODERS = {'value_net.encoder': 'ICVF', 'target_value_net.encoder': 'ICVF target'}

    def __init__(self, config: Config,
                 encoder_factory: Optional[Callable[[], nn.Module]] = None) -> None:
        super().__init__()
        self.config = config
        encoder = encoder_factory() if encoder_factory is not None else make_encoder(
            config.encoder, config.image_size, config.latent_dim)
        self.value_net = ICVFValue(encoder, config.hidden_dims, config.num_heads)
        self.target_value_net = copy.deepcopy(self.value_net).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.value_net.parameters(), lr=config.lr,
                                          eps=config.adam_eps)

    # -- training-loop plumbing (algos/base.py): DDP wraps value_net; rank 0's target
    def replicated_parameters(self) -> list[nn.Parameter]:
        return list(self.target_value_net.parameters())

    # -- training
    def _images(self, images: torch.Tensor) -> torch.Tensor:
        return prepare_images(images, module_device(self.value_net), self.config.augment,
                              self.config.shift_pad)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        device = module_device(self.value_net)
        obs = self._images(batch['observations'])
        next_obs = self._images(batch['next_observations'])
        goals = self._images(batch['goals'])
        intents = self._images(batch['intents'])
        rewards, masks, intent_rewards, intent_masks = (
            batch[key].to(device).float()
            for key in ('rewards', 'masks', 'intent_rewards', 'intent_masks'))

        with torch.no_grad():
            latent_s, latent_next, latent_g, latent_z = self.target_value_net.encoder(
                torch.cat([obs, next_obs, goals, intents])).chunk(4)
            target_next = self.target_value_net.values_from_latents(
                latent_next, latent_g, latent_z)
            target_intent_next = self.target_value_net.values_from_latents(
                latent_next, latent_z, latent_z)
            target_intent_curr = self.target_value_net.values_from_latents(
                latent_s, latent_z, latent_z)

        values = self._ddp.get('value_net', self.value_net)(obs, goals, intents)
        loss, info = icvf_loss(values, target_next, target_intent_next, target_intent_curr,
                               rewards, masks, intent_rewards, intent_masks, cfg.gamma,
                               cfg.expectile)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        polyak_update(self.target_value_net, self.value_net, cfg.polyak)
        return info

    # -- evaluation
    @torch.no_grad()
    def value(self, observations: torch.Tensor, goals: torch.Tensor,
              intents: torch.Tensor) -> torch.Tensor:
        """V_k(s, g, z) of the online network, uint8 images (B, S, S, 3) -> (k, B)."""
        device = module_device(self.value_net)
        images = [to_float_images(x.to(device)) for x in (observations, goals, intents)]
        return self.value_net(*images)
