"""Pieces shared by the ICVF, VIP, CQL and BC agents (imported, never copied).

DDP convention (all agents): `agent.wrap_ddp(process_group=None, device_ids=None)` wraps the
trainable modules in DistributedDataParallel after `torch.distributed.init_process_group`
and after `agent.to(device)`. The wrappers are kept outside the module tree (in
`agent._ddp`), so `agent.state_dict()` keys never gain a `module.` prefix and checkpoints
load with or without DDP. Only the gradient-carrying forward of each update goes through a
wrapper; no-grad evaluations and the actor loss's critic evaluation use the bare modules,
so they trigger no gradient synchronisation. Scalar parameters outside any wrapper
(temperature, Lagrange multiplier) have their gradients averaged by `average_gradients`.
"""

from typing import Iterable, Mapping, Optional

import torch
from torch import nn
import torch.distributed as dist

from vptr_training.errors import CheckpointError
from vptr_training.nets.augment import color_jitter, random_shift
from vptr_training.nets.encoders import to_float_images
from vptr_training.nets.heads import TanhGaussianPolicy


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU if it has none)."""
    for parameter in module.parameters():
        return parameter.device
    return torch.device('cpu')


def prepare_images(images: torch.Tensor, device: torch.device, augment: bool,
                   shift_pad: int = 4, jitter: Optional[Mapping[str, float]] = None
                   ) -> torch.Tensor:
    """uint8 (B, S, S, 3) -> float (B, 3, S, S) in [0, 1] on `device`, optionally augmented.

    Augmentation is random shift (pad `shift_pad`) then, if `jitter` is given, colour
    jitter with those keyword arguments. Each call draws fresh per-sample randomness, so
    calling it separately on s, s', g, z augments them independently.
    """
    floats = to_float_images(images.to(device, non_blocking=True))
    if augment:
        floats = random_shift(floats, shift_pad)
        if jitter is not None:
            floats = color_jitter(floats, **jitter)
    return floats


def one_hot_tasks(task_ids: torch.Tensor, num_tasks: int) -> torch.Tensor:
    """(B,) int64 task indices -> (B, num_tasks) float one-hot."""
    if task_ids.numel() and (int(task_ids.min()) < 0 or int(task_ids.max()) >= num_tasks):
        raise ValueError(f'task id out of range [0, {num_tasks}): {task_ids.tolist()}')
    return nn.functional.one_hot(task_ids.long(), num_tasks).float()


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, rate: float) -> None:
    """target <- (1 - rate) * target + rate * online, parameter by parameter."""
    # One multi-tensor kernel instead of a Python loop over parameters.
    torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), rate)


def load_encoder_strict(encoder: nn.Module, state_dict: Mapping[str, torch.Tensor],
                        where: str) -> None:
    """Copy an encoder state_dict with strict key and shape matching (CheckpointError)."""
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f'encoder weights do not match the {where} encoder: missing keys '
            f'{missing[:5]}{"..." if len(missing) > 5 else ""}, unexpected keys '
            f'{unexpected[:5]}{"..." if len(unexpected) > 5 else ""} (was it trained with '
            'the same encoder name, image_size and latent_dim?)')
    for key, value in state_dict.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(
                f'encoder weight {key!r} has shape {tuple(value.shape)}, the {where} encoder '
                f'expects {tuple(own[key].shape)} (different image_size or latent_dim?)')
    encoder.load_state_dict(state_dict, strict=True)


def encoder_state_copy(encoder: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of an encoder's weights (safe to save or load elsewhere)."""
    return {key: value.detach().cpu().clone() for key, value in encoder.state_dict().items()}


def ddp_wrap(module: nn.Module, process_group: Optional[object] = None,
             device_ids: Optional[list[int]] = None) -> nn.Module:
    """DistributedDataParallel around a module (parameters broadcast from rank 0)."""
    from torch.nn.parallel import DistributedDataParallel
    return DistributedDataParallel(module, device_ids=device_ids, process_group=process_group)


def average_gradients(parameters: Iterable[nn.Parameter],
                      process_group: Optional[object] = None) -> None:
    """All-reduce (mean) the gradients of parameters that live outside a DDP wrapper."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    world_size = dist.get_world_size(process_group)
    for parameter in parameters:
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, group=process_group)
            parameter.grad.div_(world_size)


def broadcast_parameters(parameters: Iterable[nn.Parameter],
                         process_group: Optional[object] = None) -> None:
    """Make parameters outside DDP wrappers identical to rank 0's."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    source = 0 if process_group is None else dist.get_global_rank(process_group, 0)
    with torch.no_grad():
        for parameter in parameters:
            dist.broadcast(parameter.data, src=source, group=process_group)


def encode(encoder: nn.Module, images: torch.Tensor, frozen: bool) -> torch.Tensor:
    """The encoder's latent; a frozen encoder runs without building a graph."""
    if frozen:
        with torch.no_grad():
            return encoder(images)
    return encoder(images)


def jitter_kwargs(config: object) -> Optional[dict[str, float]]:
    """Colour-jitter arguments of an agent config (CQL, BC), None when jitter is off."""
    if not getattr(config, 'color_jitter', False):
        return None
    return {'brightness': config.jitter_brightness, 'contrast': config.jitter_contrast,
            'saturation': config.jitter_saturation, 'hue': config.jitter_hue,
            'p': config.jitter_p}


class ImageActor(nn.Module):
    """Actor of CQL and BC: its own encoder + tanh-Gaussian head on [latent, state, task].

    The state enters standardised, (state - state_mean) / state_std, with the training
    data's statistics held as buffers (saved in the checkpoint with the weights, as
    LeRobot's policies keep their normalisation, so the robot side applies the same). The
    raw state spans a few centimetres in metres; standardised, image BC from 200 demos
    fits the held-out demos' actions to 0.053 instead of 0.068 after 2,000 updates
    (docs/method.md). A checkpoint saved before the buffers existed loads with the
    identity (it was trained on raw states).
    """

    def __init__(self, encoder: nn.Module, state_dim: int, num_tasks: int, action_dim: int,
                 hidden_dims: Iterable[int], freeze_encoder: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            self.encoder.requires_grad_(False)
        self.policy = TanhGaussianPolicy(encoder.output_dim + state_dim + num_tasks,
                                         action_dim, tuple(hidden_dims))
        self.register_buffer('state_mean', torch.zeros(state_dim))
        self.register_buffer('state_std', torch.ones(state_dim))

    def set_state_normalization(self, mean: Iterable[float], std: Iterable[float]) -> None:
        mean = torch.as_tensor(list(mean), dtype=torch.float32)
        std = torch.as_tensor(list(std), dtype=torch.float32)
        if mean.shape != self.state_mean.shape or std.shape != self.state_std.shape:
            raise ValueError(f'state statistics of shape {tuple(mean.shape)} / '
                             f'{tuple(std.shape)} for a state of {self.state_mean.numel()}')
        self.state_mean.copy_(mean)
        # A (near) constant dimension would be blown up: floor its scale.
        self.state_std.copy_(std.clamp_min(STATE_STD_FLOOR))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        for name, buffer in (('state_mean', self.state_mean), ('state_std', self.state_std)):
            # checkpoints from before the normalisation: the identity (raw states)
            state_dict.setdefault(prefix + name, torch.zeros_like(buffer) if name ==
                                  'state_mean' else torch.ones_like(buffer))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, images: torch.Tensor, states: torch.Tensor,
                task_onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """float images (B, 3, S, S), states (B, 7), task one-hot (B, T) -> mean, log_std."""
        latent = encode(self.encoder, images, self.freeze_encoder)
        states = (states - self.state_mean) / self.state_std
        return self.policy(torch.cat([latent, states, task_onehot], -1))


STATE_STD_FLOOR = 1e-3


def pooled_state_stats(stats: Iterable[tuple[Mapping, float]]
                       ) -> Optional[tuple[list[float], list[float]]]:
    """Mean and std of the state over a mixture of stores, from each store's `state_stats`
    (meta.json: mean, std) and its sampling weight: the moments of the mixture the sampler
    draws from. None when no store with a positive weight has statistics."""
    parts = [(torch.tensor(s['mean'], dtype=torch.float64),
              torch.tensor(s['std'], dtype=torch.float64), float(w))
             for s, w in stats if s and w > 0]
    if not parts:
        return None
    total = sum(w for _, _, w in parts)
    mean = sum(w * m for m, _, w in parts) / total
    second = sum(w * (sd ** 2 + m ** 2) for m, sd, w in parts) / total
    std = (second - mean ** 2).clamp_min(0).sqrt()
    return mean.tolist(), std.tolist()
