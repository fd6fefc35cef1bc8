"""Image encoders shared by ICVF, VIP, CQL and BC.

All encoders take float images (B, 3, S, S) in [0, 1] (see `to_float_images`) and return a
latent (B, output_dim). The phase hand-over (ICVF/VIP -> CQL) copies the encoder's
state_dict, so the same `make_encoder(name, image_size, latent_dim)` call must be used in
every phase.

- 'small': 4 stride-2 3x3 convolutions (32 channels) + dense latent + LayerNorm + tanh.
  The CPU default.
- 'resnet34': ResNet-34 with GroupNorm (4 groups) instead of BatchNorm, spatial learned
  embeddings pooling (8 features per channel), dense 256 + LayerNorm + tanh: the PTR /
  V-PTR paper-scale encoder (jaxrl2 `ResNetV1` + `SpatialLearnedEmbeddings`), written here
  because torchvision is not a dependency.
- 'identity': flattens the image (no parameters). For state-only experiments and tests
  (a state drawn as a tiny image, e.g. a one-hot grid cell).
"""

import math

import torch
from torch import nn

ENCODER_NAMES = ('small', 'resnet34', 'identity')


def to_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, S, S, 3) -> float32 (B, 3, S, S) in [0, 1] (same device)."""
    if images.dim() != 4 or images.shape[-1] != 3:
        raise ValueError(f'expected images (B, S, S, 3), got {tuple(images.shape)}')
    images = images.permute(0, 3, 1, 2)
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


class SmallEncoder(nn.Module):
    """Four stride-2 convolutions, then a LayerNorm + tanh bottleneck (as in PTR's head)."""

    def __init__(self, image_size: int, latent_dim: int = 256, channels: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        size = image_size
        for _ in range(4):
            # In-place ReLU (a convolution's backward does not need its output): no extra
            # feature-map allocation, about a third off a no-grad pass on CPU.
            layers += [nn.Conv2d(in_channels, channels, 3, stride=2, padding=1),
                       nn.ReLU(inplace=True)]
            in_channels = channels
            size = (size + 1) // 2
        self.convs = nn.Sequential(*layers)
        self.bottleneck = nn.Sequential(
            nn.Linear(channels * size * size, latent_dim), nn.LayerNorm(latent_dim), nn.Tanh())
        self.output_dim = latent_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # Centre the pixels: a zero-mean input keeps the first layers' activations balanced.
        features = self.convs(images - 0.5)
        return self.bottleneck(features.flatten(1))


class IdentityEncoder(nn.Module):
    """Flattened pixels as the latent (no parameters): state-only mode and tests."""

    def __init__(self, image_size: int) -> None:
        super().__init__()
        self.output_dim = 3 * image_size * image_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)


def _group_norm(channels: int) -> nn.GroupNorm:
    # 4 groups as in the PTR ResNet (GroupNorm replaces BatchNorm: batch statistics are
    # unreliable in RL and break exact DDP/single-process equivalence).
    return nn.GroupNorm(4, channels)


class BasicBlock(nn.Module):
    """ResNet v1 basic block (two 3x3 convolutions) with GroupNorm."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = _group_norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = _group_norm(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                _group_norm(channels))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.norm1(self.conv1(inputs)))
        out = self.norm2(self.conv2(out))
        return torch.relu(out + self.shortcut(inputs))


class SpatialLearnedEmbeddings(nn.Module):
    """Learned spatial pooling: for each channel, `num_features` learned weightings of H x W.

    out[b, c, f] = sum_{h,w} x[b, c, h, w] * kernel[c, f, h, w]   (jaxrl2 / PTR).
    """

    def __init__(self, channels: int, height: int, width: int, num_features: int = 8) -> None:
        super().__init__()
        # LeCun-normal over fan_in = H * W * C, the jax default for this kernel.
        std = 1.0 / math.sqrt(height * width * channels)
        self.kernel = nn.Parameter(torch.randn(channels, num_features, height, width) * std)
        self.output_dim = channels * num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = torch.einsum('bchw,cfhw->bcf', features, self.kernel)
        return pooled.flatten(1)


class ResNet34Encoder(nn.Module):
    """ResNet-34 (GroupNorm) + spatial learned embeddings + dense/LayerNorm/tanh bottleneck."""

    stage_blocks = (3, 4, 6, 3)
    stage_channels = (64, 128, 256, 512)

    def __init__(self, image_size: int, latent_dim: int = 256, num_features: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), _group_norm(64), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1))
        stages: list[nn.Module] = []
        in_channels = 64
        for index, (blocks, channels) in enumerate(zip(self.stage_blocks, self.stage_channels)):
            for block in range(blocks):
                stride = 2 if (block == 0 and index > 0) else 1
                stages.append(BasicBlock(in_channels, channels, stride))
                in_channels = channels
        self.stages = nn.Sequential(*stages)
        with torch.no_grad():
            height, width = self.stages(self.stem(torch.zeros(1, 3, image_size, image_size)))\
                .shape[-2:]
        self.pool = SpatialLearnedEmbeddings(in_channels, height, width, num_features)
        self.bottleneck = nn.Sequential(
            nn.Linear(self.pool.output_dim, latent_dim), nn.LayerNorm(latent_dim), nn.Tanh())
        self.output_dim = latent_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(images - 0.5))
        return self.bottleneck(self.pool(features))


def make_encoder(name: str, image_size: int, latent_dim: int = 256) -> nn.Module:
    """Build an encoder by name ('small' | 'resnet34' | 'identity'); has `.output_dim`."""
    if name == 'small':
        return SmallEncoder(image_size, latent_dim)
    if name == 'resnet34':
        return ResNet34Encoder(image_size, latent_dim)
    if name == 'identity':
        return IdentityEncoder(image_size)
    from vptr_training.errors import ConfigError
    raise ConfigError(f'unknown encoder {name!r}; choose one of {", ".join(ENCODER_NAMES)}')
