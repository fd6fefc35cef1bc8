"""The `vptr` command line.

Each command lives in its own module, which exposes `add_arguments(parser)` and a run
function returning the exit status. Modules are imported only when their command runs,
so `vptr data info` does not pay for importing torch or MuJoCo.

The library reports through `logging` (loggers under `vptr_training`); `main` sends those
records to stderr, warnings and errors prefixed with their level ("warning: ..."), as the
command's own messages. Progress bars (tqdm) stay on stderr; a command's result goes to
stdout.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable, Sequence

from vptr_training.errors import VptrError

# command path -> (module, run function, one-line help)
COMMANDS: dict[tuple[str, ...], tuple[str, str, str]] = {
    ('data', 'video'): ('vptr_training.data.video', 'run',
                        'convert a video corpus (video files or frame folders) to a store'),
    ('data', 'bridge'): ('vptr_training.data.bridge', 'run',
                         'convert Bridge data (raw tree, out.npy or RLDS TFRecords)'),
    ('data', 'rosbag'): ('vptr_training.data.rosbag', 'run',
                         'convert rosbag2 recordings (mcap or sqlite3) of demos'),
    ('data', 'info'): ('vptr_training.data.info', 'run', 'summarise an episode store'),
    ('data', 'validate'): ('vptr_training.data.validate', 'run',
                           'check every shard of an episode store'),
    ('pretrain',): ('vptr_training.training.commands', 'run_pretrain',
                    'phase 1: pre-train the visual encoder on video (ICVF or VIP)'),
    ('train',): ('vptr_training.training.commands', 'run_train',
                 'phase 2: multi-task offline RL (CQL) or BC on robot data'),
    ('finetune',): ('vptr_training.training.commands', 'run_finetune',
                    'phase 3: fine-tune on target demos mixed with prior data'),
    ('eval-sim',): ('vptr_training.evaluation', 'run',
                    'evaluate a checkpoint on the simulated WidowX'),
    ('sim', 'generate'): ('vptr_training.sim.generate', 'run',
                          'generate simulated robot data and videos in the real formats'),
    ('demo',): ('vptr_training.demo', 'run',
                'the whole V-PTR pipeline on the simulated WidowX, end to end'),
}


def _lazy_subparser(parent: argparse._SubParsersAction, name: str, module: str,
                    func: str, help_text: str, argv: Sequence[str]) -> None:
    parser = parent.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(_module=module, _func=func)
    # Only import the module (and so add its arguments) when this command is the one run,
    # or when the user asks for its help.
    if name in argv:
        importlib.import_module(module).add_arguments(parser)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='vptr', description='V-PTR: video pre-training, multi-task offline RL, '
        'fine-tuning and evaluation for the WidowX 250.')
    top = parser.add_subparsers(dest='command', metavar='COMMAND')
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, (module, func, help_text) in COMMANDS.items():
        if len(path) == 1:
            _lazy_subparser(top, path[0], module, func, help_text, argv)
            continue
        group, name = path
        if group not in groups:
            group_parser = top.add_parser(group, help=f'{group} commands')
            groups[group] = group_parser.add_subparsers(dest='subcommand', metavar='SUBCOMMAND')
            group_parser.set_defaults(_group_parser=group_parser)
        _lazy_subparser(groups[group], name, module, func, help_text, argv)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _CommandFormatter(logging.Formatter):
    """'message' for info, 'warning: message' / 'error: message' above."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f'{record.levelname.lower()}: {message}'
        return message


def configure_logging(level: int = logging.INFO) -> None:
    """Route the library's log records to stderr (idempotent: one handler)."""
    library = logging.getLogger('vptr_training')
    for handler in list(library.handlers):
        if isinstance(handler, _StderrHandler):
            library.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_CommandFormatter('%(message)s'))
    library.addHandler(handler)
    library.setLevel(level)
    library.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not hasattr(args, '_module'):
        (getattr(args, '_group_parser', None) or parser).print_help()
        return 2
    run: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(args._module), args._func)
    try:
        return int(run(args) or 0)
    except VptrError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
