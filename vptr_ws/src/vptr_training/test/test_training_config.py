"""Training config: presets, typed dotted overrides, errors with close matches."""
from __future__ import annotations

import pytest
from vptr_training.cli import main as cli_main
from vptr_training.errors import ConfigError
from vptr_training.training.config import (config_from_dict, dump_config, load_config,
                                           make_agent_config, preset_names,
                                           resolve_config_path)
import yaml

PRESETS = ['bc_finetune', 'demo_finetune', 'demo_pretrain', 'demo_train', 'paper_finetune',
           'paper_pretrain', 'paper_train', 'ptr_finetune', 'ptr_train', 'vip_finetune',
           'vip_pretrain', 'vip_train', 'vptr_no_multitask_finetune']


def test_all_presets_ship_and_resolve():
    assert set(PRESETS) <= set(preset_names())
    for name in PRESETS:
        config = load_config(name)
        assert config['phase'] in name or name.startswith(('ptr', 'vptr_no', 'bc', 'vip'))
        assert config['agent'], name           # the algorithm's hyper-parameters merged in


def test_preset_contents():
    demo = load_config('demo_pretrain')
    assert (demo['algo'], demo['image_size'], demo['encoder']['name']) == ('icvf', 64, 'small')
    assert demo['agent']['lr'] == 5e-5 and demo['agent']['adam_eps'] == 3.125e-4
    for name in ('paper_pretrain', 'paper_train', 'paper_finetune'):
        paper = load_config(name)
        assert paper['image_size'] == 128 and paper['encoder']['name'] == 'resnet34'
        assert paper['batch_size'] == 64
    assert load_config('paper_pretrain')['steps'] == 1_000_000
    finetune = load_config('demo_finetune')
    assert (finetune['data']['prior_weight'], finetune['data']['target_weight']) == (0.9, 0.1)
    assert finetune['init_from'] and finetune['algo'] == 'cql'
    assert load_config('demo_train')['encoder']['init_from']
    assert load_config('ptr_train')['encoder']['init_from'] == ''
    no_multitask = load_config('vptr_no_multitask_finetune')
    assert no_multitask['data']['prior'] == '' and no_multitask['encoder']['init_from']
    assert load_config('vip_pretrain')['algo'] == 'vip'
    # VIP+CQL: the PTR pipeline with the encoders from the VIP run, continued in phase 3
    vip_train, ptr_train = load_config('vip_train'), load_config('ptr_train')
    assert vip_train['encoder']['init_from'] == load_config('vip_pretrain')['out_dir']
    assert {k: v for k, v in vip_train.items() if k not in ('out_dir', 'encoder')} == \
        {k: v for k, v in ptr_train.items() if k not in ('out_dir', 'encoder')}
    assert load_config('vip_finetune')['init_from'] == vip_train['out_dir']
    bc = load_config('bc_finetune')
    assert bc['algo'] == 'bc' and bc['encoder']['freeze'] is True


def test_overrides_are_typed_by_the_value_they_replace():
    config = load_config('demo_train', [
        'steps=120', 'agent.critic_lr=1e-4', 'encoder.freeze=true', 'progress=no',
        'data.prior_weight=1', 'data.extra_tasks=[open_drawer, close_drawer]',
        'data.prior=/some/path', 'eval.hook=value-separation', 'eval.args.store=/x',
        'agent.critic_hidden_dims=[32,32]'])
    assert config['steps'] == 120 and isinstance(config['steps'], int)
    assert config['agent']['critic_lr'] == 1e-4
    assert config['encoder']['freeze'] is True and config['progress'] is False
    assert config['data']['prior_weight'] == 1.0
    assert isinstance(config['data']['prior_weight'], float)
    assert config['data']['extra_tasks'] == ['open_drawer', 'close_drawer']
    assert config['eval'] == {'hook': 'value-separation', 'args': {'store': '/x'}}
    agent_config = make_agent_config(config, num_tasks=5, image_size=64, encoder='small')
    assert agent_config.num_tasks == 5 and agent_config.critic_lr == 1e-4
    assert tuple(agent_config.critic_hidden_dims) == (32, 32)


@pytest.mark.parametrize('override, message', [
    ('stesp=10', 'did you mean steps'),
    ('agent.critc_lr=1e-3', 'agent.critic_lr'),
    ('data.prior_wieght=0.5', 'data.prior_weight'),
    ('steps=1.5', 'expected an integer'),
    ('steps=many', 'steps'),
    ('encoder.freeze=maybe', 'true or false'),
    ('agent.image_size=32', 'derived from image_size'),
    ('data=3', 'section'),
    ('justtext', 'key=value'),
])
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config('demo_train', [override])


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('algo: cql\nbatch_sise: 32\n')
    with pytest.raises(ConfigError, match=r'bad\.yaml.*batch_size'):
        load_config(bad)
    broken = tmp_path / 'broken.yaml'
    broken.write_text('algo: [cql\n')
    with pytest.raises(ConfigError, match='broken.yaml'):
        load_config(broken)
    with pytest.raises(ConfigError, match='demo_pretrain'):
        resolve_config_path('demo_pretrian')
    with pytest.raises(ConfigError, match='algo'):
        load_config('demo_train', ['algo=sac'])
    with pytest.raises(ConfigError, match='steps must be positive'):
        load_config('demo_train', ['steps=0'])


def test_custom_file_and_roundtrip(tmp_path):
    path = tmp_path / 'mine.yaml'
    path.write_text('phase: pretrain\nalgo: icvf\nsteps: 7\nagent:\n  expectile: 0.7\n')
    config = load_config(path, ['sampler.p_traj=0.7', 'sampler.p_random=0.2'])
    assert config['steps'] == 7 and config['agent']['expectile'] == 0.7
    assert config['sampler']['p_traj'] == 0.7
    # the resolved config (as saved in checkpoints) reads back to the same dict
    again = config_from_dict(yaml.safe_load(dump_config(config)))
    assert again == config


def test_finetune_mixes_prior_and_target_by_default(tmp_path):
    path = tmp_path / 'ft.yaml'
    path.write_text('phase: finetune\nalgo: cql\n')
    data = load_config(path)['data']
    assert (data['prior_weight'], data['target_weight']) == (0.9, 0.1)
    data = load_config(path, ['data.target_weight=0.5'])['data']
    assert (data['prior_weight'], data['target_weight']) == (0.9, 0.5)
    path.write_text('phase: train\nalgo: cql\n')
    data = load_config(path)['data']
    assert (data['prior_weight'], data['target_weight']) == (1.0, 0.0)
    data = load_config(path, ['phase=finetune'])['data']
    assert (data['prior_weight'], data['target_weight']) == (0.9, 0.1)


def test_command_refuses_a_config_of_another_phase(capsys):
    assert cli_main(['pretrain', '--config', 'demo_train']) == 2
    assert "is a 'train' config" in capsys.readouterr().err
    assert cli_main(['train', '--config', 'demo_train', 'stepz=3']) == 2
    assert 'did you mean steps' in capsys.readouterr().err
