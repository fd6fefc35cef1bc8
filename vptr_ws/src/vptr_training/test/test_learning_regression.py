"""Learning regression: BC and CQL must solve a small simulated WidowX task.

The real simulator, the real scripted expert and the real agents (`algos.bc.Agent`,
`algos.cql.Agent`, their `update` and `act`), on the demo's target task
`put_corn_in_bowl`. To fit in about a minute on two CPU cores the policies see the
privileged state (7-D robot state, the corn's pose, the bowl's position, normalised) through
the agents' state input instead of a camera image: this checks that the losses, the update
wiring and the acting path learn a closed-loop pick-and-place, so a change that stops
learning fails CI. Image learning is measured by `tools/learnability_ladder.py` and the demo
(docs/results.md).
"""
import numpy as np
import pytest
import torch
from vptr_training.algos import bc, cql
from vptr_training.evaluation import wilson_interval
from vptr_training.robot.conventions import ptr_rewards, scale_action, unscale_action
from vptr_training.sim.env import WidowXSimEnv
from vptr_training.sim.experts import make_expert, PRIVILEGED_DIM, privileged_observation

TASK = 'put_corn_in_bowl'
DEMOS = 150
EPISODES = 20
FEATURES = PRIVILEGED_DIM


def _features(env: WidowXSimEnv, obs: dict) -> np.ndarray:
    return privileged_observation(env, obs['state'])


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Two test workers share two cores: more threads each would only contend.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def demos() -> dict:
    """Noisy scripted demos as transitions (features, scaled actions, PTR rewards)."""
    env = WidowXSimEnv(TASK, render=False)
    parts: dict[str, list] = {k: [] for k in ('s', 'a', 's2', 'r', 'm')}
    for i in range(DEMOS):
        obs, _ = env.reset(seed=20_000 + i)
        expert = make_expert(env, noise=0.1, seed=i)
        feats, actions = [_features(env, obs)], []
        for _ in range(env.max_episode_steps):
            action = expert(obs)
            obs, _, terminated, _, info = env.step(action)
            feats.append(_features(env, obs))
            actions.append(scale_action(action))
            if terminated:
                break
        rewards, terminals = ptr_rewards(len(actions), bool(info['success']))
        parts['s'].append(np.stack(feats[:-1]))
        parts['s2'].append(np.stack(feats[1:]))
        parts['a'].append(np.stack(actions))
        parts['r'].append(rewards)
        parts['m'].append(1.0 - terminals)
    data = {k: np.concatenate(v).astype(np.float32) for k, v in parts.items()}
    data['mean'], data['std'] = data['s'].mean(0), data['s'].std(0) + 1e-6
    return data


def _batch(data: dict, rng: np.random.Generator, size: int) -> dict[str, torch.Tensor]:
    idx = rng.integers(len(data['a']), size=size)
    normalise = (lambda x: torch.from_numpy((x - data['mean']) / data['std']))
    return {'observations': torch.zeros(size, 1, 1, 3, dtype=torch.uint8),
            'next_observations': torch.zeros(size, 1, 1, 3, dtype=torch.uint8),
            'states': normalise(data['s'][idx]), 'next_states': normalise(data['s2'][idx]),
            'actions': torch.from_numpy(data['a'][idx]),
            'rewards': torch.from_numpy(data['r'][idx]),
            'masks': torch.from_numpy(data['m'][idx]),
            'task_ids': torch.zeros(size, dtype=torch.int64)}


def _success_rate(agent: torch.nn.Module, data: dict) -> tuple[int, float, float]:
    env = WidowXSimEnv(TASK, render=False)
    wins = 0
    for i in range(EPISODES):
        obs, _ = env.reset(seed=90_000 + i)
        while True:
            state = torch.from_numpy((_features(env, obs) - data['mean']) / data['std'])
            action = agent.act(torch.zeros(1, 1, 1, 3, dtype=torch.uint8), state[None],
                               torch.zeros(1, dtype=torch.int64))[0].numpy()
            obs, _, terminated, truncated, info = env.step(unscale_action(action))
            if terminated or truncated:
                break
        wins += bool(info['success'])
    low, high = wilson_interval(wins, EPISODES)
    return wins, low, high


@pytest.mark.timeout(1200)
def test_bc_learns_the_simulated_pick_and_place(demos):
    torch.manual_seed(0)
    agent = bc.Agent(bc.Config(num_tasks=1, state_dim=FEATURES, encoder='identity',
                               image_size=1, augment=False, lr=1e-3))
    rng = np.random.default_rng(0)
    for _ in range(3000):
        agent.update(_batch(demos, rng, 256))
    wins, low, high = _success_rate(agent, demos)
    assert wins >= 0.8 * EPISODES, (
        f'BC solved {wins}/{EPISODES} episodes (95% CI {low:.0%}-{high:.0%}); expected >= 80%')


@pytest.mark.timeout(1200)
def test_cql_learns_the_simulated_pick_and_place(demos):
    torch.manual_seed(0)
    # A small critic keeps the test near a minute; the actor is the one BC uses.
    agent = cql.Agent(cql.Config(num_tasks=1, state_dim=FEATURES, encoder='identity',
                                 image_size=1, augment=False, critic_uses_state=True,
                                 critic_hidden_dims=(64, 64), actor_lr=1e-3, bc_alpha=0.1))
    rng = np.random.default_rng(0)
    for _ in range(4000):
        agent.update(_batch(demos, rng, 256))
    wins, low, high = _success_rate(agent, demos)
    assert wins >= 0.8 * EPISODES, (
        f'CQL solved {wins}/{EPISODES} episodes (95% CI {low:.0%}-{high:.0%}); expected '
        '>= 80%')
