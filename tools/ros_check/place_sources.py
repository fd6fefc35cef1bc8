#!/usr/bin/env python3
"""Put the sources listed in humble.repos under <cache>/src, each at its pinned commit.

    place_sources.py --mirror /work/.mirror [--cache /root/ros2_humble]
    place_sources.py --remote [--cache ...]           # clone from each repository's url
    place_sources.py --check  [--cache ...]           # exit 1 unless every one is in place

--mirror reads bare git directories laid out as <mirror>/<owner>+<name>/repo (how the
agents' `fetch github:<owner>/<name>` tool stores them); --remote clones from GitHub (a
machine with internet). A repository already at its pinned commit is left alone, so the
script is idempotent. Only the Python standard library and git are needed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPOS_FILE = os.path.join(HERE, 'humble.repos')
# A mirror whose history is incomplete cannot be cloned; the tree of the pinned commit is
# then exported (git archive) and this file in it names the commit.
EXPORT_MARKER = '.ros_check_commit'


def read_repos(path: str = REPOS_FILE) -> list[dict[str, str]]:
    """Parse the vcstool-format file (one level of keys; no YAML library needed)."""
    repos: list[dict[str, str]] = []
    for line in open(path, encoding='utf-8'):
        line = line.split('#', 1)[0].rstrip()
        if not line or line == 'repositories:':
            continue
        match = re.fullmatch(r'  (\S+):', line)
        if match:
            repos.append({'name': match.group(1)})
            continue
        match = re.fullmatch(r'    (\w+): (\S+)', line)
        if not match or not repos:
            raise SystemExit(f'error: {path}: cannot parse {line!r}')
        repos[-1][match.group(1)] = match.group(2)
    return repos


def git(*args: str, cwd: str | None = None) -> str:
    return subprocess.run(['git', *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def head_of(path: str) -> str | None:
    marker = os.path.join(path, EXPORT_MARKER)
    if os.path.isfile(marker):
        return open(marker, encoding='utf-8').read().strip()
    if not os.path.isdir(os.path.join(path, '.git')):
        return None
    try:
        return git('rev-parse', 'HEAD', cwd=path)
    except subprocess.CalledProcessError:
        return None


def export(git_dir: str, commit: str, dest: str) -> None:
    """Extract the tree of `commit` from a bare repository into a fresh `dest`."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    archive = subprocess.run(['git', '--git-dir', git_dir, 'archive', commit], check=True,
                             capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', dest], input=archive, check=True)
    with open(os.path.join(dest, EXPORT_MARKER), 'w', encoding='utf-8') as out:
        out.write(commit + '\n')
    print(f'  (history incomplete in the mirror: exported the tree of {commit[:12]})')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--mirror', help='folder of <owner>+<name>/repo bare git dirs')
    source.add_argument('--remote', action='store_true', help='clone from the urls')
    source.add_argument('--check', action='store_true', help='only check what is there')
    parser.add_argument('--cache', default=os.environ.get('ROS2_CACHE', '/root/ros2_humble'))
    args = parser.parse_args()

    missing = []
    for repo in read_repos():
        dest = os.path.join(args.cache, repo.get('dest', 'src'), repo['name'].replace('/', '+'))
        if head_of(dest) == repo['version']:
            continue
        if args.check:
            missing.append(repo['name'])
            continue
        origin = (repo['url'] if args.remote else 'file://' + os.path.join(
            args.mirror, repo['name'].replace('/', '+'), 'repo'))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        print(f'{repo["name"]} ({repo["branch"]}) from {origin}', flush=True)
        try:
            if not os.path.isdir(os.path.join(dest, '.git')):
                git('clone', '--quiet', '--no-checkout', origin, dest)
            git('fetch', '--quiet', origin, repo['branch'], cwd=dest)
            git('-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force',
                repo['version'], cwd=dest)
        except subprocess.CalledProcessError as exc:
            if args.remote:
                raise SystemExit(f'error: {repo["name"]}: {exc.stderr.strip()}')
            export(os.path.join(args.mirror, repo['name'].replace('/', '+'), 'repo'),
                   repo['version'], dest)
        print(f'  {repo["name"]} at {repo["version"][:12]}', flush=True)
    if missing:
        print('missing or at another commit under ' + args.cache + ':\n  ' + '\n  '.join(missing),
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
