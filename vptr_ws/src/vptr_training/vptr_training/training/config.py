"""Training configuration: YAML presets, `key=value` dotted overrides, the resolved config.

A config is a nested dict. `load_config(name_or_path, overrides)` starts from DEFAULTS,
merges the YAML file (a path, or the name of a preset shipped in `vptr_training/configs/`),
then the algorithm's own hyper-parameters (the fields of `algos.<algo>.Config`) under
`agent`, then the overrides. An override is typed by the value it replaces, so `steps=100`
is an int and `lr=1e-4` a float; an unknown key is a ConfigError that lists close matches.
The resolved config is saved (as config.yaml) in every checkpoint.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import importlib
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from vptr_training.errors import ConfigError
import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / 'configs'

ALGOS = ('icvf', 'vip', 'cql', 'bc')
PHASES = ('pretrain', 'train', 'finetune')

# Every key a config may have. Algorithm hyper-parameters live under `agent` and come from
# the algorithm's Config dataclass (see `agent_defaults`).
DEFAULTS: dict[str, Any] = {
    'phase': 'train',
    'algo': 'cql',
    'seed': 0,
    'steps': 1000,
    'batch_size': 64,
    'image_size': 64,
    'device': 'auto',             # auto | cpu | cuda | cuda:N
    'num_workers': 1,             # DataLoader worker processes (0: sample in the main one)
    'prefetch': 2,                # batches prepared ahead per worker
    'torch_threads': 0,           # 0: leave torch's default
    'out_dir': 'runs/default',
    'log_every': 50,
    'eval_every': 0,              # 0: no periodic evaluation
    'save_every': 1000,
    'keep_last': 2,
    'progress': True,             # tqdm progress bar
    'overwrite': False,           # a fresh run may replace an old run in out_dir
    'init_from': '',              # phase 3: a phase-2 checkpoint, whole agent restored
    'init_optimizer': True,       # ... with its optimizer state (the run continues)
    'data': {
        'video': '',              # ICVF / VIP video store
        'prior': '',              # robot prior data store (Bridge-like)
        'target': '',             # target-task demos store
        'prior_weight': 1.0,      # phase finetune: 0.9 (FINETUNE_DATA_WEIGHTS)
        'target_weight': 0.0,     # 0: target tasks get a one-hot slot but are not sampled
        'extra_tasks': [],        # more task names for the one-hot
        'split': 'train',
    },
    'sampler': {
        'p_random': 0.1,
        'p_traj': 0.8,
        'p_curr': 0.1,
        'p_goal_is_intent': 0.5,
        'n_success_steps': 3,
    },
    'encoder': {
        'name': 'small',          # small | resnet34
        'init_from': '',          # a phase-1 checkpoint: its encoder initialises this one
        'freeze': False,          # keep the encoder fixed (frozen-feature baselines)
    },
    'eval': {
        'hook': '',               # a registered hook name, or 'module:function'
        'args': {},               # keyword arguments handed to the hook
    },
    'agent': {},
}


# Phase 3's default prior / target mixing ratio (PTR / V-PTR fine-tuning).
FINETUNE_DATA_WEIGHTS = {'prior_weight': 0.9, 'target_weight': 0.1}


def _algo_config_class(algo: str) -> Any:
    if algo not in ALGOS:
        raise ConfigError(f'algo {algo!r} is not one of {", ".join(ALGOS)}')
    module = importlib.import_module(f'vptr_training.algos.{algo}')
    return module.Config


# Agent Config fields the runner derives from the rest of the config (never set directly).
DERIVED_AGENT_KEYS = {
    'image_size': 'image_size', 'encoder': 'encoder.name', 'freeze_encoder': 'encoder.freeze',
    'num_tasks': 'the task list of the data', 'action_dim': 'the robot conventions',
    'state_dim': 'the robot conventions'}


def agent_defaults(algo: str) -> dict[str, Any]:
    """The algorithm's hyper-parameters with their defaults (fields of its Config), less
    the ones derived from the rest of the config."""
    cls = _algo_config_class(algo)
    values = _plain(dataclasses.asdict(cls()))
    return {k: v for k, v in values.items() if k not in DERIVED_AGENT_KEYS}


def _plain(value: Any) -> Any:
    # YAML-friendly: tuples to lists, recursively.
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def preset_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob('*.yaml'))


def resolve_config_path(name_or_path: str | os.PathLike) -> Path:
    """A YAML path, or the name of a shipped preset (with or without `.yaml`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = CONFIG_DIR / (path.name if path.suffix == '.yaml' else path.name + '.yaml')
    if str(path) == path.name and candidate.is_file():
        return candidate
    close = difflib.get_close_matches(path.stem, preset_names(), n=3)
    hint = f'; close presets: {", ".join(close)}' if close else ''
    raise ConfigError(f'{name_or_path}: no such config file or preset '
                      f'(presets: {", ".join(preset_names())}){hint}')


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f'{path}: cannot read YAML: {exc}') from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: the top level must be a mapping, got {type(data).__name__}')
    return data


def flatten(config: dict[str, Any], prefix: str = '') -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf; dicts under `agent`/`eval.args` are leaves too
    when empty."""
    for key, value in config.items():
        dotted = f'{prefix}{key}'
        if isinstance(value, dict) and value:
            yield from flatten(value, dotted + '.')
        else:
            yield dotted, value


def _merge(base: dict[str, Any], update: dict[str, Any], source: str, where: str = '',
           open_keys: Iterable[str] = ('eval.args',)) -> None:
    """Deep-merge `update` into `base`; keys unknown to `base` are errors (typos)."""
    for key, value in update.items():
        dotted = f'{where}{key}'
        if key not in base:
            if where.rstrip('.') in open_keys:
                base[key] = value
                continue
            _unknown_key(dotted, base, where, source)
        if isinstance(base[key], dict) and base[key] and isinstance(value, dict):
            _merge(base[key], value, source, dotted + '.', open_keys)
        elif isinstance(base[key], dict) and base[key] and value is not None:
            raise ConfigError(f'{source}: {dotted} must be a mapping, got {value!r}')
        else:
            base[key] = _coerce(dotted, base[key], value, source)


def _unknown_key(dotted: str, base: dict[str, Any], where: str, source: str) -> None:
    if where == 'agent.' and dotted[len(where):] in DERIVED_AGENT_KEYS:
        raise ConfigError(f'{source}: {dotted} is derived from '
                          f'{DERIVED_AGENT_KEYS[dotted[len(where):]]}; set that instead')
    known = [f'{where}{k}' for k in base]
    close = difflib.get_close_matches(dotted, known, n=3, cutoff=0.5)
    hint = f'; did you mean {", ".join(close)}?' if close else ''
    raise ConfigError(f'{source}: unknown config key {dotted!r}{hint}')


def _coerce(key: str, current: Any, value: Any, source: str) -> Any:
    """Convert `value` (a YAML value or an override string) to the type of `current`."""
    text = value if isinstance(value, str) else None
    try:
        if isinstance(current, bool):
            if isinstance(value, bool):
                return value
            if text is not None and text.lower() in ('true', 'yes', 'on', '1'):
                return True
            if text is not None and text.lower() in ('false', 'no', 'off', '0'):
                return False
            raise ValueError('expected true or false')
        if isinstance(current, int):
            if isinstance(value, bool):
                raise ValueError('expected an integer')
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if text is not None:
                number = float(text) if any(c in text for c in '.eE') else int(text)
                if float(number).is_integer():
                    return int(number)
            raise ValueError('expected an integer')
        if isinstance(current, float):
            if isinstance(value, bool):
                raise ValueError('expected a number')
            return float(value)
        if isinstance(current, str):
            if value is None:
                return ''
            if isinstance(value, (dict, list)):
                raise ValueError('expected a string')
            return str(value)
        if isinstance(current, (list, tuple)):
            parsed = yaml.safe_load(text) if text is not None else value
            if parsed is None:
                return []
            if not isinstance(parsed, list):
                parsed = [parsed] if text is not None and ',' not in text else [
                    yaml.safe_load(part) for part in text.split(',')]
            return parsed
        if isinstance(current, dict):
            parsed = yaml.safe_load(text) if text is not None else value
            if not isinstance(parsed, dict):
                raise ValueError('expected a mapping')
            return parsed
        # current is None: take the YAML reading of the value
        return yaml.safe_load(text) if text is not None else value
    except (TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f'{source}: {key}={value!r}: {exc} (current value '
                          f'{current!r} of type {type(current).__name__})') from exc


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f'override {item!r} is not of the form key=value')
        out[key.strip()] = value
    return out


def apply_overrides(config: dict[str, Any], overrides: dict[str, str],
                    source: str = 'override') -> None:
    for dotted, text in overrides.items():
        parts = dotted.split('.')
        node: Any = config
        for depth, part in enumerate(parts):
            where = '.'.join(parts[:depth])
            where = where + '.' if where else ''
            if not isinstance(node, dict):
                raise ConfigError(f'{source}: {where.rstrip(".")} is not a mapping, cannot '
                                  f'set {dotted!r}')
            if part not in node:
                if where.rstrip('.') == 'eval.args':
                    node[part] = yaml.safe_load(text) if text else ''
                    break
                _unknown_key(where + part, node, where, source)
            if depth == len(parts) - 1:
                if isinstance(node[part], dict) and node[part]:
                    raise ConfigError(f'{source}: {dotted} is a section; set one of its keys '
                                      f'({", ".join(sorted(node[part]))})')
                node[part] = _coerce(dotted, node[part], text, source)
            else:
                node = node[part]


def load_config(name_or_path: str | os.PathLike | None = None,
                overrides: Iterable[str] | dict[str, str] = ()) -> dict[str, Any]:
    """The resolved config: DEFAULTS <- YAML file <- algorithm defaults <- overrides."""
    config = copy.deepcopy(DEFAULTS)
    file_data: dict[str, Any] = {}
    source = 'defaults'
    if name_or_path:
        path = resolve_config_path(name_or_path)
        file_data = _read_yaml(path)
        source = str(path)
    if not isinstance(overrides, dict):
        overrides = parse_overrides(overrides)
    # The algorithm decides the `agent` keys, so read it first (override > file > default).
    algo = str(overrides.get('algo', file_data.get('algo', config['algo'])))
    config['algo'] = algo
    config['agent'] = agent_defaults(algo)
    # Phase 3 mixes prior and target data 0.9 / 0.1 unless the file or an override says
    # otherwise (phases 1-2 default to prior data only).
    phase = str(overrides.get('phase', file_data.get('phase', config['phase'])))
    if phase == 'finetune':
        config['data'].update(FINETUNE_DATA_WEIGHTS)
    _merge(config, file_data, source)
    apply_overrides(config, overrides)
    validate(config)
    return config


def validate(config: dict[str, Any]) -> None:
    if config['phase'] not in PHASES:
        raise ConfigError(f'phase {config["phase"]!r} is not one of {", ".join(PHASES)}')
    if config['algo'] not in ALGOS:
        raise ConfigError(f'algo {config["algo"]!r} is not one of {", ".join(ALGOS)}')
    for key in ('steps', 'batch_size', 'image_size', 'log_every', 'keep_last'):
        if config[key] <= 0:
            raise ConfigError(f'{key} must be positive, got {config[key]}')
    for key in ('save_every', 'eval_every', 'num_workers', 'prefetch'):
        if config[key] < 0:
            raise ConfigError(f'{key} must be >= 0, got {config[key]}')


def config_from_dict(data: dict[str, Any], source: str = 'config') -> dict[str, Any]:
    """Re-resolve a saved config (e.g. a checkpoint's config.yaml) against the defaults."""
    config = copy.deepcopy(DEFAULTS)
    algo = str(data.get('algo', config['algo']))
    config['algo'] = algo
    config['agent'] = agent_defaults(algo)
    _merge(config, data, source)
    validate(config)
    return config


def dump_config(config: dict[str, Any]) -> str:
    return yaml.safe_dump(_plain(config), sort_keys=False, default_flow_style=False)


def save_config(config: dict[str, Any], path: str | os.PathLike) -> None:
    """Write atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    tmp.write_text(dump_config(config))
    os.replace(tmp, path)


def make_agent_config(config: dict[str, Any], **derived: Any) -> Any:
    """The algorithm's Config dataclass from `config['agent']`, plus derived values (e.g.
    num_tasks, image_size) for the fields the dataclass has."""
    cls = _algo_config_class(config['algo'])
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in config['agent'].items() if k in names}
    for key, value in derived.items():
        if key in names:
            values[key] = value
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in list(values.items()):
        default = getattr(cls(), key) if fields[key].init else None
        if isinstance(default, tuple) and isinstance(value, list):
            values[key] = tuple(value)
    return cls(**values)
