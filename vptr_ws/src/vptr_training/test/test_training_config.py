"""Training config: typed tree, inheriting presets, one precedence order, typed dotted
overrides, errors with close matches, schema version and migration."""
from __future__ import annotations

from pathlib import Path
import shutil

import numpy as np
import pytest
from vptr_training.cli import main as cli_main
from vptr_training.errors import ConfigError
from vptr_training.training import config as config_module
from vptr_training.training.config import (config_from_dict, CONFIG_VERSION, dump_config,
                                           load_config, migrate_config, preset_names,
                                           read_preset_chain, rename_key,
                                           resolve_config_path, TrainConfig)
import yaml

FIXTURES = Path(__file__).resolve().parent / 'fixtures'

PRESETS = ['bc_finetune', 'demo_finetune', 'demo_pretrain', 'demo_train', 'paper_finetune',
           'paper_pretrain', 'paper_train', 'ptr_finetune', 'ptr_train', 'vip_finetune',
           'vip_pretrain', 'vip_train', 'vptr_no_multitask_finetune']


def test_all_presets_ship_and_resolve():
    assert set(PRESETS) <= set(preset_names())
    for name in PRESETS:
        config = load_config(name)
        assert isinstance(config, TrainConfig)
        assert config.phase in name or name.startswith(('ptr', 'vptr_no', 'bc', 'vip'))
        assert config.to_dict()['agent'], name   # the algorithm's hyper-parameters merged in
        assert config.config_version == CONFIG_VERSION


def test_preset_contents():
    demo = load_config('demo_pretrain')
    assert (demo.algo, demo.image_size, demo.encoder.name) == ('icvf', 64, 'small')
    assert demo.agent.lr == 5e-5 and demo.agent.adam_eps == 3.125e-4
    for name in ('paper_pretrain', 'paper_train', 'paper_finetune'):
        paper = load_config(name)
        assert paper.image_size == 128 and paper.encoder.name == 'resnet34'
        assert paper.batch_size == 64
    assert load_config('paper_pretrain').steps == 1_000_000
    finetune = load_config('demo_finetune')
    assert (finetune.data.prior_weight, finetune.data.target_weight) == (0.1, 0.9)
    assert finetune.init_from and finetune.algo == 'cql' and finetune.agent.bc_alpha == 0.01
    paper = load_config('paper_finetune')   # the paper's recipe, not the CPU deviations
    assert (paper.data.prior_weight, paper.data.target_weight) == (0.9, 0.1)
    assert paper.agent.bc_alpha == 0.0 and paper.agent.actor_lr == 1e-4
    assert load_config('paper_train').agent.bc_alpha == 0.0
    assert load_config('demo_train').encoder.init_from
    assert load_config('ptr_train').encoder.init_from == ''
    no_multitask = load_config('vptr_no_multitask_finetune')
    assert no_multitask.data.prior == '' and no_multitask.encoder.init_from
    assert no_multitask.init_from == ''
    assert load_config('vip_pretrain').algo == 'vip'
    # VIP+CQL: the PTR pipeline with the encoders from the VIP run, continued in phase 3
    vip_train = load_config('vip_train')
    assert vip_train.encoder.init_from == load_config('vip_pretrain').out_dir
    assert load_config('vip_finetune').init_from == vip_train.out_dir
    assert load_config('ptr_finetune').init_from == load_config('ptr_train').out_dir
    bc = load_config('bc_finetune')
    assert bc.algo == 'bc' and bc.encoder.freeze is False and bc.init_from == ''
    assert bc.steps == finetune.steps   # the baseline gets phase 3's budget


def test_presets_inherit():
    # the baselines and the paper presets are overlays: what they do not say, their base
    # says (a change to demo_train reaches ptr_train and vip_train without a copy)
    assert [Path(s).stem for s, _ in read_preset_chain('ptr_train')] == [
        'demo_train', 'ptr_train']
    for name, base in (('ptr_train', 'demo_train'), ('vip_train', 'demo_train'),
                       ('ptr_finetune', 'demo_finetune'), ('vip_finetune', 'demo_finetune'),
                       ('paper_train', 'demo_train'),
                       ('vptr_no_multitask_finetune', 'demo_finetune'),
                       ('paper_pretrain', 'demo_pretrain'),
                       ('paper_finetune', 'demo_finetune')):
        chain = read_preset_chain(name)
        assert Path(chain[0][0]).stem == base, name
        overlay = load_config(name).to_dict()
        root = load_config(base).to_dict()
        said = {k for k in chain[-1][1]} | {'config_version'}
        for key in set(root) - said:       # every key the overlay does not state
            if key == 'agent' and overlay['algo'] != root['algo']:
                continue
            assert overlay[key] == root[key], (name, key)
    ptr, demo = load_config('ptr_train').to_dict(), load_config('demo_train').to_dict()
    assert {k: v for k, v in ptr.items() if k not in ('out_dir', 'encoder')} == \
        {k: v for k, v in demo.items() if k not in ('out_dir', 'encoder')}


def test_base_chain_errors_and_relative_paths(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'root.yaml').write_text('base: demo_train\nsteps: 11\n')
    relative = Path('..', 'root.yaml')     # relative to the file that names it
    (tmp_path / 'sub' / 'leaf.yaml').write_text(f'base: {relative}\nseed: 5\n')
    leaf = load_config(tmp_path / 'sub' / 'leaf.yaml')
    assert (leaf.steps, leaf.seed, leaf.algo) == (11, 5, 'cql')
    (tmp_path / 'a.yaml').write_text('base: b.yaml\n')
    (tmp_path / 'b.yaml').write_text('base: a.yaml\n')
    with pytest.raises(ConfigError, match='cycle'):
        load_config(tmp_path / 'a.yaml')
    (tmp_path / 'c.yaml').write_text('base: demo_trian\n')
    with pytest.raises(ConfigError, match=r'c\.yaml: base: .*demo_train'):
        load_config(tmp_path / 'c.yaml')
    (tmp_path / 'd.yaml').write_text('base: demo_train\nagent:\n  critc_lr: 1.0\n')
    with pytest.raises(ConfigError, match=r'd\.yaml.*agent\.critic_lr'):
        load_config(tmp_path / 'd.yaml')
    with pytest.raises(ConfigError, match='files only'):
        load_config('demo_train', ['base=demo_finetune'])


def test_one_precedence_order(tmp_path):
    """defaults < phase defaults < base preset < file < overrides (module docstring)."""
    (tmp_path / 'base.yaml').write_text(
        'phase: finetune\nalgo: cql\nsteps: 10\nseed: 3\ndata:\n  target_weight: 0.3\n')
    (tmp_path / 'file.yaml').write_text('base: base.yaml\nsteps: 20\nagent:\n  gamma: 0.5\n')
    config = load_config(tmp_path / 'file.yaml', ['seed=7'])
    assert config.batch_size == TrainConfig.batch_size          # 1. dataclass default
    assert config.agent.critic_lr == 3e-4                       # 1. the algorithm's default
    assert config.data.prior_weight == 0.9                      # 2. phase default
    assert config.data.target_weight == 0.3                     # 3. base beats phase default
    assert config.steps == 20 and config.agent.gamma == 0.5     # 3. file beats its base
    assert config.seed == 7                                     # 4. override beats all
    # algo and phase are read first, override > file chain > default
    assert load_config(tmp_path / 'file.yaml', ['phase=train']).data.prior_weight == 1.0
    with pytest.raises(ConfigError, match='agent.gamma'):       # bc has no gamma
        load_config(tmp_path / 'file.yaml', ['algo=bc'])
    # the agent's derived fields follow the config, never the file
    assert (config.agent.image_size, config.agent.encoder) == (64, 'small')
    assert config.agent_config(num_tasks=4).num_tasks == 4


def test_overrides_are_typed_by_the_value_they_replace():
    config = load_config('demo_train', [
        'steps=120', 'agent.critic_lr=1e-4', 'encoder.freeze=true', 'progress=no',
        'data.prior_weight=1', 'data.extra_tasks=[open_drawer, close_drawer]',
        'data.prior=/some/path', 'eval.hook=value-separation', 'eval.args.store=/x',
        'agent.critic_hidden_dims=[32,32]'])
    assert config.steps == 120 and isinstance(config.steps, int)
    assert config.agent.critic_lr == 1e-4
    assert config.encoder.freeze is True and config.progress is False
    assert config.data.prior_weight == 1.0
    assert isinstance(config.data.prior_weight, float)
    assert config.data.extra_tasks == ['open_drawer', 'close_drawer']
    assert (config.eval.hook, config.eval.args) == ('value-separation', {'store': '/x'})
    agent_config = config.agent_config(num_tasks=5)
    assert agent_config.num_tasks == 5 and agent_config.critic_lr == 1e-4
    assert (agent_config.image_size, agent_config.encoder) == (64, 'small')
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
    ('config_version=1', 'schema version'),
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
    assert config.steps == 7 and config.agent.expectile == 0.7
    assert config.sampler.p_traj == 0.7
    # the resolved config (as saved in checkpoints) reads back to the same dict
    again = config_from_dict(yaml.safe_load(dump_config(config)))
    assert again == config


def test_finetune_mixes_prior_and_target_by_default(tmp_path):
    path = tmp_path / 'ft.yaml'
    path.write_text('phase: finetune\nalgo: cql\n')
    data = load_config(path).data
    assert (data.prior_weight, data.target_weight) == (0.9, 0.1)
    data = load_config(path, ['data.target_weight=0.5']).data
    assert (data.prior_weight, data.target_weight) == (0.9, 0.5)
    path.write_text('phase: train\nalgo: cql\n')
    data = load_config(path).data
    assert (data.prior_weight, data.target_weight) == (1.0, 0.0)
    data = load_config(path, ['phase=finetune']).data
    assert (data.prior_weight, data.target_weight) == (0.9, 0.1)


def test_command_refuses_a_config_of_another_phase(capsys):
    assert cli_main(['pretrain', '--config', 'demo_train']) == 2
    assert "is a 'train' config" in capsys.readouterr().err
    assert cli_main(['train', '--config', 'demo_train', 'stepz=3']) == 2
    assert 'did you mean steps' in capsys.readouterr().err


def test_saved_configs_keep_todays_keys_plus_the_version():
    """config.yaml keeps the keys of the configs saved before versioning, config_version
    added; the CLI's dotted overrides address the same keys."""
    v1 = yaml.safe_load((FIXTURES / 'checkpoint_v1' / 'config.yaml').read_text())
    assert 'config_version' not in v1
    now = yaml.safe_load(dump_config(load_config('demo_finetune')))
    assert now['config_version'] == CONFIG_VERSION
    flat_v1 = {k for k, _ in config_module.flatten(v1)}
    assert {k for k, _ in config_module.flatten(now)} == flat_v1 | {'config_version'}


def test_migration_of_an_unversioned_config():
    v1 = yaml.safe_load((FIXTURES / 'checkpoint_v1' / 'config.yaml').read_text())
    migrated = migrate_config(v1, 'old')
    assert migrated['config_version'] == CONFIG_VERSION and 'config_version' not in v1
    config = config_from_dict(v1, 'old')
    assert (config.image_size, config.encoder.name, config.agent.critic_hidden_dims) == (
        8, 'identity', (8,))
    with pytest.raises(ConfigError, match='newer code'):
        migrate_config(dict(v1, config_version=CONFIG_VERSION + 1))
    with pytest.raises(ConfigError, match='positive integer'):
        migrate_config(dict(v1, config_version='two'))


def test_a_renamed_key_migrates(monkeypatch):
    """The path a future key rename takes: bump CONFIG_VERSION, add a MIGRATIONS step."""
    def rename(data):
        rename_key(data, 'agent.critic_lr', 'agent.q_lr')
        rename_key(data, 'no.such.key', 'anything')   # absent keys are left alone
        return data

    now = load_config('demo_train', ['agent.critic_lr=0.123']).to_dict()
    version = config_module.CONFIG_VERSION
    monkeypatch.setattr(config_module, 'CONFIG_VERSION', version + 1)
    monkeypatch.setitem(config_module.MIGRATIONS, version, rename)
    migrated = migrate_config(now)
    assert migrated['config_version'] == version + 1 and migrated['agent']['q_lr'] == 0.123
    assert 'critic_lr' not in migrated['agent'] and now['agent']['critic_lr'] == 0.123


def test_version_2_configs_switch_bc_alpha_off_with_zero():
    """Version 3 made CQL's bc_alpha a number (0 = off) so that a preset can switch off
    what its base switched on; a version-2 config's `null` migrates to 0."""
    v2 = dict(load_config('demo_train').to_dict(), config_version=2)
    v2['agent']['bc_alpha'] = None
    assert migrate_config(v2)['agent']['bc_alpha'] == 0.0
    assert config_from_dict(migrate_config(v2)).agent.bc_alpha == 0.0


def test_a_checkpoint_saved_before_versioning_loads(tmp_path):
    """test/fixtures/checkpoint_v1 was written by save_checkpoint before config_version
    existed (a tiny CQL agent: identity encoder, 8x8 images)."""
    from vptr_training.policy import load_policy
    from vptr_training.training.checkpoint import load_checkpoint
    checkpoint_dir = tmp_path / 'step_00000000'
    shutil.copytree(FIXTURES / 'checkpoint_v1', checkpoint_dir)
    checkpoint = load_checkpoint(checkpoint_dir)
    assert checkpoint.config['config_version'] == CONFIG_VERSION
    policy = load_policy(checkpoint_dir)
    action = policy.act(np.zeros((32, 32, 3), np.uint8), np.zeros(7), 'open_drawer')
    assert action.shape == (7,) and np.all(np.isfinite(action))
    assert np.isfinite(policy.value(np.zeros((8, 8, 3), np.uint8), np.zeros(7), 'open_drawer'))
