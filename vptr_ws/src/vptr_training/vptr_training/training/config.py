"""Training configuration: typed dataclasses, presets that inherit, `key=value` overrides.

The schema is `TrainConfig` (below) with its sections `data`, `sampler`, `encoder`, `eval`
and `agent` (the algorithm's own `Config` dataclass, `algos/<algo>.py`). A resolved config
is built in ONE order, each layer overriding the ones before it:

  1. the dataclass defaults (TrainConfig and its sections; the algorithm's Config for
     `agent`);
  2. the phase's defaults (`PHASE_DEFAULTS`: phase finetune mixes prior / target data
     0.9 / 0.1);
  3. the config file and the presets it inherits: a file may name another with
     `base: <preset name or path relative to the file>`; the chain is applied root first,
     the named file last;
  4. the `key=value` overrides (dotted for nested keys), in the order given.

`algo` and `phase` are read first (override > file chain > default): the algorithm decides
which keys `agent` has, the phase its defaults. Every layer is checked against the schema:
an unknown key is a ConfigError that names the layer and suggests close matches, and a
value is converted to the type of the value it replaces (`steps=100` is an int,
`lr=1e-4` a float). Agent fields derived from the rest of the config (image_size, encoder,
num_tasks, ...; `DERIVED_AGENT_KEYS`) are never set in a file; `TrainConfig.agent_config`
fills them when the agent is built.

The resolved config is saved (config.yaml, `TrainConfig.to_dict()`) in every run and
checkpoint with `config_version`, the schema version. `migrate_config` brings a config
saved by older code (no `config_version`: version 1) to `CONFIG_VERSION` through
`MIGRATIONS`; a key renamed in the schema gets a migration step (`rename_key`) and a
version bump, so old checkpoints still load.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
import difflib
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from vptr_training.algos import ALGOS, config_class
from vptr_training.errors import ConfigError
import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / 'configs'
PHASES = ('pretrain', 'train', 'finetune')
BASE_KEY = 'base'

# The schema version saved as `config_version`. Bump it with a MIGRATIONS entry whenever a
# key is renamed, moved or removed.
CONFIG_VERSION = 3


# ---------------------------------------------------------------------------- the schema

@dataclass
class DataConfig:
    video: str = ''               # ICVF / VIP video store
    prior: str = ''               # robot prior data store (Bridge-like)
    target: str = ''              # target-task demos store
    prior_weight: float = 1.0     # phase finetune: 0.9 (PHASE_DEFAULTS)
    target_weight: float = 0.0    # 0: target tasks get a one-hot slot but are not sampled
    extra_tasks: list[str] = field(default_factory=list)   # more task names for the one-hot
    split: str = 'train'


@dataclass
class SamplerConfig:
    p_random: float = 0.1
    p_traj: float = 0.8
    p_curr: float = 0.1
    p_goal_is_intent: float = 0.5
    n_success_steps: int = 3


@dataclass
class EncoderConfig:
    name: str = 'small'           # small | resnet34 | ... (nets/encoders.py ENCODER_NAMES)
    init_from: str = ''           # a phase-1 checkpoint: its encoder initialises this one
    freeze: bool = False          # keep the encoder fixed (frozen-feature baselines)


@dataclass
class EvalConfig:
    hook: str = ''                # a registered hook name, or 'module:function'
    args: dict[str, Any] = field(default_factory=dict)   # keyword arguments of the hook


@dataclass
class TrainConfig:
    """One training run. `agent` is the algorithm's Config (algos/<algo>.py)."""
    config_version: int = CONFIG_VERSION   # schema version (set by the code, see migrate_config)
    phase: str = 'train'          # pretrain | train | finetune
    algo: str = 'cql'             # algos.ALGOS
    seed: int = 0
    steps: int = 1000
    batch_size: int = 64
    image_size: int = 64
    device: str = 'auto'          # auto | cpu | cuda | cuda:N
    num_workers: int = 1          # DataLoader worker processes (0: sample in the main one)
    prefetch: int = 2             # batches prepared ahead per worker
    torch_threads: int = 0        # 0: leave torch's default
    out_dir: str = 'runs/default'
    log_every: int = 50
    eval_every: int = 0           # 0: no periodic evaluation
    save_every: int = 1000
    keep_last: int = 2
    progress: bool = True         # tqdm progress bar
    overwrite: bool = False       # a fresh run may replace an old run in out_dir
    init_from: str = ''           # phase 3: a phase-2 checkpoint, whole agent restored
    init_optimizer: bool = True   # ... with its optimizer state (the run continues)
    data: DataConfig = field(default_factory=DataConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    agent: Any = None             # algos.<algo>.Config; None: its defaults

    def __post_init__(self) -> None:
        if self.agent is None:
            self.agent = config_class(self.algo)()
        # the derived fields as this config says (num_tasks stays until the data is known)
        self.agent = self.agent_config(getattr(self.agent, 'num_tasks', 1))

    def to_dict(self) -> dict[str, Any]:
        """The plain nested dict saved as config.yaml (derived agent fields left out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != 'agent'}
        out = _plain({k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
                      for k, v in out.items()})
        out['agent'] = agent_defaults(self.algo, self.agent)
        return out

    def agent_config(self, num_tasks: int = 1) -> Any:
        """The algorithm's Config with the derived fields filled from this config."""
        derived = {'image_size': int(self.image_size), 'encoder': self.encoder.name,
                   'freeze_encoder': bool(self.encoder.freeze), 'num_tasks': int(num_tasks)}
        names = {f.name for f in dataclasses.fields(self.agent)}
        return dataclasses.replace(self.agent,
                                   **{k: v for k, v in derived.items() if k in names})


# Phase defaults (layer 2): phase 3's prior / target mixing ratio (PTR / V-PTR
# fine-tuning); phases 1-2 default to prior data only.
PHASE_DEFAULTS: dict[str, dict[str, Any]] = {
    'finetune': {'data': {'prior_weight': 0.9, 'target_weight': 0.1}},
}

# Agent Config fields derived from the rest of the config (never set directly).
DERIVED_AGENT_KEYS = {
    'image_size': 'image_size', 'encoder': 'encoder.name', 'freeze_encoder': 'encoder.freeze',
    'num_tasks': 'the task list of the data', 'action_dim': 'the robot conventions',
    'state_dim': 'the robot conventions'}


def agent_defaults(algo: str, agent: Any = None) -> dict[str, Any]:
    """The algorithm's hyper-parameters (fields of its Config; its defaults unless `agent`
    is given) as a plain dict, less the fields derived from the rest of the config."""
    values = _plain(dataclasses.asdict(agent if agent is not None else config_class(algo)()))
    return {k: v for k, v in values.items() if k not in DERIVED_AGENT_KEYS}


def default_dict(algo: str = TrainConfig.algo, phase: str = TrainConfig.phase
                 ) -> dict[str, Any]:
    """Layers 1 and 2 as a plain dict: the schema's keys, the types of their values."""
    config = TrainConfig(algo=_checked_algo(algo), phase=phase).to_dict()
    for section, values in PHASE_DEFAULTS.get(phase, {}).items():
        config[section].update(values)
    return config


def _checked_algo(algo: str) -> str:
    if algo not in ALGOS:
        raise ConfigError(f'algo {algo!r} is not one of {", ".join(ALGOS)}')
    return algo


def _plain(value: Any) -> Any:
    # YAML-friendly: tuples to lists, recursively.
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_dict(data: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from a COMPLETE plain dict (as `default_dict` + merges produce)."""
    algo = _checked_algo(data['algo'])
    cls = config_class(algo)
    agent_fields = {f.name: f for f in dataclasses.fields(cls)}
    agent = {}
    for key, value in data['agent'].items():
        default = agent_fields[key].default
        agent[key] = tuple(value) if isinstance(default, tuple) and isinstance(
            value, list) else value
    top = {k: v for k, v in data.items()
           if k not in ('data', 'sampler', 'encoder', 'eval', 'agent')}
    return TrainConfig(**top, data=DataConfig(**data['data']),
                       sampler=SamplerConfig(**data['sampler']),
                       encoder=EncoderConfig(**data['encoder']),
                       eval=EvalConfig(**data['eval']), agent=cls(**agent))


# ----------------------------------------------------------------------- version migration

def rename_key(data: dict[str, Any], old: str, new: str) -> None:
    """Move the value at dotted key `old` to dotted key `new` (a migration step's tool)."""
    *old_path, old_leaf = old.split('.')
    node: Any = data
    for part in old_path:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or old_leaf not in node:
        return
    value = node.pop(old_leaf)
    *new_path, new_leaf = new.split('.')
    node = data
    for part in new_path:
        node = node.setdefault(part, {})
    node[new_leaf] = value


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1: configs saved before config_version existed. Same keys as version 2.
    return data


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    # Version 3: CQL's agent.bc_alpha is a number, 0 for off (it was None for off), so that
    # a preset can switch off what its base switched on.
    agent = data.get('agent')
    if isinstance(agent, dict) and 'bc_alpha' in agent and agent['bc_alpha'] is None:
        agent['bc_alpha'] = 0.0
    return data


# MIGRATIONS[v] turns a version-v config dict into a version v+1 one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2,
                                                                     2: _v2_to_v3}


def migrate_config(data: dict[str, Any], source: str = 'config') -> dict[str, Any]:
    """A saved config (a run's or a checkpoint's config.yaml) at CONFIG_VERSION (a copy).
    A config without `config_version` is version 1 (saved before versioning)."""
    version = data.get('config_version', 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f'{source}: config_version must be a positive integer, '
                          f'got {version!r}')
    if version > CONFIG_VERSION:
        raise ConfigError(f'{source}: config_version {version} was written by newer code '
                          f'(this code reads up to {CONFIG_VERSION}); update vptr_training')
    data = copy.deepcopy(data)
    for step in range(version, CONFIG_VERSION):
        data = MIGRATIONS[step](data)
    data['config_version'] = CONFIG_VERSION
    return data


# ---------------------------------------------------------------------------- files

def preset_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob('*.yaml'))


def resolve_config_path(name_or_path: str | os.PathLike, relative_to: Path | None = None
                        ) -> Path:
    """A YAML path (relative to `relative_to` when given and it exists there), or the name
    of a shipped preset (with or without `.yaml`)."""
    path = Path(name_or_path)
    if relative_to is not None and (relative_to / path).is_file():
        return relative_to / path
    if path.is_file():
        return path
    candidate = CONFIG_DIR / (path.name if path.suffix == '.yaml' else path.name + '.yaml')
    if str(path) == path.name and candidate.is_file():
        return candidate
    close = difflib.get_close_matches(path.stem, preset_names(), n=3)
    hint = f'; close presets: {", ".join(close)}' if close else ''
    raise ConfigError(f'{name_or_path}: no such config file or preset '
                      f'(presets: {", ".join(preset_names())}){hint}')


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping ({} if empty); ConfigError naming it."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f'{path}: cannot read YAML: {exc}') from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: the top level must be a mapping, got {type(data).__name__}')
    return data


def read_preset_chain(name_or_path: str | os.PathLike) -> list[tuple[str, dict[str, Any]]]:
    """(source, data) of a config file and the presets it inherits (`base:`), root first;
    each file migrated to CONFIG_VERSION, `base` removed."""
    chain: list[tuple[str, dict[str, Any]]] = []
    seen: list[Path] = []
    path = resolve_config_path(name_or_path)
    while True:
        if path.resolve() in seen:
            cycle = ' -> '.join(str(p) for p in seen + [path.resolve()])
            raise ConfigError(f'{path}: presets inherit in a cycle ({cycle})')
        seen.append(path.resolve())
        data = read_yaml_mapping(path)
        base = data.pop(BASE_KEY, None)
        chain.append((str(path), migrate_config(data, str(path))))
        if base in (None, ''):
            return chain[::-1]
        if not isinstance(base, str):
            raise ConfigError(f'{path}: base must be a preset name or a path, got {base!r}')
        try:
            path = resolve_config_path(base, relative_to=path.parent)
        except ConfigError as exc:
            raise ConfigError(f'{path}: base: {exc}') from None


def flatten(config: dict[str, Any], prefix: str = '') -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf; dicts under `agent`/`eval.args` are leaves too
    when empty."""
    for key, value in config.items():
        dotted = f'{prefix}{key}'
        if isinstance(value, dict) and value:
            yield from flatten(value, dotted + '.')
        else:
            yield dotted, value


# ---------------------------------------------------------------------------- merging

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
    if dotted == BASE_KEY:
        raise ConfigError(f'{source}: base (inheritance) is a key of config files only')
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
    """Layer 4 on a plain config dict (as `default_dict` and the files build it)."""
    for dotted, text in overrides.items():
        if dotted == 'config_version':
            raise ConfigError(f'{source}: config_version is the schema version, set by the '
                              'code (saved configs are migrated when read)')
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


def resolve(layers: list[tuple[str, dict[str, Any]]], overrides: dict[str, str]
            ) -> TrainConfig:
    """Layers 1-4 (module docstring): defaults, phase defaults, `layers` (source, data) in
    order, then the overrides."""
    def pick(key: str) -> str:        # override > file chain (last wins) > default
        if key in overrides:
            return str(overrides[key])
        value = getattr(TrainConfig, key)
        for _, data in layers:
            value = data.get(key, value)
        return str(value)

    config = default_dict(pick('algo'), pick('phase'))
    for source, data in layers:
        _merge(config, data, source)
    apply_overrides(config, overrides)
    validate(config)
    return from_dict(config)


def load_config(name_or_path: str | os.PathLike | None = None,
                overrides: Iterable[str] | dict[str, str] = ()) -> TrainConfig:
    """The resolved config of a file or preset (and the presets it inherits) and
    `key=value` overrides, in the order of the module docstring."""
    layers = read_preset_chain(name_or_path) if name_or_path else []
    if not isinstance(overrides, dict):
        overrides = parse_overrides(overrides)
    return resolve(layers, overrides)


def validate(config: dict[str, Any]) -> None:
    if config['phase'] not in PHASES:
        raise ConfigError(f'phase {config["phase"]!r} is not one of {", ".join(PHASES)}')
    _checked_algo(config['algo'])
    for key in ('steps', 'batch_size', 'image_size', 'log_every', 'keep_last'):
        if config[key] <= 0:
            raise ConfigError(f'{key} must be positive, got {config[key]}')
    for key in ('save_every', 'eval_every', 'num_workers', 'prefetch'):
        if config[key] < 0:
            raise ConfigError(f'{key} must be >= 0, got {config[key]}')


def config_from_dict(data: dict[str, Any], source: str = 'config') -> TrainConfig:
    """Re-resolve a saved config (e.g. a checkpoint's config.yaml), migrated first."""
    return resolve([(source, migrate_config(data, source))], {})


def dump_config(config: TrainConfig | dict[str, Any]) -> str:
    data = config.to_dict() if isinstance(config, TrainConfig) else _plain(config)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def save_config(config: TrainConfig | dict[str, Any], path: str | os.PathLike) -> None:
    """Write atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    tmp.write_text(dump_config(config))
    os.replace(tmp, path)
