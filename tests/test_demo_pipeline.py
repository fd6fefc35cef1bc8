"""The whole V-PTR pipeline at micro scale: generate, convert, pre-train, train, fine-tune,
evaluate, report. The same code path as `make demo`, with tiny sizes."""
import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent


def _vptr(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED='1', MUJOCO_GL='egl', VPTR_TORCH_THREADS='1')
    return subprocess.run([sys.executable, '-m', 'vptr_training.cli', *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=1100)


@pytest.fixture(scope='module')
def micro_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo') / 'out'
    result = _vptr('demo', '--preset', 'micro', '--out', str(out), '--workers', '1',
                   cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result


def test_micro_pipeline_runs_every_stage(micro_demo):
    out, result = micro_demo
    for store in ('prior', 'target', 'video'):
        check = _vptr('data', 'validate', str(out / 'data' / 'stores' / store), cwd=REPO)
        assert check.returncode == 0, check.stderr
        info = json.loads(_vptr('data', 'info', str(out / 'data' / 'stores' / store),
                                '--json', cwd=REPO).stdout)
        assert info['episodes'] >= 1 and info['steps'] > info['episodes']
    for method in ('vptr', 'ptr', 'bc'):
        rows = json.loads((out / 'eval' / 'seed0' / method / 'eval.json').read_text())
        assert [r['condition'] for r in rows] == ['seen', 'new_distractors']
        assert all(0 <= r['successes'] <= r['episodes'] == 1 for r in rows)
    report = (out / 'report.md').read_text()
    assert '| V-PTR |' in report and '| PTR |' in report and '| BC |' in report
    assert 'vptr data bridge' in report and 'vptr finetune' in report
    assert 'V-PTR' in result.stdout  # the table is printed


def test_micro_pipeline_second_run_is_cached(micro_demo):
    out, _ = micro_demo
    again = _vptr('demo', '--preset', 'micro', '--out', str(out), '--workers', '1', cwd=REPO)
    assert again.returncode == 0, again.stderr[-3000:]
    step_lines = [line for line in again.stdout.splitlines() if line.startswith('[')]
    assert step_lines and all(line.endswith(': cached') for line in step_lines)


def test_pipeline_hands_phase_outputs_forward(micro_demo):
    """Phase 2 starts from phase 1's encoder, phase 3 from the phase-2 agent (the unit
    tests check bit-identity; here we check the real pipeline wires the runs together)."""
    import yaml
    out, _ = micro_demo
    runs = out / 'runs' / 'seed0'

    def config(run):
        latest = (runs / run / 'checkpoints' / 'latest').read_text().strip()
        return yaml.safe_load((runs / run / 'checkpoints' / latest / 'config.yaml').read_text())

    assert config('vptr_train')['encoder']['init_from'].endswith('pretrain_icvf')
    assert config('vptr_finetune')['init_from'].endswith('vptr_train')
    assert config('ptr_train')['encoder']['init_from'] == ''
    assert config('ptr_finetune')['init_from'].endswith('ptr_train')
    assert config('bc_finetune')['encoder']['init_from'].endswith('pretrain_icvf')


def test_report_only_rewrites_the_report_from_finished_runs(micro_demo, tmp_path):
    out, _ = micro_demo
    again = _vptr('demo', '--preset', 'micro', '--out', str(out), '--report-only', cwd=REPO)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'Written with --report-only' in (out / 'report.md').read_text()
    assert not [line for line in again.stdout.splitlines() if line.startswith('[')]
    empty = _vptr('demo', '--preset', 'micro', '--out', str(tmp_path / 'none'),
                  '--report-only', cwd=REPO)
    assert empty.returncode == 2 and 'no seed has been evaluated' in empty.stderr


def test_training_runs_ran_side_by_side_with_their_own_logs(micro_demo):
    """`vptr demo` runs independent training runs as their own processes (--jobs 2 by
    default on 2 cores), each writing its output to OUT/logs/."""
    out, result = micro_demo
    logs = sorted(p.name for p in (out / 'logs').glob('*.log'))
    assert 'seed0_vptr_finetune.log' in logs and 'seed0_bc_finetune.log' in logs
    assert '(output: ' in result.stdout


def test_heldout_action_error_tool_scores_the_trained_policies(micro_demo):
    out, _ = micro_demo
    runs = out / 'runs' / 'seed0'
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'heldout_action_error.py'),
         str(out / 'data' / 'stores' / 'target'), str(runs / 'vptr_finetune'),
         str(runs / 'bc_finetune')], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, MUJOCO_GL='egl'))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith(f'| {runs}')]
    assert len(rows) == 2
    errors = [float(cell) for cell in rows[0].strip('|').split('|')[1:]]
    assert len(errors) == 8 and all(0.0 <= e <= 4.0 for e in errors)
    bad = subprocess.run([sys.executable, str(REPO / 'tools' / 'heldout_action_error.py'),
                          str(out / 'data' / 'stores' / 'prior'), str(runs / 'bc_finetune')],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and 'one task' in bad.stderr
