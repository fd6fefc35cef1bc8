"""CQL: each loss term by hand, agent plumbing, phase hand-over, and an offline bandit."""

import datetime
import math

import numpy as np
import pytest
import torch
from vptr_training.algos import cql, icvf
from vptr_training.errors import CheckpointError


def test_max_backup_target_takes_min_over_heads_then_max_over_actions():
    target_next_q = torch.tensor([[[1.0, 5.0, 2.0], [0.0, -1.0, -2.0]],
                                  [[3.0, 4.0, 0.0], [-3.0, 1.0, -1.0]]])   # (k=2, B=2, N=3)
    # min over heads: [[1, 4, 0], [-3, -1, -2]] -> max over actions: [4, -1]
    y = cql.max_backup_target(target_next_q, torch.tensor([-1.0, 10.0]),
                              torch.tensor([1.0, 0.0]), gamma=0.5)
    assert torch.allclose(y, torch.tensor([-1.0 + 0.5 * 4.0, 10.0]))


def test_conservative_term_is_importance_weighted_logsumexp_minus_data_q():
    q_policy = torch.tensor([[[1.0, 2.0]], [[0.5, -1.0]]])      # (k=2, B=1, N=2)
    logp_policy = torch.tensor([[-1.0, 0.5]])                   # (B=1, N=2)
    q_uniform = torch.tensor([[[0.0, 3.0]], [[1.0, 1.0]]])      # (k=2, B=1, M=2)
    q_data = torch.tensor([[2.0], [0.0]])
    log_uniform = 7 * math.log(0.5)
    expected = []
    for k in range(2):
        terms = [q_policy[k, 0, 0] - logp_policy[0, 0], q_policy[k, 0, 1] - logp_policy[0, 1],
                 q_uniform[k, 0, 0] - log_uniform, q_uniform[k, 0, 1] - log_uniform]
        expected.append(math.log(sum(math.exp(t.item()) for t in terms)) - q_data[k, 0].item())
    conservative, info = cql.cql_conservative_term(q_policy, logp_policy, q_uniform, q_data)
    assert conservative.shape == (2, 1)
    assert conservative[:, 0].tolist() == pytest.approx(expected, rel=1e-6)
    assert info['cql_gap'] == pytest.approx(sum(expected) / 2, rel=1e-6)


def test_critic_actor_and_temperature_losses_by_hand():
    q_data = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    td_targets = torch.tensor([2.0, 2.0])
    conservative = torch.tensor([[1.0, 3.0], [2.0, 0.0]])
    loss, info = cql.critic_loss(q_data, td_targets, conservative, cql_alpha=10.0)
    td = (1.0 + 0.0) / 2 + (4.0 + 1.0) / 2            # per-head batch means, summed
    assert info['td_loss'] == pytest.approx(td)
    assert loss.item() == pytest.approx(td + 10.0 * (2.0 + 1.0))
    loss, _ = cql.critic_loss(q_data, td_targets, conservative, cql_alpha=2.0, target_gap=1.0)
    assert loss.item() == pytest.approx(td + 2.0 * ((2.0 - 1.0) + (1.0 - 1.0)))

    log_probs = torch.tensor([-1.0, 2.0])
    q_new = torch.tensor([[1.0, 5.0], [3.0, 4.0]])     # min over heads: [1, 4]
    loss, _ = cql.actor_loss(log_probs, q_new, temperature=0.5)
    assert loss.item() == pytest.approx(((0.5 * -1.0 - 1.0) + (0.5 * 2.0 - 4.0)) / 2)
    # TD3+BC form: lambda = bc_alpha / mean |min_k Q| = 2.5 / 2.5, plus the action error.
    mean_action = torch.tensor([[0.0], [0.0]])
    data_actions = torch.tensor([[0.5], [-1.0]])
    loss, info = cql.actor_loss(log_probs, q_new, 0.5, bc_alpha=2.5, mean_action=mean_action,
                                data_actions=data_actions)
    policy_term = ((0.5 * -1.0 - 1.0) + (0.5 * 2.0 - 4.0)) / 2
    assert info['actor_q_scale'] == pytest.approx(1.0)
    assert loss.item() == pytest.approx(policy_term + (0.25 + 1.0) / 2)

    log_temperature = torch.tensor(math.log(2.0), requires_grad=True)
    loss, info = cql.temperature_loss(log_temperature, torch.tensor([1.0, 3.0]),
                                      target_entropy=-7.0)
    # entropy = -mean(log p) = -2, loss = 2 * (-2 - (-7)) = 10
    assert loss.item() == pytest.approx(10.0)
    loss.backward()
    # Entropy above target -> positive gradient -> descent lowers the temperature.
    assert log_temperature.grad.item() == pytest.approx(10.0)

    log_alpha = torch.zeros((), requires_grad=True)
    loss, _ = cql.lagrange_loss(log_alpha, conservative, target_gap=1.0)
    assert loss.item() == pytest.approx(-((2.0 - 1.0) + (1.0 - 1.0)) / 2)


def _image_batch(batch_size, size, num_tasks, generator):
    def images():
        return torch.randint(0, 256, (batch_size, size, size, 3), dtype=torch.uint8,
                             generator=generator)
    return {'observations': images(), 'next_observations': images(),
            'states': torch.randn(batch_size, 7, generator=generator),
            'next_states': torch.randn(batch_size, 7, generator=generator),
            'actions': torch.rand(batch_size, 7, generator=generator) * 2 - 1,
            'rewards': torch.randn(batch_size, generator=generator),
            'masks': torch.ones(batch_size),
            'task_ids': torch.randint(0, num_tasks, (batch_size,), generator=generator)}


def _small_config(**overrides):
    values = dict(num_tasks=3, image_size=16, latent_dim=16, critic_hidden_dims=(16, 16, 16),
                  actor_hidden_dims=(16, 16, 16))
    values.update(overrides)
    return cql.Config(**values)


def test_actor_loss_does_not_train_the_critic_encoder():
    torch.manual_seed(0)
    agent = cql.Agent(_small_config(critic_lr=0.0))
    critic_before = {k: v.clone() for k, v in agent.critic.state_dict().items()}
    actor_before = {k: v.clone() for k, v in agent.actor.state_dict().items()}
    info = agent.update(_image_batch(4, 16, 3, torch.Generator().manual_seed(1)))
    assert all(np.isfinite(v) for v in info.values())
    for key, value in agent.critic.state_dict().items():
        assert torch.equal(value, critic_before[key]), key
    assert any(not torch.equal(v, actor_before[k]) for k, v in agent.actor.state_dict().items())
    assert agent.log_temperature.exp().item() != pytest.approx(1.0)
    assert set(agent.optimizers()) == {'critic', 'actor', 'temperature'}


def test_act_modes_q_values_and_value_shapes():
    torch.manual_seed(0)
    agent = cql.Agent(_small_config())
    batch = _image_batch(5, 16, 3, torch.Generator().manual_seed(2))
    images, states, task_ids = batch['observations'], batch['states'], batch['task_ids']
    deterministic = agent.act(images, states, task_ids, mode='actor')
    reranked = agent.act(images, states, task_ids, mode='q-rerank', num_samples=8)
    assert deterministic.shape == reranked.shape == (5, 7)
    assert reranked.abs().max() <= 1.0
    # The deterministic action is one of the re-ranking candidates.
    q_rerank = agent.q_values(images, reranked, task_ids).min(0).values
    q_mean = agent.q_values(images, deterministic, task_ids).min(0).values
    assert (q_rerank >= q_mean - 1e-6).all()
    assert agent.q_values(images, torch.zeros(5, 4, 7), task_ids).shape == (2, 5, 4)
    assert torch.allclose(agent.value(images, states, task_ids), q_mean)


def test_phase_hand_over_makes_all_cql_encoders_bit_identical_to_icvf():
    torch.manual_seed(0)
    pretrain = icvf.Agent(icvf.Config(image_size=16, latent_dim=16, hidden_dims=(8, 8)))
    encoder = pretrain.encoder_state_dict()
    agent = cql.Agent(_small_config())
    agent.load_encoder_state_dict(encoder)
    for module in (agent.critic.encoder, agent.target_critic.encoder, agent.actor.encoder):
        state = module.state_dict()
        assert set(state) == set(encoder)
        assert all(torch.equal(state[key], encoder[key]) for key in encoder)
    # Later training of one encoder does not alias the others.
    agent.update(_image_batch(4, 16, 3, torch.Generator().manual_seed(3)))
    assert not torch.equal(agent.critic.encoder.state_dict()['bottleneck.0.weight'],
                           agent.actor.encoder.state_dict()['bottleneck.0.weight'])


def test_hand_over_mismatch_is_a_clear_checkpoint_error():
    small = cql.Agent(_small_config()).encoder_state_dict()
    with pytest.raises(CheckpointError, match='missing keys'):
        cql.Agent(_small_config(encoder='resnet34', image_size=32)).load_encoder_state_dict(small)
    with pytest.raises(CheckpointError, match='shape'):
        cql.Agent(_small_config(image_size=32)).load_encoder_state_dict(small)


def test_frozen_encoder_variant_keeps_encoders_fixed():
    torch.manual_seed(0)
    agent = cql.Agent(_small_config(freeze_encoder=True))
    before = agent.encoder_state_dict()
    actor_before = {k: v.clone() for k, v in agent.actor.encoder.state_dict().items()}
    agent.update(_image_batch(4, 16, 3, torch.Generator().manual_seed(4)))
    after = agent.encoder_state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    actor_after = agent.actor.encoder.state_dict()
    assert all(torch.equal(actor_before[k], v) for k, v in actor_after.items())


# -- learning: a one-step offline bandit with a noisy two-mode behaviour policy -------------
BEST = np.array([[0.5, -0.5], [-0.5, 0.5]], np.float32)    # per context
BAD = np.array([[-0.8, -0.8], [0.8, -0.8]], np.float32)


def _bandit_reward(context, actions):
    return -4.0 * ((actions - BEST[context]) ** 2).sum(-1)


def _context_images(context):
    images = np.zeros((len(context), 1, 1, 3), np.uint8)
    images[:, 0, 0, 0] = 255 * context
    return torch.from_numpy(images)


def _bandit_batch(rng, batch_size):
    context = rng.integers(2, size=batch_size)
    good = rng.random(batch_size) < 0.5
    actions = np.where(good[:, None], BEST[context], BAD[context])
    actions = np.clip(actions + rng.normal(0, 0.1, (batch_size, 2)), -1, 1).astype(np.float32)
    states = torch.from_numpy(context[:, None].astype(np.float32))
    return {'observations': _context_images(context),
            'next_observations': _context_images(context), 'states': states,
            'next_states': states, 'actions': torch.from_numpy(actions),
            'rewards': torch.from_numpy(_bandit_reward(context, actions).astype(np.float32)),
            'masks': torch.zeros(batch_size),
            'task_ids': torch.zeros(batch_size, dtype=torch.long)}


def _train_toy_agent(make_batch, steps: int, state_dim: int, **config) -> cql.Agent:
    """A small CQL agent (identity encoder over 1-pixel images, fast learning rates) trained
    single-threaded on batches of 128 from make_batch(rng, batch_size)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        agent = cql.Agent(cql.Config(
            num_tasks=1, action_dim=2, state_dim=state_dim, encoder='identity', image_size=1,
            critic_hidden_dims=(64, 64, 64), actor_hidden_dims=(64, 64, 64), augment=False,
            critic_lr=3e-3, actor_lr=1e-3, temperature_lr=1e-3, **config))
        for _ in range(steps):
            agent.update(make_batch(rng, 128))
    finally:
        torch.set_num_threads(threads)
    return agent


def test_cql_beats_behaviour_and_is_conservative_out_of_distribution():
    agent = _train_toy_agent(_bandit_batch, 800, state_dim=1)
    context = np.array([0, 1])
    states = torch.from_numpy(context[:, None].astype(np.float32))
    task_ids = torch.zeros(2, dtype=torch.long)
    policy_actions = agent.act(_context_images(context), states, task_ids).numpy()
    policy_reward = _bandit_reward(context, policy_actions).mean()
    data = _bandit_batch(np.random.default_rng(1), 4000)
    behaviour_reward = data['rewards'].mean().item()          # about -5
    assert policy_reward > behaviour_reward + 3.0
    assert policy_reward > -0.5
    # Never-seen action (0.9, 0.9): true reward -8.5; CQL must under-estimate it and rank it
    # below the dataset actions.
    unseen = torch.full((2, 2), 0.9)
    q_unseen = agent.q_values(_context_images(context), unseen, task_ids).min(0).values
    q_data = agent.q_values(data['observations'], data['actions'],
                            data['task_ids']).min(0).values
    assert (q_unseen < torch.from_numpy(_bandit_reward(context, unseen.numpy()))).all()
    assert q_unseen.max() < q_data.mean()


# -- learning through the backup: a two-step chain, the reward only at the second step -----
def _chain_images(stage, context, good):
    images = np.zeros((len(stage), 1, 1, 3), np.uint8)
    images[:, 0, 0] = 255 * np.stack([stage, context, good], axis=1)
    return torch.from_numpy(images)


def _chain_batch(rng, batch_size):
    """Step 0 (stage 0): the action decides whether step 1 starts in the good or the bad
    state; reward 0, not terminal. Step 1 (stage 1): any action, reward +1 in the good
    state and -1 in the bad one, terminal. The behaviour policy picks good and bad first
    actions half the time each, so only bootstrapping through step 1 tells them apart."""
    half = batch_size // 2
    context = rng.integers(2, size=batch_size)
    good = (rng.random(batch_size) < 0.5).astype(np.int64)
    stage = np.r_[np.zeros(half, np.int64), np.ones(batch_size - half, np.int64)]
    first = np.where(good[:half, None], BEST[context[:half]], BAD[context[:half]])
    first = first + rng.normal(0, 0.1, first.shape)
    second = rng.uniform(-1, 1, (batch_size - half, 2))
    actions = np.clip(np.r_[first, second], -1, 1).astype(np.float32)
    rewards = np.where(stage == 0, 0.0, np.where(good == 1, 1.0, -1.0)).astype(np.float32)
    next_stage = np.ones(batch_size, np.int64)            # stage 1 after step 0; unused after
    obs = np.stack([stage, context, good], axis=1).astype(np.float32)
    next_obs = np.stack([next_stage, context, good], axis=1).astype(np.float32)
    return {'observations': _chain_images(stage, context, good * (stage == 1)),
            'next_observations': _chain_images(next_stage, context, good),
            'states': torch.from_numpy(obs * np.array([1, 1, 0], np.float32)),
            'next_states': torch.from_numpy(next_obs),
            'actions': torch.from_numpy(actions), 'rewards': torch.from_numpy(rewards),
            'masks': torch.from_numpy((stage == 0).astype(np.float32)),
            'task_ids': torch.zeros(batch_size, dtype=torch.long)}


def test_cql_learns_the_first_action_through_the_bootstrapped_value():
    # alpha 1, not 10: on a data set this small the conservative term at alpha 10 outweighs
    # a TD signal of +-gamma (the bandit test above covers alpha 10); with alpha 0 the
    # values come out at exactly +-0.96, which checks the backup's wiring.
    agent = _train_toy_agent(_chain_batch, 1000, state_dim=3, polyak=0.05, cql_alpha=1.0)
    context = np.array([0, 1])
    zeros = np.zeros(2, np.int64)
    first_images = _chain_images(zeros, context, zeros)
    first_states = torch.from_numpy(np.stack([zeros, context, zeros], 1).astype(np.float32))
    task_ids = torch.zeros(2, dtype=torch.long)
    # Step 0's value differs between the actions only through gamma * V(step 1).
    q_good = agent.q_values(first_images, torch.from_numpy(BEST), task_ids).min(0).values
    q_bad = agent.q_values(first_images, torch.from_numpy(BAD), task_ids).min(0).values
    assert (q_good - q_bad > 0.8).all(), (q_good, q_bad)
    # ... and the policy takes the good first action (the behaviour policy: half the time).
    chosen = agent.act(first_images, first_states, task_ids).numpy()
    assert (np.linalg.norm(chosen - BEST[context], axis=1)
            < np.linalg.norm(chosen - BAD[context], axis=1)).all(), chosen


# -- DDP: two gloo processes, different seeds and data, identical parameters after updates ---
def _ddp_worker(rank, world_size, init_file, out_dir):
    import torch.distributed as dist
    from vptr_training.algos import bc, vip
    torch.set_num_threads(1)
    # a finite timeout: a rendezvous that cannot complete fails the test instead of
    # blocking for gloo's default 30 minutes
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world_size, timeout=datetime.timedelta(seconds=120))
    torch.manual_seed(100 + rank)   # different initial weights per rank on purpose
    size = 8
    agents = {
        'cql': cql.Agent(_small_config(image_size=size)),
        'cql_lagrange': cql.Agent(_small_config(image_size=size, cql_lagrange=True)),
        'icvf': icvf.Agent(icvf.Config(image_size=size, latent_dim=8, hidden_dims=(8, 8))),
        'bc': bc.Agent(bc.Config(num_tasks=3, image_size=size, latent_dim=8,
                                 actor_hidden_dims=(8, 8))),
        'vip': vip.Agent(vip.Config(image_size=size, latent_dim=8)),
    }
    generator = torch.Generator().manual_seed(rank)   # different data per rank
    for agent in agents.values():
        agent.wrap_ddp()
    for _ in range(3):
        robot = _image_batch(2, size, 3, generator)
        video = {key: torch.randint(0, 256, (2, size, size, 3), dtype=torch.uint8,
                                    generator=generator)
                 for key in ('observations', 'next_observations', 'goals', 'intents')}
        video.update(rewards=-torch.ones(2), masks=torch.ones(2), intent_rewards=-torch.ones(2),
                     intent_masks=torch.ones(2))
        for name, agent in agents.items():
            agent.update(video if name in ('icvf', 'vip') else robot)
    torch.save({name: agent.state_dict() for name, agent in agents.items()},
               f'{out_dir}/rank{rank}.pt')
    dist.destroy_process_group()


def test_ddp_two_process_gloo_keeps_ranks_identical(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / 'rendezvous'), str(tmp_path)), nprocs=2,
             join=True)
    rank0 = torch.load(tmp_path / 'rank0.pt')
    rank1 = torch.load(tmp_path / 'rank1.pt')
    assert set(rank0) == {'cql', 'cql_lagrange', 'icvf', 'bc', 'vip'}
    for name in rank0:
        assert not any(key.startswith('module.') or '.module.' in key for key in rank0[name])
        assert set(rank0[name]) == set(rank1[name])
        for key, value in rank0[name].items():
            assert torch.allclose(value, rank1[name][key], rtol=0, atol=1e-6), (name, key)
    # The scalars outside DDP moved (so their gradient all-reduce was exercised).
    assert rank0['cql']['log_temperature'].item() != 0.0
    assert rank0['cql_lagrange']['log_cql_alpha'].item() != 0.0


def test_wrap_ddp_keeps_a_restored_target_network(tmp_path):
    """After a resume or a phase-3 init_from the target differs from the online network;
    wrapping for DDP must keep it (it used to re-copy the online network over it)."""
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "rendezvous"}', rank=0,
                            world_size=1, timeout=datetime.timedelta(seconds=120))
    try:
        cql_agent = cql.Agent(_small_config(image_size=8))
        icvf_agent = icvf.Agent(icvf.Config(image_size=8, latent_dim=8, hidden_dims=(8, 8)))
        restored = {}
        for name, target in (('cql', cql_agent.target_critic),
                             ('icvf', icvf_agent.target_value_net)):
            with torch.no_grad():
                for parameter in target.parameters():
                    parameter.add_(0.5)
            restored[name] = {k: v.clone() for k, v in target.state_dict().items()}
        cql_agent.wrap_ddp()
        icvf_agent.wrap_ddp()
        for name, target in (('cql', cql_agent.target_critic),
                             ('icvf', icvf_agent.target_value_net)):
            for key, value in target.state_dict().items():
                assert torch.equal(value, restored[name][key]), (name, key)
    finally:
        dist.destroy_process_group()
