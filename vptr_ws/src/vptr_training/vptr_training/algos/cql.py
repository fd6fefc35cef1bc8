"""Multi-task CQL as in PTR (phases 2 and 3 of V-PTR).

Kumar et al. 2020 (CQL) with the PTR recipe (Kumar et al. 2022) summarised in
docs/method.md: twin Q heads on an image encoder (the critic does not see the
proprioceptive state), a tanh-Gaussian actor with its own encoder, max-backup targets over
4 sampled next actions (no entropy in the backup), importance-weighted CQL(H) with 4 policy
and 4 uniform actions, alpha = 10 fixed (optional Lagrange variant), temperature tuned to
target entropy -7. Update order: critic, target update, actor, temperature.

Batch (from `CQLSampler`): observations, next_observations uint8 (B, S, S, 3); states,
next_states (B, 7); actions (B, 7) scaled to [-1, 1]; rewards, masks (B,); task_ids (B,).
"""

import copy
from dataclasses import dataclass
import math
from typing import Callable, Optional, Sequence

import torch
from torch import nn
from torch.func import functional_call

from vptr_training.algos.base import AgentBase
from vptr_training.algos.common import (average_gradients, encode, ImageActor, jitter_kwargs,
                                        one_hot_tasks, polyak_update, prepare_images)
from vptr_training.errors import ConfigError
from vptr_training.nets.encoders import make_encoder, to_float_images
from vptr_training.nets.heads import sample_tanh_gaussian, TwinQHead


@dataclass
class Config:
    num_tasks: int = 1
    gamma: float = 0.96
    cql_alpha: float = 10.0           # fixed weight of the conservative term
    cql_lagrange: bool = False        # (optional) weight = cql_alpha * exp(log_cql_alpha),
    #                                   the multiplier tuned so mean C tracks the target gap
    cql_target_gap: float = 1.0       # (inferred) target of mean C for the Lagrange variant
    cql_lagrange_lr: float = 3e-4
    n_actions: int = 4                # next-state samples for the max-backup, and policy /
    #                                   uniform samples each for the conservative term
    critic_lr: float = 3e-4
    actor_lr: float = 1e-4
    temperature_lr: float = 3e-4
    initial_temperature: float = 1.0
    target_entropy: Optional[float] = None   # None -> -action_dim (= -7)
    polyak: float = 0.005
    action_dim: int = 7
    state_dim: int = 7
    encoder: str = 'small'            # 'small' | 'resnet34' | 'identity'
    image_size: int = 128
    latent_dim: int = 256
    critic_hidden_dims: Sequence[int] = (256, 256, 256)
    actor_hidden_dims: Sequence[int] = (256, 256, 256)
    augment: bool = True              # random shift + colour jitter on s and s'
    shift_pad: int = 4
    jitter_brightness: float = 0.2
    jitter_contrast: float = 0.1
    jitter_saturation: float = 0.1
    jitter_hue: float = 0.03
    jitter_p: float = 0.8
    color_jitter: bool = True         # False: random shift only (e.g. tiny/state images)
    freeze_encoder: bool = False      # frozen-encoder baseline (encoders not trained)
    critic_uses_state: bool = False   # (deviation, off in PTR) state-only experiments
    bc_alpha: float = 0.0             # (deviation, off in PTR) TD3+BC actor regulariser:
    #                                   0 -> the pure CQL actor; > 0 -> see actor_loss


# ---------------------------------------------------------------------------- the losses
def max_backup_target(target_next_q: torch.Tensor, rewards: torch.Tensor, masks: torch.Tensor,
                      gamma: float) -> torch.Tensor:
    """y = r + gamma * m * max_j min_k Qbar_k(s', a'_j); target_next_q (k, B, N) -> (B,)."""
    next_value = target_next_q.min(0).values.max(-1).values
    return (rewards + gamma * masks * next_value).detach()


def cql_conservative_term(q_policy: torch.Tensor, logp_policy: torch.Tensor,
                          q_uniform: torch.Tensor, q_data: torch.Tensor, action_dim: int = 7
                          ) -> tuple[torch.Tensor, dict[str, float]]:
    """Importance-weighted CQL(H) gap per head and sample.

    q_policy (k, B, N) at actions drawn from pi(.|s) with log-densities logp_policy (B, N);
    q_uniform (k, B, M) at uniform actions in [-1, 1]^A, whose log-density is A * log(1/2);
    q_data (k, B). Returns C (k, B) = logsumexp_{N+M}[Q(s, a) - log q(a)] - Q(s, a_data):
    dividing by the proposal density makes the logsumexp a Monte-Carlo estimate of
    log integral exp Q(s, a) da (CQL appendix, "importance sampling" variant).
    """
    uniform_log_density = action_dim * math.log(0.5)
    weighted = torch.cat([q_policy - logp_policy.detach().unsqueeze(0),
                          q_uniform - uniform_log_density], -1)
    conservative = torch.logsumexp(weighted, -1) - q_data
    info = {'cql_gap': conservative.mean().item(),
            'q_policy_mean': q_policy.mean().item(),
            'q_uniform_mean': q_uniform.mean().item()}
    return conservative, info


def critic_loss(q_data: torch.Tensor, td_targets: torch.Tensor, conservative: torch.Tensor,
                cql_alpha: float | torch.Tensor, target_gap: float = 0.0
                ) -> tuple[torch.Tensor, dict[str, float]]:
    """sum_k [ mean_b (Q_k(s, a) - y)^2 + alpha * (mean_b C_k - gap) ].

    q_data (k, B), td_targets (B,), conservative C (k, B). Each head carries its own TD and
    conservative loss and the heads are summed (CQL reference code: qf1_loss + qf2_loss).
    `target_gap` is 0 for fixed alpha (a constant, no effect on gradients) and the Lagrange
    target otherwise.
    """
    td_loss = (q_data - td_targets.detach().unsqueeze(0)).pow(2).mean(1).sum()
    conservative_loss = (cql_alpha * (conservative.mean(1) - target_gap)).sum()
    loss = td_loss + conservative_loss
    info = {'critic_loss': loss.item(), 'td_loss': td_loss.item(),
            'cql_loss': conservative_loss.item(), 'q_data_mean': q_data.mean().item(),
            'td_target_mean': td_targets.mean().item()}
    return loss, info


def lagrange_loss(log_cql_alpha: torch.Tensor, conservative: torch.Tensor, target_gap: float
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """Optional CQL-Lagrange multiplier loss: raises alpha while mean C exceeds the gap.

    L = -alpha' * mean_k (mean_b C_k - gap), alpha' = exp(log alpha') clipped to [0, 1e6]
    (CQL reference code, `with_lagrange`).
    """
    alpha = log_cql_alpha.exp().clamp(0.0, 1e6)
    loss = -(alpha * (conservative.detach().mean(1) - target_gap)).mean()
    return loss, {'cql_alpha_loss': loss.item()}


def actor_loss(log_probs: torch.Tensor, q_new: torch.Tensor, temperature: torch.Tensor | float,
               bc_alpha: float = 0.0, mean_action: Optional[torch.Tensor] = None,
               data_actions: Optional[torch.Tensor] = None
               ) -> tuple[torch.Tensor, dict[str, float]]:
    """mean_b [ alpha_T * log pi(a~|s) - min_k Q_k(s, a~) ]; log_probs (B,), q_new (k, B).

    With `bc_alpha` (TD3+BC, Fujimoto & Gu 2021; a deviation from PTR, docs/method.md) the
    policy term is scaled by lambda = bc_alpha / mean_b |min_k Q| (detached) and the squared
    error of the deterministic action tanh(mean) (B, A) to the data actions (B, A) is added:
    lambda * mean_b [...] + mean_{b,i} (tanh(mean) - a)^2. The scale makes the balance
    independent of the Q values' magnitude; at a few thousand updates the critic is still
    too rough for policy extraction alone and the data term carries the policy.
    """
    q_min = q_new.min(0).values
    loss = (temperature * log_probs - q_min).mean()
    info = {'entropy': -log_probs.mean().item(), 'q_policy_new': q_new.mean().item()}
    if bc_alpha:
        assert mean_action is not None and data_actions is not None
        scale = bc_alpha / q_min.detach().abs().mean().clamp_min(1e-6)
        bc_mse = (torch.tanh(mean_action) - data_actions).pow(2).mean()
        loss = scale * loss + bc_mse
        info.update({'actor_bc_mse': bc_mse.item(), 'actor_q_scale': scale.item()})
    info['actor_loss'] = loss.item()
    return loss, info


def temperature_loss(log_temperature: torch.Tensor, log_probs: torch.Tensor,
                     target_entropy: float) -> tuple[torch.Tensor, dict[str, float]]:
    """alpha_T * (H - H_target) with H = -mean log pi (jaxrl `update_temperature`).

    Descending it raises the temperature while the entropy is below the target.
    """
    temperature = log_temperature.exp()
    entropy = -log_probs.detach().mean()
    loss = temperature * (entropy - target_entropy)
    return loss, {'temperature_loss': loss.item(), 'temperature': temperature.item()}


# ---------------------------------------------------------------------------- networks
class Critic(nn.Module):
    """Critic encoder + twin Q heads. forward -> Q (k, B, N) for N actions per state."""

    def __init__(self, encoder: nn.Module, config: Config) -> None:
        super().__init__()
        self.encoder = encoder
        self.freeze_encoder = config.freeze_encoder
        self.uses_state = config.critic_uses_state
        if self.freeze_encoder:
            self.encoder.requires_grad_(False)
        latent_dim = encoder.output_dim + (config.state_dim if self.uses_state else 0)
        self.q_head = TwinQHead(latent_dim, config.action_dim, config.num_tasks,
                                tuple(config.critic_hidden_dims))

    def latent(self, images: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        latent = encode(self.encoder, images, self.freeze_encoder)
        return torch.cat([latent, states], -1) if self.uses_state else latent

    def forward(self, images: torch.Tensor, states: torch.Tensor, actions: torch.Tensor,
                task_onehot: torch.Tensor, return_latent: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """images (B, 3, S, S), states (B, 7) (ignored unless critic_uses_state), actions
        (B, N, A), task_onehot (B, T) -> Q (k, B, N) (and the latent if return_latent)."""
        latent = self.latent(images, states)
        q_values = self.q_head(latent, actions, task_onehot)
        return (q_values, latent) if return_latent else q_values


# ---------------------------------------------------------------------------- the agent
class Agent(AgentBase):
    """CQL learner. `encoder_factory` (optional) builds each fresh encoder instead of
    `make_encoder(config.encoder, config.image_size, config.latent_dim)` (tests)."""

    OPTIMIZERS = {'critic': 'critic_optimizer', 'actor': 'actor_optimizer',
                  'temperature': 'temperature_optimizer', 'cql_alpha': 'cql_alpha_optimizer'}
    DDP_MODULES = ('critic', 'actor')
    # the critic's encoder is saved (the one the phase-1 encoder initialised); every
    # encoder (critic, target critic, actor) is initialised from one encoder (hand-over)
    ENCODERS = {'critic.encoder': 'CQL critic', 'target_critic.encoder': 'CQL target critic',
                'actor.encoder': 'CQL actor'}

    def __init__(self, config: Config,
                 encoder_factory: Optional[Callable[[], nn.Module]] = None) -> None:
        super().__init__()
        self.config = config
        if config.num_tasks < 1:
            raise ConfigError(f'num_tasks must be >= 1, got {config.num_tasks}')

        def new_encoder() -> nn.Module:
            if encoder_factory is not None:
                return encoder_factory()
            return make_encoder(config.encoder, config.image_size, config.latent_dim)

        self.critic = Critic(new_encoder(), config)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor = ImageActor(new_encoder(), config.state_dim, config.num_tasks,
                                config.action_dim, config.actor_hidden_dims,
                                config.freeze_encoder)
        self.log_temperature = nn.Parameter(
            torch.tensor(math.log(config.initial_temperature), dtype=torch.float32))
        self.log_cql_alpha = nn.Parameter(torch.zeros(()), requires_grad=config.cql_lagrange)
        self.target_entropy = (float(config.target_entropy) if config.target_entropy is not None
                               else -float(config.action_dim))
        self.jitter = jitter_kwargs(config)

        def trainable(module: nn.Module) -> list[nn.Parameter]:
            return [p for p in module.parameters() if p.requires_grad]

        # Fused Adam: one kernel for all parameters instead of a Python loop over them (the
        # same update rule; CPU's default is the loop): 6 -> 1 ms per critic step on CPU.
        self.critic_optimizer = torch.optim.Adam(trainable(self.critic), lr=config.critic_lr,
                                                 fused=True)
        self.actor_optimizer = torch.optim.Adam(trainable(self.actor), lr=config.actor_lr,
                                                fused=True)
        self.temperature_optimizer = torch.optim.Adam([self.log_temperature],
                                                      lr=config.temperature_lr)
        self.cql_alpha_optimizer = (
            torch.optim.Adam([self.log_cql_alpha], lr=config.cql_lagrange_lr)
            if config.cql_lagrange else None)

    # -- training-loop plumbing (algos/base.py): DDP wraps critic and actor
    def replicated_parameters(self) -> list[nn.Parameter]:
        """The scalars and rank 0's target critic (outside the DDP wrappers)."""
        return [self.log_temperature, self.log_cql_alpha, *self.target_critic.parameters()]

    # -- training
    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        device = self.device
        obs = prepare_images(batch['observations'], device, cfg.augment, cfg.shift_pad,
                             self.jitter)
        next_obs = prepare_images(batch['next_observations'], device, cfg.augment,
                                  cfg.shift_pad, self.jitter)
        states = batch['states'].to(device).float()
        next_states = batch['next_states'].to(device).float()
        actions = batch['actions'].to(device).float()
        rewards = batch['rewards'].to(device).float()
        masks = batch['masks'].to(device).float()
        tasks = one_hot_tasks(batch['task_ids'].to(device), cfg.num_tasks)
        batch_size = actions.shape[0]
        critic = self._ddp.get('critic', self.critic)
        actor = self._ddp.get('actor', self.actor)

        # The actor is not updated before step 3, so its gradient-carrying forward at s is
        # done once here: its detached output supplies the conservative term's policy samples
        # and the same graph serves the actor loss (saves one encoder pass per update).
        mean, log_std = actor(obs, states, tasks)

        # 1. Critic. Policy samples at s and s' carry no gradient.
        with torch.no_grad():
            mean_now, log_std_now = mean.detach(), log_std.detach()
            mean_next, log_std_next = self.actor(next_obs, next_states, tasks)
            next_actions, _ = sample_tanh_gaussian(mean_next, log_std_next, cfg.n_actions)
            target_next_q = self.target_critic(next_obs, next_states, next_actions, tasks)
            td_targets = max_backup_target(target_next_q, rewards, masks, cfg.gamma)
            policy_actions, policy_log_probs = sample_tanh_gaussian(mean_now, log_std_now,
                                                                    cfg.n_actions)
            uniform_actions = torch.rand(batch_size, cfg.n_actions, cfg.action_dim,
                                         device=device) * 2.0 - 1.0
        # One critic forward for data, policy and uniform actions (one DDP forward per step).
        all_actions = torch.cat([actions.unsqueeze(1), policy_actions, uniform_actions], 1)
        q_all, critic_latent = critic(obs, states, all_actions, tasks, return_latent=True)
        q_data = q_all[:, :, 0]
        q_policy = q_all[:, :, 1:1 + cfg.n_actions]
        q_uniform = q_all[:, :, 1 + cfg.n_actions:]
        conservative, info = cql_conservative_term(q_policy, policy_log_probs, q_uniform,
                                                   q_data, cfg.action_dim)
        if cfg.cql_lagrange:
            alpha = cfg.cql_alpha * self.log_cql_alpha.detach().exp().clamp(0.0, 1e6)
            loss, critic_info = critic_loss(q_data, td_targets, conservative, alpha,
                                            cfg.cql_target_gap)
            info['cql_alpha'] = alpha.item()
        else:
            loss, critic_info = critic_loss(q_data, td_targets, conservative, cfg.cql_alpha)
            info['cql_alpha'] = cfg.cql_alpha
        info.update(critic_info)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optimizer.step()
        if cfg.cql_lagrange:
            alpha_loss, alpha_info = lagrange_loss(self.log_cql_alpha, conservative,
                                                   cfg.cql_target_gap)
            self.cql_alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            average_gradients([self.log_cql_alpha], self._process_group)
            self.cql_alpha_optimizer.step()
            info.update(alpha_info)

        # 2. Target critic.
        polyak_update(self.target_critic, self.critic, cfg.polyak)

        # 3. Actor. The critic's Q head (updated above) is evaluated with its parameters
        # detached (functional_call) on the critic latent of step 1, detached: the actor loss
        # neither trains the critic's encoder nor leaves gradients on (or syncs) critic
        # parameters. Reusing the latent saves an encoder pass; it comes from the encoder
        # weights before this step's critic update (docs/method.md, "CPU-efficient update").
        new_actions, log_probs = sample_tanh_gaussian(mean, log_std)
        critic_latent = critic_latent.detach()
        detached_head = {name: p.detach() for name, p in self.critic.q_head.named_parameters()}
        q_new = functional_call(self.critic.q_head, detached_head,
                                (critic_latent, new_actions.unsqueeze(1), tasks))[:, :, 0]
        temperature = self.log_temperature.detach().exp()
        loss, actor_info = actor_loss(log_probs, q_new, temperature, cfg.bc_alpha, mean,
                                      actions)
        info.update(actor_info)
        self.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_optimizer.step()

        # 4. Temperature.
        loss, temperature_info = temperature_loss(self.log_temperature, log_probs,
                                                  self.target_entropy)
        info.update(temperature_info)
        self.temperature_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients([self.log_temperature], self._process_group)
        self.temperature_optimizer.step()
        return info

    # -- acting and evaluation
    def _eval_inputs(self, images: torch.Tensor, states: torch.Tensor, task_ids: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        device = self.device
        return (to_float_images(images.to(device)), states.to(device).float(),
                one_hot_tasks(task_ids.to(device), self.config.num_tasks))

    @torch.no_grad()
    def act(self, images: torch.Tensor, states: torch.Tensor, task_ids: torch.Tensor,
            mode: str = 'actor', num_samples: int = 16) -> torch.Tensor:
        """Actions (B, 7) in [-1, 1] for uint8 images (B, S, S, 3), states (B, 7), task ids.

        'actor': tanh(mean). 'q-rerank': candidates = tanh(mean) plus `num_samples` policy
        samples; returns the candidate with the highest min_k Q_k.
        """
        images, states, tasks = self._eval_inputs(images, states, task_ids)
        mean, log_std = self.actor(images, states, tasks)
        if mode == 'actor':
            return torch.tanh(mean)
        if mode != 'q-rerank':
            raise ConfigError(f"unknown act mode {mode!r}; use 'actor' or 'q-rerank'")
        samples, _ = sample_tanh_gaussian(mean, log_std, num_samples)
        candidates = torch.cat([torch.tanh(mean).unsqueeze(1), samples], 1)
        q_values = self.critic(images, states, candidates, tasks).min(0).values   # (B, N+1)
        best = q_values.argmax(-1)
        return candidates[torch.arange(candidates.shape[0], device=best.device), best]

    @torch.no_grad()
    def q_values(self, images: torch.Tensor, actions: torch.Tensor, task_ids: torch.Tensor,
                 states: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Twin Q values of the online critic: actions (B, 7) -> (2, B); (B, N, 7) -> (2, B, N).

        `states` is only needed when the critic sees the state (critic_uses_state)."""
        batch_size = images.shape[0]
        if states is None:
            if self.config.critic_uses_state:
                raise ConfigError('this critic sees the state: pass states to q_values')
            states = torch.zeros(batch_size, self.config.state_dim)
        images, states, tasks = self._eval_inputs(images, states, task_ids)
        actions = actions.to(self.device).float()
        single = actions.dim() == 2
        q_values = self.critic(images, states, actions.unsqueeze(1) if single else actions,
                               tasks)
        return q_values[:, :, 0] if single else q_values

    @torch.no_grad()
    def value(self, images: torch.Tensor, states: torch.Tensor, task_ids: torch.Tensor
              ) -> torch.Tensor:
        """min_k Q_k(s, tanh(mean)): the value of the deterministic policy, (B,)."""
        actions = self.act(images, states, task_ids, mode='actor')
        return self.q_values(images, actions, task_ids, states).min(0).values
