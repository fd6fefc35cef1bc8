"""Batched image augmentations in torch (per-sample random parameters, no Python loops).

Both take float images (B, C, H, W) in [0, 1] and return a new tensor of the same shape
and range. `generator` makes them reproducible; None uses torch's global RNG.
"""

from typing import Optional

import torch


def _uniform(shape: tuple[int, ...], low: float, high: float, like: torch.Tensor,
             generator: Optional[torch.Generator]) -> torch.Tensor:
    # Sample on the CPU when a CPU generator is given, then move: generators are per device.
    device = generator.device if generator is not None else like.device
    values = torch.rand(shape, generator=generator, device=device)
    return (low + (high - low) * values).to(like.device, like.dtype)


def random_shift(images: torch.Tensor, pad: int = 4,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """DrQ random shift: replicate-pad by `pad`, crop back at a random integer offset.

    Each sample gets its own offset in [0, 2 * pad] along each axis. Implemented as one
    gather per pixel from the unpadded image: replicate padding then cropping at offset o
    reads source index clamp(o - pad + i, 0, size - 1), so no padded copy is made (one
    index_select of whole pixels: 2x faster than the pad and advanced-index gather). The
    result is returned channels-last (B, C, H, W with C fastest), the layout the CPU
    convolutions run fastest in; its values are those of the pad-and-crop.
    """
    if pad <= 0:
        return images
    batch, channels, height, width = images.shape
    device = generator.device if generator is not None else images.device
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator, device=device)
    offsets = offsets.to(images.device) - pad
    rows = (offsets[:, 0:1] + torch.arange(height, device=images.device)).clamp_(0, height - 1)
    cols = (offsets[:, 1:2] + torch.arange(width, device=images.device)).clamp_(0, width - 1)
    source = rows[:, :, None] * width + cols[:, None, :]                          # (B, H, W)
    source = source + torch.arange(batch, device=images.device)[:, None, None] * (height * width)
    pixels = images.permute(0, 2, 3, 1).reshape(batch * height * width, channels)
    shifted = pixels.index_select(0, source.reshape(-1))
    return shifted.view(batch, height, width, channels).permute(0, 3, 1, 2)


# RGB -> YIQ (NTSC). Y is luma; hue is the angle in the I-Q plane.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                            [0.595716, -0.274453, -0.321263],
                            [0.211456, -0.522591, 0.311135]])
_LUMA = _RGB_TO_YIQ[0]


def saturation_hue_matrices(saturation_factor: torch.Tensor,
                            hue_delta: torch.Tensor) -> torch.Tensor:
    """Per-sample 3x3 RGB matrices: scale saturation, then rotate hue by hue_delta turns.

    Saturation: blend with the luma grey, s * x + (1 - s) * (w . x) (torchvision's rule).
    Hue: rotation by 2 pi * delta in the YIQ chroma plane, which keeps luma fixed. Both are
    linear in RGB, so they fuse into one matrix: one small batched matmul per image instead of
    an RGB -> HSV -> RGB round trip (about 5x cheaper on CPU).
    saturation_factor, hue_delta (B,) -> (B, 3, 3).
    """
    batch = saturation_factor.shape[0]
    dtype, device = saturation_factor.dtype, saturation_factor.device
    eye = torch.eye(3, dtype=dtype, device=device)
    luma = _LUMA.to(device, dtype)
    grey = torch.ones(3, 1, dtype=dtype, device=device) * luma.unsqueeze(0)   # rows = w
    saturation = saturation_factor.view(batch, 1, 1) * eye + \
        (1 - saturation_factor.view(batch, 1, 1)) * grey
    angle = 2 * torch.pi * hue_delta
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros(batch, 3, 3, dtype=dtype, device=device)
    rotation[:, 0, 0] = 1.0
    rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
    rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
    to_yiq = _RGB_TO_YIQ.to(device, dtype)
    hue = torch.linalg.inv(to_yiq) @ rotation @ to_yiq
    return hue @ saturation


def color_jitter(images: torch.Tensor, brightness: float = 0.2, contrast: float = 0.1,
                 saturation: float = 0.1, hue: float = 0.03, p: float = 0.8,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Colour jitter (PTR / jaxrl2 `color_transform` strengths), batched.

    Applied to each sample with probability p (else the sample is unchanged), in a fixed
    order: brightness (additive delta in [-b, b], like tf.image.random_brightness), contrast
    (factor in [1-c, 1+c] around each channel's mean, like tf.image.adjust_contrast), then
    saturation (factor in [1-s, 1+s]) and hue (shift in [-h, h] of a turn) fused into one
    per-sample 3x3 matrix (see `saturation_hue_matrices`; deviation: TF shifts hue in HSV,
    here it is a YIQ rotation, the cheap standard approximation). Clipped to [0, 1] after
    each stage. Images must be RGB (C = 3).
    """
    if images.shape[1] != 3:
        raise ValueError('color_jitter needs RGB images (B, 3, H, W)')
    batch = images.shape[0]
    shape = (batch, 1, 1, 1)
    # Each stage writes a fresh tensor once and then works in place on it (no autograd
    # here): fewer full-size temporaries, the same values.
    out = images
    if brightness > 0:
        out = (out + _uniform(shape, -brightness, brightness, images, generator)).clamp_(0, 1)
    if contrast > 0:
        factor = _uniform(shape, 1 - contrast, 1 + contrast, images, generator)
        mean = out.mean(dim=(2, 3), keepdim=True)
        out = (out - mean).mul_(factor).add_(mean).clamp_(0, 1)
    if saturation > 0 or hue > 0:
        matrices = saturation_hue_matrices(
            _uniform((batch,), 1 - saturation, 1 + saturation, images, generator),
            _uniform((batch,), -hue, hue, images, generator))
        height, width = out.shape[-2:]
        out = torch.bmm(matrices, out.reshape(batch, 3, height * width)).clamp_(0, 1)
        # Back to the input's layout (channels-last after random_shift: the layout the
        # encoders' CPU convolutions run fastest in). (B, H W, 3) @ M^T would give it
        # directly but is several times slower than this bmm plus one copy.
        out = out.view(batch, 3, height, width).contiguous(
            memory_format=torch.channels_last if images.is_contiguous(
                memory_format=torch.channels_last) else torch.contiguous_format)
    apply = _uniform(shape, 0.0, 1.0, images, generator) < p
    return torch.where(apply, out, images)
