"""`vptr data video SRC DST`: a video corpus -> an episode store of kind 'video'.

SRC is a video file, or a tree holding video files (mp4, avi, mkv, webm, mov, m4v) and/or
frame folders listed by ``manifest.csv`` files (columns ``directory,num_frames,text``,
frames ``<directory>/%06d.jpg``; the Ego4D pre-processing used for value learning).
Frames are resampled to ``--fps`` by their timestamps, preprocessed with
``center_crop_resize_video`` (short side 256, centre crop 224, resize to ``--size``) and
long videos are cut into clips of ``--clip-seconds``. Task = the folder holding the video
(or the frame folder); a manifest's text becomes the episode's language.
"""
from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
import functools
import math
import os
from pathlib import Path
import re
import shutil
import tempfile
from typing import Any, Iterator

import numpy as np

from vptr_training.data.convert import (add_common_arguments, check_workers, read_image_rgb,
                                        require_source, run_conversion)
from vptr_training.data.store import EpisodeData
from vptr_training.errors import DataError

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v')
MANIFEST = 'manifest.csv'
# Containers whose frame-count property is trustworthy enough to detect truncation
# (WebM/Matroska often carry no duration and report garbage counts: count by decoding).
_COUNTED_CONTAINERS = ('.mp4', '.avi', '.mov', '.m4v')


@dataclass(frozen=True)
class VideoUnit:
    """One video file, or one frame folder listed in a manifest."""

    path: str
    task: str
    language: str = ''
    num_frames: int = -1         # frame folders: the count the manifest promises
    is_frame_folder: bool = False

    def __str__(self) -> str:
        return self.path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, fps=True, fps_default=5.0)
    parser.add_argument('--clip-seconds', type=float, default=20.0,
                        help='cut videos into clips of this length (0: whole videos)')
    parser.add_argument('--source-fps', type=float, default=None,
                        help='frame rate of manifest frame folders (default: --fps, i.e. '
                        'frames are taken as already at the target rate)')


# ------------------------------------------------------------------------- discovery

def _task_of(path: Path, root: Path) -> str:
    return path.parent.name or root.resolve().name


def find_units(src: Path) -> list[VideoUnit]:
    """Every video file and manifest row under src, sorted for a deterministic store."""
    if src.is_file():
        if src.suffix.lower() in VIDEO_EXTENSIONS:
            return [VideoUnit(str(src), src.resolve().parent.name)]
        if src.name == MANIFEST:
            return _manifest_units(src)
        raise DataError(src, 'not a video file (expected one of '
                        f'{", ".join(VIDEO_EXTENSIONS)}) or a {MANIFEST}')
    units: list[VideoUnit] = []
    for folder, dirs, files in os.walk(src):
        # hidden names are temporaries of interrupted writers (e.g. `vptr sim generate`)
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(f for f in files if not f.startswith('.')):
            path = Path(folder) / name
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                units.append(VideoUnit(str(path), _task_of(path, src)))
            elif name == MANIFEST:
                units.extend(_manifest_units(path))
    if not units:
        raise DataError(src, f'no video files ({", ".join(VIDEO_EXTENSIONS)}) or '
                        f'{MANIFEST} found')
    return units


def _manifest_units(manifest: Path) -> list[VideoUnit]:
    try:
        with open(manifest, newline='', encoding='utf-8') as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(manifest, f'unreadable manifest: {exc}') from None
    if not rows:
        raise DataError(manifest, 'manifest lists no frame folders')
    missing = {'directory', 'num_frames'} - set(rows[0])
    if missing:
        raise DataError(manifest, f'manifest lacks column(s) {", ".join(sorted(missing))} '
                        '(expected directory,num_frames,text)')
    units = []
    for line, row in enumerate(rows, start=2):
        folder = Path(row['directory'])
        if not folder.is_absolute():
            folder = manifest.parent / folder
        try:
            count = int(row['num_frames'])
        except (TypeError, ValueError):
            raise DataError(manifest, f'line {line}: num_frames {row["num_frames"]!r} is '
                            'not an integer') from None
        units.append(VideoUnit(str(folder), folder.parent.name or manifest.parent.name,
                               (row.get('text') or '').strip(), count, True))
    return units


# ------------------------------------------------------------------------- decoding

def _resample_keep(t: float, next_t: float, period: float,
                   tolerance: float) -> tuple[bool, float]:
    """Keep a frame at time t if it reaches the next sample time of the target grid.

    `tolerance` (half a source frame) absorbs timestamp jitter (millisecond-rounded WebM
    times, 30000/1001 rates) that would otherwise drop a frame sitting just before a
    sample time. Sample times already passed (gaps, or a source slower than the target)
    are skipped rather than filled with duplicated frames.
    """
    if t + tolerance >= next_t:
        next_t += period * max(1, math.floor((t + tolerance - next_t) / period) + 1)
        return True, next_t
    return False, next_t


def preshrink(image: np.ndarray) -> np.ndarray:
    """Shrink a large frame by an integer factor before `center_crop_resize_video`.

    An integer-factor INTER_AREA resize is an exact box filter and takes OpenCV's fast
    path, while the general non-integer area resize of a full HD frame to short side 256
    costs ~3x more (measured: 1080p 24 ms -> 9 ms per frame). The short side stays >= 256,
    so `center_crop_resize_video` still does the final anti-aliased steps; the result
    differs from resizing the full frame by about 2 grey levels on average. Frames with a
    short side below 512 are passed through untouched (bit-identical preprocessing).
    """
    import cv2
    from vptr_training.robot.image import VIDEO_SHORT_SIDE

    h, w = image.shape[:2]
    factor = min(h, w) // VIDEO_SHORT_SIDE
    if factor < 2:
        return image
    return cv2.resize(image, (w // factor, h // factor), interpolation=cv2.INTER_AREA)


def open_video(path: str) -> Any:
    """A cv2.VideoCapture on path whose decoder uses cv2.getNumThreads() threads.

    OpenCV's FFmpeg backend otherwise starts one frame-decoding thread per CPU, even in
    the converter's worker processes, which run one per core with cv2.setNumThreads(1):
    there the extra decoder threads only add hand-offs and contention (measured on
    640x480 MPEG-4: -20 % decoding CPU time with 1 thread instead of 2). In the main
    process (--workers 1) getNumThreads() is the CPU count, i.e. OpenCV's default.
    """
    import cv2

    threads = max(1, cv2.getNumThreads())
    cap = cv2.VideoCapture(path, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
    if not cap.isOpened():
        # a backend that can read the file but not take the thread count bails out above
        cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise DataError(path, 'cannot open video (unreadable, truncated or unsupported)')
    return cap


def iter_video_frames(path: str, fps: float, size: int) -> Iterator[tuple[np.ndarray, float]]:
    """Decode a video at `fps`, one (frame (size,size,3) uint8, timestamp s) at a time.

    Streaming keeps a worker's memory at one clip however long the video is (an hour of
    Ego4D at 5 fps would be ~0.9 GB of 128 px frames). Truncation is only known at the end,
    so the DataError for it comes after the frames: callers must not publish anything of
    the unit before the generator is exhausted (the conversion runner adds a unit's
    episodes only once it has them all).
    """
    import cv2
    from vptr_training.robot.image import center_crop_resize_video

    cap = open_video(path)
    try:
        src_fps = cap.get(cv2.CAP_PROP_FPS)
        if not (math.isfinite(src_fps) and 0.1 < src_fps < 1000.0):
            src_fps = 0.0
        declared = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        period = 1.0 / fps
        tolerance = 0.5 / src_fps if src_fps > 0 else 1e-3
        next_t = 0.0
        prev_t = -math.inf
        decoded = 0
        bgr = None
        while cap.grab():
            # container timestamps when sane, else frame index / rate (constant rate)
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not math.isfinite(t) or t < prev_t or (t == 0.0 and decoded > 0):
                if src_fps <= 0:
                    raise DataError(path, 'video has neither usable timestamps nor a '
                                    'frame rate')
                t = decoded / src_fps
            decoded += 1
            prev_t = t
            keep, next_t = _resample_keep(t, next_t, period, tolerance)
            if not keep:
                continue        # grab() only: no colour conversion for skipped frames
            # Decode into the previous frame's buffer (each kept frame is copied out by
            # cvtColor below): saves a 1 MB allocation per frame, ~15 % of retrieve().
            ok, bgr = cap.retrieve(bgr)
            if not ok or bgr is None:
                raise DataError(path, f'cannot decode frame {decoded - 1}')
            colour = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR) if bgr.ndim == 2 else bgr
            # Resize before the colour swap (per-channel ops commute): converting a
            # 128x128 frame is far cheaper than a full-resolution one. cvtColor, not a
            # [..., ::-1] view: np.stack copies negative-stride views element by element
            # (measured 12 ms per 50 frames of 128 px, vs < 1 ms for contiguous frames).
            small = center_crop_resize_video(preshrink(colour), size)
            yield cv2.cvtColor(small, cv2.COLOR_BGR2RGB), t
    finally:
        cap.release()
    if decoded == 0:
        raise DataError(path, 'no decodable frames (empty, truncated or unsupported video)')
    if (Path(path).suffix.lower() in _COUNTED_CONTAINERS and declared > 0
            and decoded < 0.95 * declared - 2):
        raise DataError(path, f'truncated video: decoded {decoded} of {int(declared)} frames')


def decode_video(path: str, fps: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode a whole video at `fps` -> (frames (N,size,size,3) uint8, timestamps (N,) s)."""
    frames, times = [], []
    for frame, t in iter_video_frames(path, fps, size):
        frames.append(frame)
        times.append(t)
    return np.stack(frames), np.asarray(times, np.float64)


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in ('.jpg', '.jpeg', '.png')]

    def number(p: Path) -> tuple[int, str]:
        m = re.search(r'(\d+)$', p.stem)
        return (int(m.group(1)) if m else -1, p.name)
    return sorted(files, key=number)


def iter_frame_folder(unit: VideoUnit, fps: float, source_fps: float,
                      size: int) -> Iterator[tuple[np.ndarray, float]]:
    """Frames of a manifest frame folder at `fps`, one (frame, timestamp) at a time."""
    from vptr_training.robot.image import center_crop_resize_video

    folder = Path(unit.path)
    if not folder.is_dir():
        raise DataError(folder, 'frame folder listed in the manifest does not exist')
    files = _frame_files(folder)
    if not files:
        raise DataError(folder, 'frame folder holds no .jpg/.png frames')
    if unit.num_frames >= 0 and len(files) != unit.num_frames:
        raise DataError(folder, f'manifest says {unit.num_frames} frames, folder holds '
                        f'{len(files)}')
    next_t, period = 0.0, 1.0 / fps
    for i, path in enumerate(files):
        t = i / source_fps
        keep, next_t = _resample_keep(t, next_t, period, 0.5 / source_fps)
        if keep:
            yield center_crop_resize_video(preshrink(read_image_rgb(path)), size), t


def split_clips(n: int, clip_len: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges of at most clip_len frames; a 1-frame tail joins the clip before."""
    if clip_len <= 0 or n <= clip_len:
        return [(0, n)]
    bounds = list(range(0, n, clip_len)) + [n]
    if bounds[-1] - bounds[-2] < 2:
        del bounds[-2]
    return list(zip(bounds[:-1], bounds[1:]))


@dataclass
class SpilledClip:
    """A clip a worker wrote to disk as soon as it was complete (see `convert_unit`).

    Only this small record travels back to the main process, which maps the frames with
    `materialize()` while adding the unit and deletes the file with `discard()` after.
    """

    images_path: str
    timestamps: np.ndarray
    task: str
    source: str
    language: str

    def materialize(self) -> EpisodeData:
        images = np.load(self.images_path, mmap_mode='r')
        return EpisodeData(images=images, task=self.task, source=self.source,
                           language=self.language, timestamps=self.timestamps,
                           terminals=np.zeros(len(images), bool))

    def discard(self) -> None:
        Path(self.images_path).unlink(missing_ok=True)


def _clip_bounds(frames: list, clip_len: int, final: bool) -> int:
    """How many buffered frames form a finished clip now (0: none yet). Same clips as
    `split_clips` on the whole video: a clip is cut only once at least two more frames
    exist, so the last clip never ends up with a single frame."""
    if final:
        return len(frames)
    if clip_len > 0 and len(frames) >= clip_len + 2:
        return clip_len
    return 0


def convert_unit(unit: VideoUnit, fps: float, size: int, clip_seconds: float,
                 source_fps: float, spill_dir: str | None = None
                 ) -> Iterator[EpisodeData | SpilledClip]:
    """One video (or frame folder) -> its clips (top level: runs in worker processes).

    Frames are decoded as a stream and cut into clips as they arrive. With `spill_dir`,
    each finished clip is written there at once and only a `SpilledClip` record is kept,
    so a worker holds at most one clip of frames whatever the video's length.
    """
    frames_iter = (iter_frame_folder(unit, fps, source_fps, size) if unit.is_frame_folder
                   else iter_video_frames(unit.path, fps, size))
    clip_len = round(clip_seconds * fps) if clip_seconds > 0 else 0
    clips: list[EpisodeData | SpilledClip] = []
    frames: list[np.ndarray] = []
    times: list[float] = []
    total = 0

    def cut(count: int) -> None:
        images = np.stack(frames[:count])
        stamps = np.asarray(times[:count], np.float64)
        del frames[:count], times[:count]
        source = f'{unit.path}#clip{len(clips)}'
        if spill_dir is None:
            # a clip ends by a cut (or the video's end), never in a terminal state
            clips.append(EpisodeData(images=images, task=unit.task, source=source,
                                     language=unit.language, timestamps=stamps,
                                     terminals=np.zeros(len(images), bool)))
            return
        fd, path = tempfile.mkstemp(suffix='.npy', dir=spill_dir)
        with os.fdopen(fd, 'wb') as f:
            np.save(f, images)
        clips.append(SpilledClip(path, stamps, unit.task, source, unit.language))

    try:
        for frame, t in frames_iter:
            frames.append(frame)
            times.append(t)
            total += 1
            count = _clip_bounds(frames, clip_len, final=False)
            if count:
                cut(count)
        if total < 2:
            raise DataError(unit.path, f'only {total} frame(s) at {fps:g} fps; too short')
        if frames:
            cut(len(frames))
    except BaseException:
        for clip in clips:
            if isinstance(clip, SpilledClip):
                clip.discard()
        raise
    if len(clips) == 1:  # a video that is one clip is named by its path alone
        clip = clips[0]
        clip.source = unit.path
    yield from clips


def _collect(unit: VideoUnit, **kwargs: Any) -> list[EpisodeData | SpilledClip]:
    return list(convert_unit(unit, **kwargs))


def run(args: argparse.Namespace) -> int:
    src = require_source(args.src)
    workers = check_workers(args.workers)
    if args.fps <= 0 or args.size < 8:
        raise DataError('--fps/--size', f'need fps > 0 and size >= 8, got {args.fps}, '
                        f'{args.size}')
    units = find_units(src)
    # Clips travel from the workers through files beside DST (same filesystem, and the
    # folder goes away whatever happens).
    dst_parent = Path(args.dst).resolve().parent
    dst_parent.mkdir(parents=True, exist_ok=True)
    spill_dir = tempfile.mkdtemp(prefix=f'.{Path(args.dst).name}.clips-', dir=dst_parent)
    try:
        fn = functools.partial(_collect, fps=args.fps, size=args.size,
                               clip_seconds=args.clip_seconds,
                               source_fps=args.source_fps or args.fps, spill_dir=spill_dir)
        run_conversion(units, fn, args.dst, kind='video', image_size=args.size,
                       control_hz=args.fps, workers=workers, skip_bad=args.skip_bad,
                       overwrite=args.overwrite, append=args.append, src=src,
                       desc='videos')
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
    return 0
