"""Pipeline presets of `vptr demo` (configs/pipelines/*.yaml): what a preset file says is
what runs. No training here: the pipeline's steps and their config files are built only."""
from pathlib import Path

import pytest
from vptr_training.demo import DemoPipeline, load_preset, preset_names, RUN_CONFIGS
from vptr_training.errors import ConfigError
from vptr_training.training.config import load_config
import yaml


def _pipeline(tmp_path: Path, preset_name: str = 'demo', preset=None) -> DemoPipeline:
    preset = preset or load_preset(preset_name)
    return DemoPipeline(tmp_path / 'out', preset_name, preset, 'put_corn_in_bowl',
                        ['put_cube_in_bowl'], ['pick'], workers=1)


def test_shipped_presets_load_and_their_runs_resolve(tmp_path):
    assert {'micro', 'demo', 'sim-benchmark'} <= set(preset_names())
    for name in preset_names():
        pipeline = _pipeline(tmp_path / name, name)
        trains = [s for s in pipeline.steps if s.command[0] in ('pretrain', 'train', 'finetune')]
        assert trains, name
        for step in trains:   # no argv overrides: the run's config file is the whole story
            assert step.command[1:2] == ['--config'] and len(step.command) == 3
            config = load_config(step.command[2])
            assert config.image_size == pipeline.preset.image_size
            assert f'{config.steps} steps' in step.title


def test_the_demo_preset_runs_the_shipped_configs_as_written(tmp_path):
    """`demo` sets nothing on its runs: demo_train.yaml's steps are the steps make demo runs."""
    pipeline = _pipeline(tmp_path)
    assert pipeline.preset.overlay('vptr_train') == {}
    by_run = {Path(s.command[2]).stem: load_config(s.command[2]) for s in pipeline.steps
              if s.command[0] in ('pretrain', 'train', 'finetune')}
    for run, config in by_run.items():
        shipped = load_config(RUN_CONFIGS[run])
        assert config.steps == shipped.steps and config.batch_size == shipped.batch_size, run
        assert config.agent == shipped.agent, run
    # the pipeline wires the phases together through the files, not the argv
    assert by_run['vptr_train'].encoder.init_from.endswith('pretrain_icvf')
    assert by_run['vptr_finetune'].init_from.endswith('vptr_train')
    assert by_run['ptr_train'].encoder.init_from == ''
    assert by_run['bc_finetune'].encoder.init_from.endswith('pretrain_icvf')


def test_overlays_apply_to_all_runs_then_per_run(tmp_path):
    path = tmp_path / 'mine.yaml'
    path.write_text(yaml.safe_dump({
        'data': {'image_size': 32, 'robot_episodes': 4, 'target_demos': 2, 'video_clips': 2},
        'eval': {'episodes': 1}, 'methods': ['vptr', 'vptr_no_multitask'],
        'set': {'image_size': 32, 'steps': 7, 'agent': {'gamma': 0.9}},
        'runs': {'vptr_finetune': {'steps': 3}}}))
    pipeline = _pipeline(tmp_path, str(path))
    configs = {Path(s.command[2]).stem: load_config(s.command[2]) for s in pipeline.steps
               if s.command[0] in ('pretrain', 'train', 'finetune')}
    assert configs['vptr_train'].steps == 7 and configs['vptr_finetune'].steps == 3
    assert configs['vptr_train'].agent.gamma == 0.9
    # the ablation trains on the target demos only, from the ICVF encoder
    ablation = configs['vptr_no_multitask_finetune']
    assert ablation.data.prior == '' and ablation.encoder.init_from.endswith('pretrain_icvf')
    assert configs['vptr_train'].data.prior.endswith('prior')   # not clobbered by it


@pytest.mark.parametrize('text, match', [
    ('data: {image_size: 64}\neval: {episodes: 1}\n', 'missing data.robot_episodes'),
    ('dat: {}\n', "unknown key 'dat'; did you mean data"),
    ('runs: {vptr_trian: {steps: 1}}\n', "unknown key runs.'vptr_trian'; did you mean vptr_train"),
    ('methods: [vptr, bcc]\n', "unknown key methods: 'bcc'; did you mean bc"),
    (': [\n', 'cannot read YAML'),
])
def test_bad_preset_files_name_the_file_and_the_key(tmp_path, text, match):
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as error:
        load_preset(path)
    assert str(path) in str(error.value)


def test_a_run_key_the_schema_does_not_know_or_a_size_mismatch_is_an_error(tmp_path):
    base = {'data': {'image_size': 64, 'robot_episodes': 4, 'target_demos': 2,
                     'video_clips': 2}, 'eval': {'episodes': 1}}
    path = tmp_path / 'typo.yaml'
    path.write_text(yaml.safe_dump({**base, 'set': {'stepz': 3}}))
    with pytest.raises(ConfigError, match=r'typo\.yaml \(run pretrain_icvf\).*stepz'):
        _pipeline(tmp_path, str(path))
    path.write_text(yaml.safe_dump({**base, 'set': {'image_size': 32}}))
    with pytest.raises(ConfigError, match='image_size 32 .* converted at 64'):
        _pipeline(tmp_path, str(path))
    with pytest.raises(ConfigError, match='no such pipeline preset'):
        load_preset('nonesuch')
