"""`make bench`: run every bench/bench_*.py in turn and print what each measured.

Each benchmark prints its own figures; this runner adds the machine description and a
one-line status per benchmark, and exits non-zero if any benchmark crashed.
"""
from __future__ import annotations

import os
from pathlib import Path
import platform
import subprocess
import sys
import time

HERE = Path(__file__).resolve().parent


def main() -> int:
    only = set(sys.argv[1:])
    scripts = sorted(p for p in HERE.glob('bench_*.py')
                     if not only or p.stem.removeprefix('bench_') in only)
    print(f'machine: {platform.machine()}, {os.cpu_count()} CPUs, Python '
          f'{platform.python_version()}, {platform.platform()}')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env.setdefault('MUJOCO_GL', 'egl')
    failed = []
    for script in scripts:
        print(f'\n=== {script.name} ===', flush=True)
        start = time.time()
        code = subprocess.call([sys.executable, str(script)], env=env)
        status = 'ok' if code == 0 else f'FAILED (exit {code})'
        print(f'--- {script.name}: {status} in {time.time() - start:.0f}s', flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print('\nfailed benchmarks: ' + ', '.join(failed))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
