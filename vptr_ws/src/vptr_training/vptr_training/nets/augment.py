"""Batched image augmentations in torch (per-sample random parameters, no Python loops).

Both take float images (B, C, H, W) in [0, 1] and return a new tensor of the same shape
and range. `generator` makes them reproducible; None uses torch's global RNG.
"""

from typing import Optional

import torch
import torch.nn.functional as F


def _uniform(shape: tuple[int, ...], low: float, high: float, like: torch.Tensor,
             generator: Optional[torch.Generator]) -> torch.Tensor:
    # Sample on the CPU when a CPU generator is given, then move: generators are per device.
    device = generator.device if generator is not None else like.device
    values = torch.rand(shape, generator=generator, device=device)
    return (low + (high - low) * values).to(like.device, like.dtype)


def random_shift(images: torch.Tensor, pad: int = 4,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """DrQ random shift: replicate-pad by `pad`, crop back at a random integer offset.

    Each sample gets its own offset in [0, 2 * pad] along each axis. Implemented with one
    advanced-indexing gather (rows and columns per sample), so it is vectorised.
    """
    if pad <= 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode='replicate')
    device = generator.device if generator is not None else images.device
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator, device=device)
    offsets = offsets.to(images.device)
    rows = offsets[:, 0:1] + torch.arange(height, device=images.device)      # (B, H)
    cols = offsets[:, 1:2] + torch.arange(width, device=images.device)       # (B, W)
    batch_index = torch.arange(batch, device=images.device)[:, None, None]
    # Advanced indices separated by a slice move to the front: result is (B, H, W, C).
    shifted = padded[batch_index, :, rows[:, :, None], cols[:, None, :]]
    return shifted.permute(0, 3, 1, 2).contiguous()


def _rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    red, green, blue = rgb.unbind(1)
    max_value, _ = rgb.max(1)
    min_value, _ = rgb.min(1)
    delta = max_value - min_value
    safe_delta = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue_r = ((green - blue) / safe_delta) % 6.0
    hue_g = (blue - red) / safe_delta + 2.0
    hue_b = (red - green) / safe_delta + 4.0
    hue = torch.where(max_value == red, hue_r, torch.where(max_value == green, hue_g, hue_b))
    hue = torch.where(delta > 0, hue / 6.0, torch.zeros_like(hue))
    saturation = torch.where(max_value > 0, delta / torch.where(
        max_value > 0, max_value, torch.ones_like(max_value)), torch.zeros_like(max_value))
    return torch.stack([hue, saturation, max_value], 1)


def _hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    hue, saturation, value = hsv.unbind(1)
    # Standard closed form: channel n uses k = (n + 6 h) mod 6.
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (n + hue * 6.0) % 6.0
        channels.append(value - value * saturation * torch.clamp(
            torch.minimum(k, 4.0 - k), 0.0, 1.0))
    return torch.stack(channels, 1)


def color_jitter(images: torch.Tensor, brightness: float = 0.2, contrast: float = 0.1,
                 saturation: float = 0.1, hue: float = 0.03, p: float = 0.8,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Colour jitter with TF semantics (as in the PTR / jaxrl2 `color_transform`).

    Applied to each sample with probability p (else the sample is unchanged), in a fixed
    order: brightness (additive delta in [-b, b], like tf.image.random_brightness), contrast
    (factor in [1-c, 1+c] around each channel's mean), saturation (HSV S times a factor in
    [1-s, 1+s]), hue (HSV H shifted by a fraction of a turn in [-h, h]). Clipped to [0, 1]
    after each step. Images must be RGB (C = 3).
    """
    if images.shape[1] != 3:
        raise ValueError('color_jitter needs RGB images (B, 3, H, W)')
    batch = images.shape[0]
    shape = (batch, 1, 1, 1)
    out = images
    if brightness > 0:
        out = (out + _uniform(shape, -brightness, brightness, images, generator)).clamp(0, 1)
    if contrast > 0:
        factor = _uniform(shape, 1 - contrast, 1 + contrast, images, generator)
        mean = out.mean(dim=(2, 3), keepdim=True)
        out = ((out - mean) * factor + mean).clamp(0, 1)
    if saturation > 0 or hue > 0:
        hsv = _rgb_to_hsv(out)
        sat_factor = _uniform((batch, 1, 1), 1 - saturation, 1 + saturation, images, generator)
        hue_delta = _uniform((batch, 1, 1), -hue, hue, images, generator)
        hsv = torch.stack([
            (hsv[:, 0] + hue_delta) % 1.0,
            (hsv[:, 1] * sat_factor).clamp(0, 1),
            hsv[:, 2]], 1)
        out = _hsv_to_rgb(hsv).clamp(0, 1)
    apply = _uniform(shape, 0.0, 1.0, images, generator) < p
    return torch.where(apply, out, images)
