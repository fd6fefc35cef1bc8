"""The agent contract (algos/base.py) and the registry (algos/__init__.py)."""
from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest
import torch
from vptr_training import algos
from vptr_training.algos.base import ActingAgent, Agent, AgentBase
from vptr_training.errors import ConfigError
from vptr_training.training.config import load_config

TINY = ['image_size=16', 'agent.latent_dim=8']
HIDDEN = {'icvf': ['agent.hidden_dims=[8]'], 'vip': [],
          'cql': ['agent.critic_hidden_dims=[8]', 'agent.actor_hidden_dims=[8]'],
          'bc': ['agent.actor_hidden_dims=[8]']}
PRESET = {'icvf': 'demo_pretrain', 'vip': 'vip_pretrain', 'cql': 'demo_train',
          'bc': 'bc_finetune'}


@pytest.mark.parametrize('algo', algos.ALGOS)
def test_every_agent_keeps_the_contract(algo):
    config = load_config(PRESET[algo], TINY + HIDDEN[algo])
    agent = algos.make_agent(config, num_tasks=3)
    assert isinstance(agent, AgentBase) and isinstance(agent, Agent)
    assert isinstance(agent, ActingAgent) == (algo in algos.ROBOT_ALGOS)
    assert agent.config.image_size == 16 and getattr(agent.config, 'num_tasks', 3) == 3
    optimizers = agent.optimizers()
    assert optimizers and all(isinstance(o, torch.optim.Optimizer) for o in optimizers.values())
    assert agent.device == torch.device('cpu')
    encoder = agent.encoder_state_dict()
    assert encoder and all(not v.requires_grad for v in encoder.values())
    # every encoder is loaded from the saved one (phase hand-over)
    agent.load_encoder_state_dict({k: torch.zeros_like(v) for k, v in encoder.items()})
    for path in type(agent).ENCODERS:
        assert all(float(v.abs().sum()) == 0 for v in
                   agent.get_submodule(path).state_dict().values()), path
    with pytest.raises(Exception, match='encoder'):
        agent.load_encoder_state_dict({'nope': torch.zeros(1)})
    for name in type(agent).DDP_MODULES:    # wrap_ddp wraps attributes of the agent
        assert isinstance(getattr(agent, name), torch.nn.Module)


def test_cql_optimizers_by_name():
    config = load_config('demo_train', TINY + HIDDEN['cql'])
    assert set(algos.make_agent(config, 2).optimizers()) == {'critic', 'actor', 'temperature'}
    lagrange = load_config('demo_train', TINY + HIDDEN['cql'] + ['agent.cql_lagrange=true'])
    assert 'cql_alpha' in algos.make_agent(lagrange, 2).optimizers()


def test_registry():
    assert set(algos.PRETRAIN_ALGOS) | set(algos.ROBOT_ALGOS) == set(algos.ALGOS)
    with pytest.raises(ConfigError, match='not one of'):
        algos.algo_module('sac')


def test_policy_does_not_import_the_training_loop():
    fixture = Path(__file__).resolve().parent / 'fixtures' / 'checkpoint_v1'
    code = ('import sys, vptr_training.policy as p; '
            f'p.load_policy({str(fixture)!r}); '
            'print("vptr_training.training.runner" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == 'False'
