"""`vptr demo`'s step runner: order by needs, runs side by side, failures that say where."""
from pathlib import Path

import pytest

from vptr_training.demo import run_steps, Step
from vptr_training.errors import VptrError

pytestmark = pytest.mark.timeout(120)


def _step(name: str, trace: list[str], after: tuple[int, ...] = (), done: bool = False,
          launch: list[str] | None = None, log: Path | None = None) -> Step:
    return Step(name, [name], Path('.'), lambda: done, lambda: trace.append(name),
                after=after, launch=None if launch is None else (lambda: list(launch)),
                log=log)


def test_steps_run_after_what_they_need_and_done_steps_are_skipped():
    trace: list[str] = []
    # listed out of order: 'b' needs 'c', which needs 'a'
    steps = [_step('a', trace), _step('b', trace, after=(2,)), _step('c', trace, after=(0,)),
             _step('cached', trace, done=True), _step('d', trace, after=(3,))]
    run_steps(steps, jobs=2)
    assert trace.index('a') < trace.index('c') < trace.index('b')
    assert 'cached' not in trace and 'd' in trace
    assert steps[3].skipped and not steps[0].skipped


def test_process_steps_run_side_by_side_and_log_their_output(tmp_path):
    trace: list[str] = []
    logs = [tmp_path / 'logs' / f'{n}.log' for n in ('one', 'two')]
    steps = [_step('one', trace, launch=['data', 'info', '--help'], log=logs[0]),
             _step('two', trace, launch=['data', 'info', '--help'], log=logs[1]),
             _step('after both', trace, after=(0, 1))]
    run_steps(steps, jobs=2)
    assert trace == ['after both']          # the two ran as processes, not in-process
    for log in logs:
        assert 'usage: vptr data info' in log.read_text()


def test_with_one_job_every_step_runs_in_this_process(tmp_path):
    trace: list[str] = []
    steps = [_step('one', trace, launch=['no-such-command'], log=tmp_path / 'one.log')]
    run_steps(steps, jobs=1)
    assert trace == ['one'] and not (tmp_path / 'one.log').exists()


def test_a_failed_process_step_names_its_command_and_log(tmp_path):
    trace: list[str] = []
    log = tmp_path / 'logs' / 'bad.log'
    missing = tmp_path / 'missing.yaml'
    steps = [_step('bad', trace, launch=['finetune', '--config', str(missing)], log=log),
             _step('never', trace, after=(0,))]
    with pytest.raises(VptrError) as error:
        run_steps(steps, jobs=2)
    message = str(error.value)
    assert 'step failed' in message and str(log) in message
    assert 'missing.yaml' in message         # the log's tail comes with the error
    assert trace == []


def test_a_step_that_can_never_run_is_an_error():
    trace: list[str] = []
    steps = [_step('a', trace, after=(1,)), _step('b', trace, after=(0,))]
    with pytest.raises(VptrError, match='never run'):
        run_steps(steps, jobs=2)
