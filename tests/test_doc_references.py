"""Documentation is self-contained: every relative link and every cited path to a file of
the repository resolves in the clone, and nothing cites notes that live outside it.

Scanned: every tracked text file (code, configs, tests, docs). A "cited path" is a token
such as `docs/method.md`, `robot/arm_step.py` or `config/policy.yaml` (a path with a
slash, ending in a document or source extension); it resolves when it names a tracked
file relative to the repository root or the citing file, or is the tail of a tracked path
(package-relative citations such as `algos/cql.py`). A bare document name (`method.md`)
must be a tracked file's name. Paths that name what a command writes, or files of other
projects, are listed below with the reason.
"""
from functools import lru_cache
from pathlib import Path, PurePosixPath
import re
import subprocess

import pytest

REPO = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(REPO).as_posix()
TEXT_SUFFIXES = {'.md', '.py', '.yaml', '.yml', '.txt', '.cfg', '.toml', '.sh', '.xml',
                 '.repos', '.ini', '.json'}
TEXT_NAMES = {'Makefile', 'Dockerfile', 'run'}
# Extensions of the files a citation may name.
CITED_SUFFIXES = ('.md', '.py', '.yaml', '.yml', '.txt', '.cfg', '.toml', '.sh', '.xml',
                  '.repos', '.Dockerfile')
# Notes that were never part of this repository.
OUTSIDE = re.compile(r'design/|ALGORITHMS\.md|ROBOT\.md|ARCHITECTURE\.md|\.\./shared')
MARKDOWN_LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
PATH_TOKEN = re.compile(r'(?<![\w/.$<{-])((?:\.{1,2}/)?[\w.-]+(?:/[\w.-]+)+)')
BARE_DOCUMENT = re.compile(r'(?<![\w/.-])([\w-]+\.md)\b')
# Cited paths that are not files of this repository, by what they are.
NOT_REPOSITORY_FILES = {
    # written by commands at run time
    'demo_out/report.md', 'report.md', 'eval/eval.json',
    # files of other projects (Interbotix, the ROS 2 sources tools/ros_check builds)
    'interbotix_xsarm_control/launch/xsarm_control.launch.py', 'config/wx250s.yaml',
    'rosbag2/shared_queues_vendor/CMakeLists.txt',
    # CORL's CQL, the reference bench/bench_updates.py loads at a pinned commit
    'algorithms/offline/cql.py',
}
PACKAGES = REPO / 'vptr_ws' / 'src'


@lru_cache(maxsize=1)
def tracked_files():
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others',
                          '--exclude-standard'], cwd=REPO, capture_output=True, check=True)
    return sorted({p for p in out.stdout.decode().split('\0')
                   if p and (REPO / p).is_file()})


def text_files():
    return [p for p in tracked_files()
            if PurePosixPath(p).suffix in TEXT_SUFFIXES or PurePosixPath(p).name in TEXT_NAMES
            or p.endswith('.Dockerfile')]


def resolves(cited, citing):
    cited = cited.split('#')[0].rstrip('/')
    if not cited:
        return True
    if (REPO / cited).exists() or (REPO / citing).parent.joinpath(cited).exists():
        return True
    tail = '/' + cited.lstrip('./')
    if any(('/' + path).endswith(tail) for path in tracked_files()):
        return True
    # `<package>/<file>`, as `ros2 launch` names a package's launch file
    package, _, rest = cited.partition('/')
    prefix = f'vptr_ws/src/{package}/'
    return (PACKAGES / package).is_dir() and any(
        path.startswith(prefix) and ('/' + path).endswith('/' + rest)
        for path in tracked_files())


def dangling(path, text=None):
    """(line number, reference, problem) of every dangling reference in one file (its text
    read from the clone unless given)."""
    problems = []
    names = {PurePosixPath(p).name for p in tracked_files()}
    if text is None:
        text = (REPO / path).read_text(errors='replace')
    for number, line in enumerate(text.splitlines(), 1):
        for match in OUTSIDE.finditer(line):
            problems.append((number, match.group(0), 'cites notes outside the repository'))
        if path.endswith('.md'):
            for target in MARKDOWN_LINK.findall(line):
                if re.match(r'[a-z][a-z0-9+.-]*:', target) or target.startswith('#'):
                    continue          # a URL or an anchor on the same page
                if not resolves(target, path):
                    problems.append((number, target, 'link to a missing file'))
        for token in PATH_TOKEN.findall(line):
            token = token.rstrip('.')
            if not token.endswith(CITED_SUFFIXES) or token in NOT_REPOSITORY_FILES:
                continue
            if '://' in line and f'//{token}' in line:
                continue              # part of a URL
            if not resolves(token, path):
                problems.append((number, token, 'cited path not in the repository'))
        for name in BARE_DOCUMENT.findall(line):
            if name not in names and name not in NOT_REPOSITORY_FILES \
                    and not OUTSIDE.search(name):
                problems.append((number, name, 'cited document not in the repository'))
    return problems


@pytest.mark.parametrize('path', [p for p in text_files() if p != THIS])
def test_no_dangling_reference(path):
    assert dangling(path) == []


def test_the_checker_finds_dangling_references():
    text = ('See [the method](method.md) and [gone](missing.md), `docs/nowhere.md`,\n'
            '`robot/arm_step.py`, `robot/no_such_step.py`, design/ROBOT.md, ../shared/x\n'
            'and PLANS.md; `vptr_policy/policy.launch.py`, [web](https://example.org/a.md).\n')
    found = [(n, ref) for n, ref, _ in dangling('docs/robot.md', text)]
    assert (1, 'missing.md') in found and (1, 'docs/nowhere.md') in found
    assert (2, 'robot/no_such_step.py') in found and (3, 'PLANS.md') in found
    assert (2, 'design/') in found and (2, '../shared') in found
    assert all(ref not in ('method.md', 'robot/arm_step.py', 'vptr_policy/policy.launch.py',
                           'https://example.org/a.md', 'example.org/a.md') for _, ref in found)
