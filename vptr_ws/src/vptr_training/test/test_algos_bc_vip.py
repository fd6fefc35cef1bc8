"""BC and VIP: losses by hand, learning on toys, hand-over into CQL."""

import math

import numpy as np
import pytest
from scipy.stats import spearmanr
import torch
from torch import nn
from vptr_training.algos import bc, cql, vip
from vptr_training.errors import ConfigError


def test_bc_loss_is_tanh_gaussian_nll_with_clipped_actions():
    mean = torch.zeros(2, 2)
    log_std = torch.tensor([[0.0, math.log(0.5)], [0.0, 0.0]])
    actions = torch.tensor([[0.5, 0.0], [1.0, -0.2]])
    expected = 0.0
    for b in range(2):
        for d in range(2):
            a = max(-0.999, min(0.999, actions[b, d].item()))
            u, std = math.atanh(a), math.exp(log_std[b, d].item())
            expected -= (-0.5 * (u / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)
                         - math.log(1 - a * a))
    loss, info = bc.bc_loss(mean, log_std, actions, objective='nll')
    assert loss.item() == pytest.approx(expected / 2, rel=1e-4)
    assert info['action_mse'] == pytest.approx((0.25 + 0 + 1 + 0.04) / 4)


def test_bc_mse_objective_is_the_deterministic_action_error_and_leaves_log_std_alone():
    mean = torch.tensor([[0.0, 0.5], [1.0, -0.2]], requires_grad=True)
    log_std = torch.zeros(2, 2, requires_grad=True)
    actions = torch.tensor([[0.5, 0.0], [1.0, -0.2]])
    loss, info = bc.bc_loss(mean, log_std, actions)
    expected = ((torch.tanh(mean.detach()) - actions) ** 2).mean()
    assert loss.item() == pytest.approx(expected.item())
    assert info['nll'] > 0      # still reported, for comparison with the 'nll' objective
    loss.backward()
    assert not log_std.grad.any() and mean.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match='unknown BC objective'):
        bc.bc_loss(mean, log_std, actions, objective='huber')


def _context_images(context):
    images = np.zeros((len(context), 1, 1, 3), np.uint8)
    images[:, 0, 0, 0] = 255 * context
    return torch.from_numpy(images)


def test_bc_clones_a_context_dependent_action():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    targets = np.array([[0.6, -0.3], [-0.5, 0.4]], np.float32)
    config = bc.Config(num_tasks=2, action_dim=2, state_dim=1, encoder='identity',
                       image_size=1, actor_hidden_dims=(32, 32), augment=False, lr=3e-3)
    agent = bc.Agent(config)
    for _ in range(300):
        context = rng.integers(2, size=64)
        actions = targets[context] + rng.normal(0, 0.05, (64, 2)).astype(np.float32)
        agent.update({'observations': _context_images(context),
                      'states': torch.from_numpy(context[:, None].astype(np.float32)),
                      'actions': torch.from_numpy(actions),
                      'task_ids': torch.from_numpy(context)})
    context = np.array([0, 1])
    acted = agent.act(_context_images(context),
                      torch.from_numpy(context[:, None].astype(np.float32)),
                      torch.from_numpy(context))
    assert np.abs(acted.numpy() - targets).max() < 0.1
    with pytest.raises(ConfigError, match='not available for BC'):
        agent.act(_context_images(context), torch.zeros(2, 1), torch.from_numpy(context),
                  mode='q-rerank')
    with pytest.raises(ConfigError, match='no critic'):
        agent.q_values(_context_images(context), torch.zeros(2, 2), torch.from_numpy(context))


def test_vip_loss_matches_hand_computation():
    value_initial = torch.tensor([-2.0, -1.0])
    value_current = torch.tensor([-1.0, -0.5])
    value_next = torch.tensor([-0.5, 0.0])
    rewards = torch.tensor([-1.0, 0.0])
    gamma = 0.9
    initial = (1 - gamma) * (2.0 + 1.0) / 2
    exponents = [-(-1.0 + 0.9 * -0.5 - -1.0), -(0.0 + 0.9 * 0.0 - -0.5)]
    alignment = math.log(sum(math.exp(x) for x in exponents) / 2)
    loss, info = vip.vip_loss(value_initial, value_current, value_next, rewards, gamma)
    assert loss.item() == pytest.approx(initial + alignment, rel=1e-6)
    negative_current, negative_next = torch.tensor([-3.0]), torch.tensor([-2.0])
    loss, info = vip.vip_loss(value_initial, value_current, value_next, rewards, gamma,
                              negative_current, negative_next)
    negative = -(-1.0 + 0.9 * -2.0 - -3.0)
    assert loss.item() == pytest.approx(initial + alignment + negative, rel=1e-6)
    assert vip.vip_value(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]])).item() == -5.0


CHAIN = 6


def _chain_images(state_ids):
    images = np.zeros((len(state_ids), 3, 3, 3), np.uint8)
    images[np.arange(len(state_ids)), state_ids // 3, state_ids % 3, 0] = 255
    return torch.from_numpy(images)


class _MLPEncoder(nn.Module):
    output_dim = 16

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(27, 64), nn.ReLU(), nn.Linear(64, 16))

    def forward(self, images):
        return self.net(images)


def test_vip_embedding_distance_orders_states_by_time_to_goal():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    agent = vip.Agent(vip.Config(lr=3e-3, augment=False, image_size=3),
                      encoder_factory=_MLPEncoder)
    for _ in range(400):
        # Clips walk the chain left to right; goals are frames later in the same clip.
        state = rng.integers(0, CHAIN - 1, size=64)
        goal = rng.integers(state, CHAIN)
        agent.update({'observations': _chain_images(state),
                      'next_observations': _chain_images(state + 1),
                      'goals': _chain_images(goal),
                      'rewards': torch.from_numpy((state == goal).astype(np.float32) - 1)})
    states = np.arange(CHAIN)
    goal = np.full(CHAIN, CHAIN - 1)
    values = agent.value(_chain_images(states), _chain_images(goal)).numpy()
    assert spearmanr(values, states).statistic >= 0.9


def test_vip_encoder_initialises_cql():
    torch.manual_seed(0)
    pretrain = vip.Agent(vip.Config(image_size=16, latent_dim=16))
    batch = {key: torch.randint(0, 256, (4, 16, 16, 3), dtype=torch.uint8)
             for key in ('observations', 'next_observations', 'goals')}
    batch['rewards'] = -torch.ones(4)
    info = pretrain.update(batch)
    assert np.isfinite(info['vip_loss'])
    agent = cql.Agent(cql.Config(num_tasks=1, image_size=16, latent_dim=16))
    agent.load_encoder_state_dict(pretrain.encoder_state_dict())
    assert torch.equal(agent.actor.encoder.state_dict()['bottleneck.0.weight'],
                       pretrain.encoder.state_dict()['bottleneck.0.weight'])
    bc_agent = bc.Agent(bc.Config(image_size=16, latent_dim=16))
    bc_agent.load_encoder_state_dict(pretrain.encoder_state_dict())
