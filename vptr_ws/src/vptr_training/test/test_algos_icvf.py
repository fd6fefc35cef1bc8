"""ICVF: the loss by hand, the agent's plumbing, and learning distances on a chain and on a
four-rooms gridworld with walls from random-walk video."""

import collections
import contextlib
import copy

import numpy as np
import pytest
from scipy.stats import spearmanr
import torch
from vptr_training.algos import icvf
from vptr_training.data.samplers import ICVFSampler
from vptr_training.data.store import EpisodeData, EpisodeStore, StoreWriter
from vptr_training.errors import CheckpointError


def test_icvf_loss_matches_hand_computation():
    gamma, tau = 0.9, 0.8
    values = torch.tensor([[-1.0, -2.0, 0.5], [-1.5, -1.0, 0.0]])
    target_next = torch.tensor([[-0.5, -3.0, 1.0], [-1.0, -2.0, 0.0]])
    intent_next = torch.tensor([[-1.0, -2.0, -4.0], [-3.0, -1.0, -2.0]])
    intent_curr = torch.tensor([[-2.0, -1.0, -5.0], [-2.0, -2.0, -3.0]])
    rewards = torch.tensor([-1.0, -1.0, 0.0])
    masks = torch.tensor([1.0, 1.0, 0.0])
    intent_rewards = torch.tensor([-1.0, 0.0, -1.0])
    intent_masks = torch.tensor([1.0, 0.0, 1.0])
    # y_k = r + gamma m Vbar_k(s', g, z)
    y = [[-1 + 0.9 * -0.5, -1 + 0.9 * -3.0, 0.0], [-1 + 0.9 * -1.0, -1 + 0.9 * -2.0, 0.0]]
    # A = r_z + gamma m_z min_k Vbar_k(s', z, z) - mean_k Vbar_k(s, z, z)
    advantage = [-1 + 0.9 * -3.0 - (-2.0), 0.0 - (-1.5), -1 + 0.9 * -4.0 - (-4.0)]
    # = [-1.7, 1.5, -0.6] -> weights [1 - tau, tau, 1 - tau]
    weights = [tau if a >= 0 else 1 - tau for a in advantage]
    expected = sum(
        sum(weights[b] * (y[k][b] - values[k, b].item()) ** 2 for b in range(3)) / 3
        for k in range(2))
    loss, info = icvf.icvf_loss(values, target_next, intent_next, intent_curr, rewards, masks,
                                intent_rewards, intent_masks, gamma, tau)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert info['intent_advantage_positive'] == pytest.approx(1 / 3)


def test_icvf_expectile_weight_follows_intent_advantage_not_td_error():
    # TD error y - V = +1 (positive) but intent advantage negative: weight must be 1 - tau.
    ones = torch.ones(2, 1)
    values = torch.zeros(2, 1)
    loss, _ = icvf.icvf_loss(values, target_next_values=0 * ones,
                             target_intent_values_next=-10 * ones,
                             target_intent_values_curr=0 * ones,
                             rewards=torch.tensor([1.0]), masks=torch.tensor([1.0]),
                             intent_rewards=torch.tensor([-1.0]),
                             intent_masks=torch.tensor([1.0]), gamma=0.5, expectile=0.9)
    assert loss.item() == pytest.approx(2 * 0.1 * 1.0)
    # Same TD error, positive intent advantage: weight tau.
    loss, _ = icvf.icvf_loss(values, 0 * ones, 10 * ones, 0 * ones, torch.tensor([1.0]),
                             torch.tensor([1.0]), torch.tensor([-1.0]), torch.tensor([1.0]),
                             gamma=0.5, expectile=0.9)
    assert loss.item() == pytest.approx(2 * 0.9 * 1.0)


def _random_batch(batch_size, size, generator):
    def images():
        return torch.randint(0, 256, (batch_size, size, size, 3), dtype=torch.uint8,
                             generator=generator)
    rewards = -torch.ones(batch_size)
    return {'observations': images(), 'next_observations': images(), 'goals': images(),
            'intents': images(), 'rewards': rewards, 'masks': torch.ones(batch_size),
            'intent_rewards': rewards.clone(), 'intent_masks': torch.ones(batch_size)}


def test_icvf_agent_update_moves_target_by_polyak_and_exposes_encoder():
    torch.manual_seed(0)
    config = icvf.Config(image_size=32, latent_dim=32, hidden_dims=(16, 16), polyak=0.1)
    agent = icvf.Agent(config)
    target_before = copy.deepcopy(agent.target_value_net.state_dict())
    assert all(torch.equal(target_before[k], v) for k, v in agent.value_net.state_dict().items())
    info = agent.update(_random_batch(4, 32, torch.Generator().manual_seed(1)))
    assert np.isfinite(info['value_loss'])
    online = agent.value_net.state_dict()
    for key, value in agent.target_value_net.state_dict().items():
        expected = target_before[key] + 0.1 * (online[key] - target_before[key])
        assert torch.allclose(value, expected, atol=1e-6)
    assert set(agent.optimizers()) == {'value'}
    values = agent.value(*(_random_batch(3, 32, torch.Generator())[k]
                           for k in ('observations', 'goals', 'intents')))
    assert values.shape == (2, 3)
    encoder = agent.encoder_state_dict()
    other = icvf.Agent(config)
    other.load_encoder_state_dict(encoder)
    for key, value in other.value_net.encoder.state_dict().items():
        assert torch.equal(value, encoder[key])
        assert torch.equal(other.target_value_net.encoder.state_dict()[key], encoder[key])
    with pytest.raises(CheckpointError, match='shape'):
        icvf.Agent(icvf.Config(image_size=64, latent_dim=32)).load_encoder_state_dict(encoder)


# -- learning -------------------------------------------------------------------------------
@contextlib.contextmanager
def _one_torch_thread():
    """Tiny networks: threading only adds overhead (and the machine is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _goal_values(agent, state_images):
    """V(s, g, g), heads averaged, for every state s (rows) and goal g (columns)."""
    columns = []
    for goal in range(len(state_images)):
        goal_images = state_images[[goal] * len(state_images)]
        columns.append(agent.value(state_images, goal_images, goal_images).mean(0).numpy())
    return np.stack(columns, 1)


# a 6-state chain, states drawn as one-hot pixels of a 3x3 image
CHAIN = 6
GAMMA = 0.8


def _chain_images(state_ids):
    images = np.zeros((len(state_ids), 3, 3, 3), np.uint8)
    images[np.arange(len(state_ids)), state_ids // 3, state_ids % 3, 0] = 255
    return torch.from_numpy(images)


class _ChainClips:
    """Shortest-path clips between random chain states, sampled like ICVFSampler."""

    def __init__(self, rng):
        self.rng = rng
        clips = []
        while len(clips) < 300:
            start, end = rng.integers(CHAIN, size=2)
            if start != end:
                step = 1 if end > start else -1
                clips.append(np.arange(start, end + step, step))
        self.frames = np.concatenate(clips)
        starts = np.cumsum([0] + [len(c) for c in clips])[:-1]
        finals = starts + np.array([len(c) for c in clips]) - 1
        self.valid = np.concatenate([np.arange(s, f) for s, f in zip(starts, finals)])
        self.final_of = np.concatenate([np.full(f - s, f) for s, f in zip(starts, finals)])

    def sample(self, batch_size):
        rng = self.rng
        pick = rng.integers(len(self.valid), size=batch_size)
        index, final = self.valid[pick], self.final_of[pick]
        draw = rng.random(batch_size)   # p_random 0.1 / p_traj 0.8 / p_curr 0.1
        goal = np.where(draw < 0.1, rng.integers(len(self.frames), size=batch_size),
                        np.where(draw < 0.9, rng.integers(index, final + 1), index))
        intent = rng.integers(index, final + 1)
        goal = np.where(rng.random(batch_size) < 0.5, intent, goal)
        state, goal_state, intent_state = (self.frames[index], self.frames[goal],
                                           self.frames[intent])
        rewards = (state == goal_state).astype(np.float32) - 1.0
        intent_rewards = (state == intent_state).astype(np.float32) - 1.0
        return {'observations': _chain_images(state),
                'next_observations': _chain_images(self.frames[index + 1]),
                'goals': _chain_images(goal_state), 'intents': _chain_images(intent_state),
                'rewards': torch.from_numpy(rewards), 'masks': torch.from_numpy(-rewards),
                'intent_rewards': torch.from_numpy(intent_rewards),
                'intent_masks': torch.from_numpy(-intent_rewards)}


def test_icvf_learns_shortest_path_distances_on_a_chain():
    torch.manual_seed(0)
    with _one_torch_thread():
        clips = _ChainClips(np.random.default_rng(0))
        # Test-sized settings: identity encoder over one-hot pixels, small heads, fast
        # learning (lr, polyak) so 3000 steps suffice.
        config = icvf.Config(gamma=GAMMA, lr=2e-3, adam_eps=1e-8, polyak=0.05,
                             encoder='identity', image_size=3, hidden_dims=(64, 64),
                             augment=False)
        agent = icvf.Agent(config)
        for _ in range(3000):
            agent.update(clips.sample(64))
    states = np.arange(CHAIN)
    all_values = _goal_values(agent, _chain_images(states))
    correlations, errors, near_errors = [], [], []
    for goal in range(CHAIN):
        distance = np.abs(states - goal)
        values = all_values[:, goal]
        optimal = -(1 - GAMMA ** distance) / (1 - GAMMA)
        correlations.append(spearmanr(values, -distance).statistic)
        errors.append(np.abs(values - optimal).mean())
        near_errors.append(np.abs(values - optimal)[distance <= 3].max())
    assert min(correlations) >= 0.9, correlations     # for every goal, as the issue asks
    assert np.mean(errors) < 0.6, errors          # optimal values span [-3.4, 0]
    assert np.max(near_errors) < 0.6, near_errors  # well-covered distances are close


# four 3x3 rooms joined by one-cell doors ('#' a wall): 40 cells, shortest paths up to 12 steps
FOUR_ROOMS = ('   #   ',
              '       ',
              '   #   ',
              '# ### #',
              '   #   ',
              '       ',
              '   #   ')
WALKS, WALK_LENGTH = 4, 1000


def _four_rooms():
    """The free cells, their neighbour lists and the BFS distance matrix [s, g]."""
    cells = [(r, c) for r, row in enumerate(FOUR_ROOMS) for c, char in enumerate(row)
             if char == ' ']
    index = {cell: i for i, cell in enumerate(cells)}
    neighbours = [[index[(r + dr, c + dc)] for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
                   if (r + dr, c + dc) in index] for r, c in cells]
    distances = np.full((len(cells), len(cells)), -1)
    for source in range(len(cells)):
        distances[source, source] = 0
        queue = collections.deque([source])
        while queue:
            cell = queue.popleft()
            for other in neighbours[cell]:
                if distances[source, other] < 0:
                    distances[source, other] = distances[source, cell] + 1
                    queue.append(other)
    return cells, neighbours, distances


def _room_images(cells):
    """Each cell drawn as a white 3x3 square centred on it (clipped at the border), walls not
    drawn: neighbouring cells share pixels, and so do cells on either side of a wall."""
    size = len(FOUR_ROOMS)
    images = np.zeros((len(cells), size, size, 3), np.uint8)
    for i, (r, c) in enumerate(cells):
        images[i, max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] = 255
    return images


@pytest.mark.timeout(900)
def test_icvf_ranks_gridworld_states_by_shortest_path_distance(tmp_path):
    """ICVF learns walls from action-free video: trained on random walks in a four-rooms
    gridworld (the ICVF paper's setting) with the real store, ICVFSampler (default goal and
    intent mixture, frame-index rewards) and Agent.update, V(s, g, g) ranks the 40 states by
    BFS distance to g with Spearman >= 0.9 for EVERY goal.

    The bar is the objective's: the exact fixed point of the ICVF loss on this data (the
    0.9-expectile of the walk's successor values, goal absorbing) ranks at >= 0.99, the
    random walk's own value at >= 0.98. This run reaches 0.93 (seeds 1, 2: 0.93, 0.91).
    Probes (issue 8) behind the settings: intents come from the same clip, so V(s, g, g) is
    trained only on pairs within a clip: as 40 clips of 100 steps, 2% of goal = intent pairs
    lie 9+ steps apart (7% in 1000-step walks) and 13 goals fail (min 0.52). The sampler's
    success is "same frame", so on revisits a sample at the goal cell says "not there" (38%
    of them at 100-step clips, 21% at 1000; success by cell gives 0.95 here instead of 0.93).
    The agent is drawn as a 3x3 square: as one pixel, the multilinear head sits on a plateau
    for thousands of updates, even when regressing the exact values directly.
    """
    cells, neighbours, distances = _four_rooms()
    images = _room_images(cells)
    rng = np.random.default_rng(0)
    walks = []
    for _ in range(WALKS):
        walk = [int(rng.integers(len(cells)))]
        for _ in range(WALK_LENGTH - 1):
            walk.append(int(rng.choice(neighbours[walk[-1]])))
        walks.append(np.array(walk))
    with StoreWriter(tmp_path / 'walks', kind='video', image_size=len(FOUR_ROOMS)) as writer:
        for i, walk in enumerate(walks):
            writer.add(EpisodeData(images=images[walk], task='four_rooms', source=f'walk_{i}'))
    sampler = ICVFSampler(EpisodeStore(tmp_path / 'walks'), batch_size=256, seed=0)

    torch.manual_seed(0)
    with _one_torch_thread():
        config = icvf.Config(gamma=0.9, lr=1e-3, adam_eps=1e-8, polyak=0.2,
                             encoder='identity', image_size=len(FOUR_ROOMS),
                             hidden_dims=(64, 64), augment=False)
        agent = icvf.Agent(config)
        batches = iter(sampler)
        for _ in range(3000):
            agent.update(next(batches))
    values = _goal_values(agent, torch.from_numpy(images))
    correlations = [spearmanr(values[:, goal], -distances[:, goal]).statistic
                    for goal in range(len(cells))]
    assert min(correlations) >= 0.9, np.round(correlations, 3)
