"""DDP on CPU (gloo): a 2-process torchrun run completes and both ranks hold equal weights."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from safetensors.torch import load_file
import torch

from training_fixtures import make_robot_store
from vptr_training.training import checkpoint as ck

SCRIPT = textwrap.dedent("""
    import os, sys
    from safetensors.torch import save_file
    from vptr_training.training.runner import load_and_train
    out, overrides = sys.argv[1], sys.argv[2:]
    summary = load_and_train('demo_train', overrides, 'train', out_dir=out)
    state = {k: v.detach().contiguous().clone() for k, v in summary['agent'].state_dict().items()}
    save_file(state, os.path.join(out, 'rank%s.safetensors' % os.environ['RANK']))
""")


def run_process_group(command: list[str], timeout: float,
                      **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run that, on timeout, kills torchrun *and* its workers: killing torchrun
    alone leaves the workers holding the output pipes, and the test would wait for ever."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, **kwargs)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f'torchrun did not finish in {timeout} s:\n{stdout[-3000:]}'
                             f'{stderr[-3000:]}') from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_two_process_run_keeps_ranks_identical(tmp_path):
    make_robot_store(tmp_path / 'prior', [('put_a', 9, True), ('put_b', 10, False),
                                          ('put_a', 7, True)])
    script = tmp_path / 'ddp_train.py'
    script.write_text(SCRIPT)
    out = tmp_path / 'run'
    overrides = ['image_size=16', 'batch_size=4', 'num_workers=0', 'progress=false',
                 'log_every=1', 'steps=3', 'save_every=2', 'encoder.init_from=',
                 f'data.prior={tmp_path / "prior"}', 'data.target=', 'agent.latent_dim=16',
                 'agent.critic_hidden_dims=[16,16]', 'agent.actor_hidden_dims=[16,16]']
    # --local-addr: torchrun --standalone otherwise rendezvous at this machine's hostname,
    # which CI machines may not resolve (the agent then retries for ever). GLOO_SOCKET_IFNAME
    # keeps gloo off the hostname lookup too.
    env = dict(os.environ, OMP_NUM_THREADS='1', GLOO_SOCKET_IFNAME='lo')
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--local-addr',
               '127.0.0.1', '--nproc_per_node', '2', str(script), str(out)] + overrides
    result = run_process_group(command, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rank0 = load_file(str(out / 'rank0.safetensors'))
    rank1 = load_file(str(out / 'rank1.safetensors'))
    assert rank0.keys() == rank1.keys() and rank0
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    # rank 0 alone wrote the logs and checkpoints, which hold those same weights
    assert [p.name for p in ck.list_checkpoints(out)] == ['step_00000002', 'step_00000003']
    final = ck.load_checkpoint(out)
    assert all(torch.equal(final.model_state[k], rank0[k]) for k in rank0)
    assert len(list((out / 'tb').glob('events.*'))) == 1
    rows = (out / 'metrics.csv').read_text().strip().splitlines()
    assert len(rows) == 4
    # every rank's torch RNG state is saved for an exact resume
    assert len(final.rng_state['torch_per_rank']) == 2
