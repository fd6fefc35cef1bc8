"""Encoders, augmentations and heads: shapes, ranges and hand-checked formulas."""

import math

import pytest
import torch
from torch import nn
from vptr_training.errors import ConfigError
from vptr_training.nets import augment
from vptr_training.nets.encoders import make_encoder, to_float_images
from vptr_training.nets.heads import (ICVFHead, sample_tanh_gaussian, tanh_gaussian_log_prob,
                                      TanhGaussianPolicy, TwinQHead)
from vptr_training.nets.mlp import MLP


def test_to_float_images_layout_and_range():
    images = torch.zeros(2, 4, 4, 3, dtype=torch.uint8)
    images[1, 2, 3, 0] = 255
    images[0, 0, 1, 2] = 51
    floats = to_float_images(images)
    assert floats.shape == (2, 3, 4, 4) and floats.dtype == torch.float32
    assert floats[1, 0, 2, 3] == 1.0
    assert floats[0, 2, 0, 1] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        to_float_images(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


@pytest.mark.parametrize('size', [64, 128])
def test_small_encoder_shape_and_range(size):
    torch.manual_seed(0)
    encoder = make_encoder('small', size, latent_dim=256)
    latent = encoder(torch.rand(3, 3, size, size))
    assert encoder.output_dim == 256 and latent.shape == (3, 256)
    assert latent.abs().max() <= 1.0   # tanh bottleneck


def test_resnet34_encoder_structure_and_forward():
    torch.manual_seed(0)
    encoder = make_encoder('resnet34', 128, latent_dim=256)
    latent = encoder(torch.rand(2, 3, 128, 128))
    assert latent.shape == (2, 256) and latent.abs().max() <= 1.0
    modules = list(encoder.modules())
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in modules)
    norms = [m for m in modules if isinstance(m, nn.GroupNorm)]
    assert norms and all(m.num_groups == 4 for m in norms)
    # ResNet-34: 3 + 4 + 6 + 3 basic blocks, 512 channels x 8 spatial features pooled.
    assert len(encoder.stages) == 16
    assert encoder.pool.output_dim == 512 * 8
    assert tuple(encoder.pool.kernel.shape) == (512, 8, 4, 4)   # 128 px -> 4 x 4 map
    conv_params = sum(p.numel() for m in modules if isinstance(m, nn.Conv2d)
                      for p in m.parameters())
    assert 21.0e6 < conv_params < 21.5e6   # torchvision resnet34 convolutions: 21.28M


def test_identity_encoder_and_unknown_name():
    encoder = make_encoder('identity', 5)
    images = torch.rand(2, 3, 5, 5)
    assert encoder.output_dim == 75
    assert torch.equal(encoder(images), images.flatten(1))
    with pytest.raises(ConfigError, match='unknown encoder'):
        make_encoder('resnet50', 128)


def _all_crops(padded, height, width):
    span = padded.shape[-1] - width
    return [padded[..., dy:dy + height, dx:dx + width]
            for dy in range(span + 1) for dx in range(span + 1)]


def test_random_shift_is_a_per_sample_crop_of_the_replicate_padded_image():
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(16, 3, 10, 10, generator=generator)
    shifted = augment.random_shift(images, pad=2, generator=generator)
    assert shifted.shape == images.shape
    padded = nn.functional.pad(images, (2, 2, 2, 2), mode='replicate')
    offsets = []
    for index in range(16):
        crops = _all_crops(padded[index], 10, 10)
        matches = [k for k, crop in enumerate(crops) if torch.equal(crop, shifted[index])]
        assert matches, 'every output must be one crop of the padded input'
        offsets.append(matches[0])
    assert len(set(offsets)) > 1   # shifts are drawn per sample
    assert torch.equal(augment.random_shift(images, pad=0), images)


def test_color_jitter_keeps_shape_and_range_and_p0_is_identity():
    generator = torch.Generator().manual_seed(2)
    images = torch.rand(8, 3, 6, 6, generator=generator)
    jittered = augment.color_jitter(images, generator=generator)
    assert jittered.shape == images.shape
    assert jittered.min() >= 0.0 and jittered.max() <= 1.0
    assert not torch.allclose(jittered, images)
    assert torch.equal(augment.color_jitter(images, p=0.0), images)
    # All strengths zero: HSV round trip only, so (numerically) the identity.
    same = augment.color_jitter(images, 0.0, 0.0, 0.0, 0.0, p=1.0)
    assert torch.allclose(same, images, atol=1e-5)


def test_color_jitter_brightness_is_one_additive_delta_per_image():
    generator = torch.Generator().manual_seed(3)
    images = 0.3 + 0.4 * torch.rand(4, 3, 5, 5, generator=generator)   # no clipping
    out = augment.color_jitter(images, brightness=0.2, contrast=0.0, saturation=0.0,
                               hue=0.0, p=1.0, generator=generator)
    delta = out - images
    for index in range(4):
        assert torch.allclose(delta[index], delta[index].flatten()[0].expand_as(delta[index]),
                              atol=1e-5)
        assert abs(delta[index].flatten()[0].item()) <= 0.2 + 1e-6


def test_saturation_hue_matrices_by_hand():
    identity = augment.saturation_hue_matrices(torch.ones(1), torch.zeros(1))
    assert torch.allclose(identity[0], torch.eye(3), atol=1e-6)
    grey = augment.saturation_hue_matrices(torch.zeros(1), torch.zeros(1))[0]
    luma = torch.tensor([0.299, 0.587, 0.114])
    assert torch.allclose(grey, luma.expand(3, 3), atol=1e-6)   # every channel = luma
    colours = torch.rand(3, 20, generator=torch.Generator().manual_seed(4))
    rotated = augment.saturation_hue_matrices(torch.ones(1), torch.tensor([0.1]))[0]
    assert torch.allclose(luma @ (rotated @ colours), luma @ colours, atol=1e-5)  # keeps luma
    assert not torch.allclose(rotated @ colours, colours, atol=1e-2)
    half = augment.saturation_hue_matrices(torch.ones(1), torch.tensor([0.5]))[0]
    assert torch.allclose(half @ half, torch.eye(3), atol=1e-5)   # two half turns


def test_mlp_activate_final():
    torch.manual_seed(0)
    inputs = torch.randn(5, 4)
    assert (MLP(4, [8, 3], activate_final=True)(inputs) >= 0).all()
    assert (MLP(4, [8, 3], activate_final=False)(torch.randn(50, 4)) < 0).any()


def test_icvf_head_is_the_multilinear_formula():
    torch.manual_seed(0)
    head = ICVFHead(6, hidden_dims=(8, 5))
    ls, lg, lz = torch.randn(3, 4, 6).unbind(0)
    t_z = head.intent_transform(head.psi(lz))
    left = (t_z * head.phi(ls)) @ head.matrix_a.weight.t() + head.matrix_a.bias
    right = (t_z * head.psi(lg)) @ head.matrix_b.weight.t() + head.matrix_b.bias
    assert torch.allclose(head(ls, lg, lz), (left * right).sum(-1), atol=1e-6)


def test_twin_q_head_refeeds_action_and_latent_and_starts_near_zero():
    torch.manual_seed(0)
    head = TwinQHead(latent_dim=10, action_dim=7, num_tasks=3)
    assert head.hidden[0].weight.shape == (2, 3 + 7 + 10, 256)
    assert head.hidden[1].weight.shape == (2, 256 + 7 + 10, 256)
    assert head.hidden[2].weight.shape == (2, 256 + 7 + 10, 256)
    latent = torch.randn(4, 10)
    actions = torch.rand(4, 5, 7) * 2 - 1
    tasks = nn.functional.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    q_values = head(latent, actions, tasks)
    assert q_values.shape == (2, 4, 5)
    assert q_values.abs().max() < 0.1     # orthogonal(1e-2) output layer
    # Member 1 of sample 2, action 3 recomputed by hand.
    side = torch.cat([actions[2, 3], latent[2]])
    hidden = torch.cat([tasks[2], side])
    for index, layer in enumerate(head.hidden):
        if index > 0:
            hidden = torch.cat([hidden, side])
        hidden = torch.relu(hidden @ layer.weight[1] + layer.bias[1, 0])
    expected = hidden @ head.output.weight[1] + head.output.bias[1, 0]
    assert torch.allclose(q_values[1, 2, 3], expected.squeeze(), atol=1e-5)
    # Members differ (independent initialisation).
    assert not torch.allclose(q_values[0], q_values[1])


def test_tanh_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    mean = torch.randn(6, 7) * 0.5
    log_std = torch.randn(6, 7).clamp(-1, 0.5)
    actions, log_probs = sample_tanh_gaussian(mean, log_std)
    reference = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()),
        [torch.distributions.TanhTransform(cache_size=1)])
    assert torch.allclose(log_probs, reference.log_prob(actions).sum(-1), atol=1e-3)
    assert torch.allclose(tanh_gaussian_log_prob(mean, log_std, actions), log_probs, atol=1e-3)
    many, many_log_probs = sample_tanh_gaussian(mean, log_std, num_samples=4)
    assert many.shape == (6, 4, 7) and many_log_probs.shape == (6, 4)
    assert many.abs().max() < 1.0


def test_tanh_gaussian_log_prob_clips_boundary_actions():
    mean, log_std = torch.zeros(1, 7), torch.zeros(1, 7)
    value = tanh_gaussian_log_prob(mean, log_std, torch.ones(1, 7))
    atanh = math.atanh(0.999)
    expected = 7 * (-0.5 * atanh ** 2 - 0.5 * math.log(2 * math.pi) - math.log(1 - 0.999 ** 2))
    assert value.item() == pytest.approx(expected, rel=1e-4)


def test_policy_log_std_is_clipped():
    policy = TanhGaussianPolicy(4, 7, hidden_dims=(16,))
    with torch.no_grad():
        policy.log_std.bias.fill_(100.0)
    _, log_std = policy(torch.randn(3, 4))
    assert log_std.max() == 2.0
    with torch.no_grad():
        policy.log_std.bias.fill_(-100.0)
    assert policy(torch.randn(3, 4))[1].min() == -5.0
