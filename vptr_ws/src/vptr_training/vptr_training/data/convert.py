"""The conversion runner shared by every `vptr data <format>` converter.

A converter lists its *source units* (files or folders, one or more episodes each) and
gives a top-level function ``unit -> iterable of EpisodeData``. The runner calls that
function in worker processes (``--workers N``; spawn-safe: the function and the units
must be picklable), writes the results in the main process, in unit order (so the store
is the same whatever the number of workers), through one StoreWriter, and shows a
progress bar. Memory stays bounded: at most ``2 * workers`` units are in flight.

Bad units: a DataError (naming the file and the problem) aborts the conversion with
nothing at DST, unless ``--skip-bad``: then the unit is skipped (all of its episodes,
so a store never holds half of a unit) and listed at the end.
"""
from __future__ import annotations

import argparse
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
import logging
import multiprocessing
import os
from pathlib import Path
import sys
import time
import traceback
from typing import Any, Callable, Iterable, Sequence

from vptr_training.data.store import EpisodeData, StoreWriter
from vptr_training.errors import DataError

logger = logging.getLogger(__name__)

ConvertFn = Callable[[Any], Iterable[EpisodeData]]


def add_common_arguments(parser: argparse.ArgumentParser, *, size_default: int = 128,
                         fps: bool = False, fps_default: float = 5.0) -> None:
    """SRC, DST and the options every converter shares."""
    parser.add_argument('src', metavar='SRC', help='input file or folder')
    parser.add_argument('dst', metavar='DST', help='output episode store (a folder)')
    parser.add_argument('--workers', type=int, default=1,
                        help='worker processes decoding in parallel (default 1)')
    parser.add_argument('--skip-bad', action='store_true',
                        help='skip inputs that cannot be read, list them at the end')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--overwrite', action='store_true', help='replace DST if it exists')
    mode.add_argument('--append', action='store_true', help='add episodes to existing DST')
    parser.add_argument('--size', type=int, default=size_default,
                        help=f'stored image size in pixels (default {size_default})')
    if fps:
        parser.add_argument('--fps', type=float, default=fps_default,
                            help=f'target frame rate (default {fps_default:g})')


@dataclass
class ConversionSummary:
    episodes: int = 0
    steps: int = 0
    tasks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    units: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (unit, reason)

    def lines(self) -> list[str]:
        out = [f'converted {self.episodes} episodes ({self.steps} steps, '
               f'{len(self.tasks)} tasks) from {self.units - len(self.skipped)} of '
               f'{self.units} inputs in {self.seconds:.1f} s; skipped {len(self.skipped)}']
        if self.tasks:
            shown = ', '.join(self.tasks[:10]) + (' ...' if len(self.tasks) > 10 else '')
            out.append(f'tasks: {shown}')
        for unit, reason in self.skipped:
            out.append(f'  skipped {unit}: {reason}')
        return out


def _run_unit(fn: ConvertFn, unit: Any) -> tuple:
    """Worker side. DataError does not survive pickling (two-argument constructor), so
    results travel as plain tuples."""
    try:
        return ('ok', list(fn(unit)))
    except DataError as exc:
        return ('bad', exc.path, exc.problem)
    except Exception as exc:   # noqa: B902 - a bug or an undiagnosed bad input
        return ('crash', f'{type(exc).__name__}: {exc}', traceback.format_exc())


def _single_threaded_worker() -> None:
    """One worker process per core: OpenCV's own thread pool would only oversubscribe."""
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:     # pragma: no cover - cv2 is a dependency
        pass


def _results(fn: ConvertFn, units: Sequence[Any], workers: int) -> Iterable[tuple]:
    """Results of every unit, in unit order, with at most 2*workers units in flight."""
    if workers <= 1:
        for unit in units:
            yield _run_unit(fn, unit)
        return
    ctx = multiprocessing.get_context('spawn')
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                               initializer=_single_threaded_worker)
    pending: deque[Future] = deque()
    todo = iter(units)
    try:
        for unit in todo:
            pending.append(pool.submit(_run_unit, fn, unit))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(_run_unit, fn, nxt))
            yield result
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _progress(total: int, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:    # tqdm is a dependency; stay usable without it
        return None
    return tqdm(total=total, desc=desc, unit='input', file=sys.stderr, dynamic_ncols=True,
                disable=os.environ.get('VPTR_NO_PROGRESS') == '1')


def run_conversion(units: Sequence[Any], convert_unit: ConvertFn, dst: str | os.PathLike,
                   *, kind: str, image_size: int, control_hz: float, workers: int = 1,
                   skip_bad: bool = False, overwrite: bool = False, append: bool = False,
                   src: str | os.PathLike = '', desc: str = 'converting',
                   unit_name: Callable[[Any], str] = str, quiet: bool = False
                   ) -> ConversionSummary:
    """Convert ``units`` into the store ``dst``; see the module docstring."""
    start = time.monotonic()
    if not units:
        raise DataError(src or dst, 'no convertible inputs found')
    summary = ConversionSummary(units=len(units))
    tasks: set[str] = set()
    bar = None if quiet else _progress(len(units), desc)
    try:
        with StoreWriter(dst, kind=kind, image_size=image_size, control_hz=control_hz,
                         append=append, overwrite=overwrite) as writer:
            for unit, result in zip(units, _results(convert_unit, units, workers)):
                name = unit_name(unit)
                records = result[1] if result[0] == 'ok' else []
                if result[0] == 'ok':
                    # A converter may return records of episodes it spilled to disk (long
                    # videos): map them here, one unit at a time, and drop them after.
                    episodes: list[EpisodeData] = [
                        ep.materialize() if hasattr(ep, 'materialize') else ep
                        for ep in records]
                    result = ('ok', episodes)
                    try:
                        for ep in episodes:     # check the whole unit before adding any
                            writer.check(ep)
                        if not episodes:
                            raise DataError(name, 'holds no episodes')
                    except DataError as exc:
                        result = ('bad', exc.path, exc.problem)
                if result[0] == 'bad':
                    if not skip_bad:
                        raise DataError(result[1], result[2])
                    summary.skipped.append((name, f'{result[1]}: {result[2]}'))
                elif result[0] == 'crash':
                    if not skip_bad:
                        logger.error(f'{name}: the worker failed:\n{result[2]}')
                        raise DataError(name, f'conversion failed ({result[1]})')
                    summary.skipped.append((name, f'unexpected error: {result[1]}'))
                else:
                    episodes = result[1]
                    for i, ep in enumerate(episodes):
                        writer.add(ep)
                        summary.episodes += 1
                        summary.steps += int(ep.images.shape[0])
                        tasks.add(ep.task)
                        # Drop the episode once written: a spilled clip's memory map is
                        # released here, so a long video does not stay mapped whole.
                        episodes[i] = ep = None
                for record in records:
                    if hasattr(record, 'discard'):
                        record.discard()
                if bar is not None:
                    bar.set_postfix(episodes=summary.episodes, skipped=len(summary.skipped),
                                    refresh=False)
                    bar.update(1)
            if summary.episodes == 0:
                raise DataError(src or dst, 'no episodes could be converted'
                                + (f' ({len(summary.skipped)} inputs skipped)'
                                   if summary.skipped else ''))
    finally:
        if bar is not None:
            bar.close()
    summary.tasks = sorted(tasks)
    summary.seconds = time.monotonic() - start
    if not quiet:
        for line in summary.lines():
            print(line)
    return summary


def require_source(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(p, 'no such file or folder')
    return p


def check_workers(workers: int) -> int:
    if workers < 1:
        raise DataError('--workers', f'must be at least 1, got {workers}')
    return workers


# ------------------------------------------------------------------ image file decoding

def _looks_truncated(data: bytes) -> str | None:
    """libjpeg/libpng decode a cut-off file into a grey-filled image with only a warning:
    check the end markers ourselves."""
    if data[:3] == b'\xff\xd8\xff':
        # JPEG: must end with EOI (some writers pad with zeros or newlines after it)
        if not data.rstrip(b'\x00\r\n ').endswith(b'\xff\xd9'):
            return 'truncated JPEG (no end-of-image marker)'
    elif data[:8] == b'\x89PNG\r\n\x1a\n':
        if b'IEND' not in data[-16:]:
            return 'truncated PNG (no IEND chunk)'
    return None


def decode_image_bytes(data: bytes, source: str | os.PathLike) -> Any:
    """JPEG/PNG bytes -> RGB uint8 (H, W, 3); DataError(source, ...) if corrupt."""
    import cv2
    import numpy as np
    if not data:
        raise DataError(source, 'empty image')
    problem = _looks_truncated(data)
    if problem:
        raise DataError(source, problem)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.size == 0:
        raise DataError(source, 'corrupt or unsupported image (cannot decode)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image_rgb(path: str | os.PathLike) -> Any:
    """Read a JPEG/PNG file as RGB uint8 (H, W, 3); DataError naming the file if bad."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(path, f'cannot read image: {exc.strerror or exc}') from None
    return decode_image_bytes(data, path)
