"""Video converter: video files (mp4/avi), frame folders + manifest, resampling, clips,
bad inputs."""
import os

import cv2
import data_fixtures as F
import numpy as np
import pytest

from vptr_training.cli import main
from vptr_training.data import video
from vptr_training.data.store import EpisodeStore
from vptr_training.errors import DataError
from vptr_training.robot.image import center_crop_resize_video

SIZE = 16
os.environ['VPTR_NO_PROGRESS'] = '1'


def convert(src, dst, *extra):
    return main(['data', 'video', str(src), str(dst), '--size', str(SIZE), *extra])


def source_index(frames):
    """Recover the source frame index from the brightness code of F.video_frame (exact for
    JPEG frame folders; codecs shift brightness slightly, see all_frames)."""
    return np.rint(frames.reshape(len(frames), -1).mean(1) / 2).astype(int)


def all_frames(path):
    """Every frame of a video decoded independently, preprocessed like the converter."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return np.stack(out)
        out.append(center_crop_resize_video(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), SIZE))


def test_video_tree_resampled_by_timestamps(tmp_path):
    # 30000/1001 fps for 3 s, and a 25 fps AVI (MJPG) for 2 s
    F.write_video(tmp_path / 'src' / 'kitchen' / 'a.mp4', 90, 30000 / 1001)
    F.write_video(tmp_path / 'src' / 'garden' / 'b.avi', 50, 25.0, fourcc='MJPG')
    assert convert(tmp_path / 'src', tmp_path / 'dst', '--fps', '5') == 0
    store = EpisodeStore(tmp_path / 'dst')
    assert store.meta['kind'] == 'video' and store.control_hz == 5.0
    assert store.tasks == ['garden', 'kitchen'] and not store.has('actions')
    avi, mp4 = store.episode(0), store.episode(1)
    # 25 fps -> every 5th frame; 29.97 fps -> frames nearest 0.2 s steps (0, 6, 12, ...)
    avi_all = all_frames(tmp_path / 'src' / 'garden' / 'b.avi')
    assert len(np.unique(avi_all.reshape(50, -1), axis=0)) == 50      # frames distinct
    np.testing.assert_array_equal(avi['images'], avi_all[0:50:5])
    np.testing.assert_allclose(avi['timestamps'], np.arange(10) * 0.2, atol=1e-6)
    mp4_all = all_frames(tmp_path / 'src' / 'kitchen' / 'a.mp4')
    np.testing.assert_array_equal(mp4['images'], mp4_all[0:90:6])
    np.testing.assert_allclose(mp4['timestamps'], np.arange(15) * 6 * 1001 / 30000,
                               atol=1e-4)
    assert store.episodes[0].source.endswith('b.avi')


def test_clip_splitting(tmp_path):
    F.write_video(tmp_path / 'v' / 'long.avi', 61, 10.0, fourcc='MJPG')     # 6.1 s
    assert convert(tmp_path / 'v', tmp_path / 'dst', '--fps', '5', '--clip-seconds', '2') == 0
    store = EpisodeStore(tmp_path / 'dst')
    # 31 frames at 5 fps: 10 + 10 + 11 (a 1-frame tail joins the clip before)
    np.testing.assert_array_equal(store.episode_lengths, [10, 10, 11])
    assert [e.source.rsplit('#', 1)[1] for e in store.episodes] == ['clip0', 'clip1', 'clip2']
    # clips end by a cut: is_last, never is_terminal
    assert not store.gather('is_terminal', np.arange(store.num_steps)).any()
    assert store.gather('is_last', np.arange(store.num_steps)).sum() == 3
    np.testing.assert_array_equal(store.gather('images', np.arange(store.num_steps)),
                                  all_frames(tmp_path / 'v' / 'long.avi')[0:61:2])
    assert video.split_clips(5, 0) == [(0, 5)]
    assert video.split_clips(7, 3) == [(0, 3), (3, 7)]


def test_frame_folders_with_manifest(tmp_path):
    F.write_frame_folders(tmp_path / 'ego' / 'frames', {
        'clip_a': (12, 'C opens the fridge'), 'clip_b': (7, 'C cuts a tomato')})
    assert convert(tmp_path / 'ego', tmp_path / 'dst', '--fps', '5', '--source-fps',
                   '10') == 0
    store = EpisodeStore(tmp_path / 'dst')
    assert [e.language for e in store.episodes] == ['C opens the fridge', 'C cuts a tomato']
    assert store.tasks == ['frames']
    a = store.episode(0)
    np.testing.assert_array_equal(source_index(a['images']), np.arange(0, 12, 2))
    first = cv2.cvtColor(cv2.imread(str(tmp_path / 'ego/frames/clip_a/000000.jpg')),
                         cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(a['images'][0], center_crop_resize_video(first, SIZE))


def test_video_frames_match_preprocessing(tmp_path):
    F.write_video(tmp_path / 'a.avi', 10, 5.0, fourcc='MJPG')
    frames, times = video.decode_video(str(tmp_path / 'a.avi'), 5.0, SIZE)
    cap = cv2.VideoCapture(str(tmp_path / 'a.avi'))
    ok, bgr = cap.read()
    assert ok
    want = center_crop_resize_video(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), SIZE)
    np.testing.assert_array_equal(frames[0], want)
    assert frames.shape == (10, SIZE, SIZE, 3) and len(times) == 10


def test_truncated_and_unreadable_videos(tmp_path, capsys):
    F.write_video(tmp_path / 'src' / 'ok' / 'good.avi', 20, 10.0, fourcc='MJPG')
    F.write_video(tmp_path / 'src' / 'bad' / 'cut.avi', 40, 10.0, fourcc='MJPG')
    cut = tmp_path / 'src' / 'bad' / 'cut.avi'
    cut.write_bytes(cut.read_bytes()[:len(cut.read_bytes()) // 2])
    (tmp_path / 'src' / 'bad' / 'junk.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42' + b'x' * 50)
    with pytest.raises(DataError, match='truncated video'):
        video.decode_video(str(cut), 5.0, SIZE)
    assert convert(tmp_path / 'src', tmp_path / 'dst') == 2
    assert 'cut.avi: truncated video' in capsys.readouterr().err
    assert not list(tmp_path.glob('dst*'))
    assert convert(tmp_path / 'src', tmp_path / 'dst', '--skip-bad') == 0
    out = capsys.readouterr().out
    assert 'skipped 2' in out and 'junk.mp4: cannot open video' in out
    assert [e.task for e in EpisodeStore(tmp_path / 'dst').episodes] == ['ok']


def test_bad_frame_folders(tmp_path, capsys):
    F.write_frame_folders(tmp_path / 'm', {'a': (6, 'x'), 'b': (6, 'y'), 'c': (6, 'z')})
    (tmp_path / 'm' / 'a' / '000003.jpg').write_bytes(b'\xff\xd8\xff\xe0garbage')
    (tmp_path / 'm' / 'b' / '000005.jpg').unlink()
    assert convert(tmp_path / 'm', tmp_path / 'dst', '--skip-bad') == 0
    out = capsys.readouterr().out
    assert '000003.jpg: truncated JPEG' in out
    assert 'manifest says 6 frames, folder holds 5' in out
    assert [e.language for e in EpisodeStore(tmp_path / 'dst').episodes] == ['z']
    (tmp_path / 'empty').mkdir()
    assert convert(tmp_path / 'empty', tmp_path / 'd2') == 2
    assert 'no video files' in capsys.readouterr().err


def test_png_frame_folders_and_corrupt_pngs(tmp_path, capsys):
    F.write_frame_folders(tmp_path / 'm', {'a': (4, 'x'), 'b': (4, 'y'), 'c': (4, 'z')})
    for folder in ('a', 'b', 'c'):                   # the same frames as PNG files
        for jpg in sorted((tmp_path / 'm' / folder).glob('*.jpg')):
            cv2.imwrite(str(jpg.with_suffix('.png')), cv2.imread(str(jpg)))
            jpg.unlink()
    cut = tmp_path / 'm' / 'a' / '000002.png'
    cut.write_bytes(cut.read_bytes()[:200])          # truncated: no IEND chunk
    bad = tmp_path / 'm' / 'b' / '000001.png'
    data = bytearray(bad.read_bytes())
    data[40:400] = b'\x00' * 360                       # damaged image data, IEND intact
    bad.write_bytes(bytes(data))
    assert convert(tmp_path / 'm', tmp_path / 'dst', '--source-fps', '5', '--fps', '5') == 2
    err = capsys.readouterr().err
    assert '000002.png: truncated PNG' in err or '000001.png' in err, err
    assert not (tmp_path / 'dst').exists()
    assert convert(tmp_path / 'm', tmp_path / 'dst', '--source-fps', '5', '--fps', '5',
                   '--skip-bad') == 0
    out = capsys.readouterr().out
    assert '000002.png: truncated PNG (no IEND chunk)' in out
    assert '000001.png' in out
    store = EpisodeStore(tmp_path / 'dst')
    assert [e.language for e in store.episodes] == ['z'] and store.episode_lengths[0] == 4


def test_preshrink_of_large_frames():
    yy, xx = np.mgrid[0:720, 0:1280]
    smooth = np.stack([xx * 255 // 1279, yy * 255 // 719, (xx + yy) * 255 // 1998],
                      axis=2).astype(np.uint8)
    small = video.preshrink(smooth)
    assert small.shape == (360, 640, 3)          # integer factor 2, short side >= 256
    ref = center_crop_resize_video(smooth, SIZE)
    got = center_crop_resize_video(small, SIZE)
    assert np.abs(ref.astype(int) - got).mean() < 2.0
    medium = smooth[:480, :640]
    assert video.preshrink(medium) is medium     # below 512: untouched, bit-identical


def test_decoder_threads_follow_opencv_and_do_not_change_frames(tmp_path):
    # worker processes run cv2.setNumThreads(1): the FFmpeg decoder must then use 1 thread
    F.write_video(tmp_path / 'a.mp4', 40, 30000 / 1001)
    before = cv2.getNumThreads()
    decoded = {}
    try:
        for threads in (1, 2):
            cv2.setNumThreads(threads)
            cap = video.open_video(str(tmp_path / 'a.mp4'))
            assert cap.getBackendName() == 'FFMPEG'
            assert cap.get(cv2.CAP_PROP_N_THREADS) == threads
            cap.release()
            decoded[threads] = video.decode_video(str(tmp_path / 'a.mp4'), 5.0, SIZE)
    finally:
        cv2.setNumThreads(before)
    np.testing.assert_array_equal(decoded[1][0], decoded[2][0])
    np.testing.assert_array_equal(decoded[1][1], decoded[2][1])
    np.testing.assert_array_equal(decoded[1][0], all_frames(tmp_path / 'a.mp4')[0:40:6])
    with pytest.raises(DataError, match='cannot open video'):
        video.open_video(str(tmp_path / 'missing.mp4'))


@pytest.mark.parametrize('n_frames', [10, 11, 12, 13, 25])
def test_streamed_clips_match_split_clips_and_spill_to_disk(tmp_path, n_frames):
    """Clips are cut while decoding (a worker holds one clip, not the video) with exactly
    the bounds split_clips gives on the whole video; spilled clips carry the same frames."""
    F.write_video(tmp_path / 'a.mp4', n_frames, 5.0)
    unit = video.VideoUnit(str(tmp_path / 'a.mp4'), 'task')
    kwargs = dict(fps=5.0, size=SIZE, clip_seconds=0.8, source_fps=5.0)   # 4-frame clips
    in_memory = list(video.convert_unit(unit, **kwargs))
    frames, _ = video.decode_video(str(tmp_path / 'a.mp4'), 5.0, SIZE)
    assert [len(c.images) for c in in_memory] == [
        hi - lo for lo, hi in video.split_clips(len(frames), 4)]
    spill = tmp_path / 'spill'
    spill.mkdir()
    spilled = list(video.convert_unit(unit, **kwargs, spill_dir=str(spill)))
    assert all(isinstance(c, video.SpilledClip) for c in spilled)
    assert len(list(spill.iterdir())) == len(spilled)
    for mem, rec in zip(in_memory, spilled):
        episode = rec.materialize()
        np.testing.assert_array_equal(np.asarray(episode.images), mem.images)
        np.testing.assert_array_equal(episode.timestamps, mem.timestamps)
        assert episode.source == mem.source
        rec.discard()
    assert not list(spill.iterdir())


def test_truncated_video_leaves_no_spilled_clips(tmp_path, monkeypatch):
    """Truncation is detected after the decodable frames, when clips are already on disk:
    they must be removed with the error."""
    F.write_video(tmp_path / 'a.avi', 60, 10.0, fourcc='MJPG')
    data = (tmp_path / 'a.avi').read_bytes()
    (tmp_path / 'cut.avi').write_bytes(data[:len(data) // 2])
    spill = tmp_path / 'spill'
    spill.mkdir()
    spilled_before_error = []
    real_save = np.save
    monkeypatch.setattr(video.np, 'save', lambda f, a: (spilled_before_error.append(1),
                                                        real_save(f, a)))
    unit = video.VideoUnit(str(tmp_path / 'cut.avi'), 'task')
    with pytest.raises(DataError, match='truncated video'):
        list(video.convert_unit(unit, fps=5.0, size=SIZE, clip_seconds=0.8, source_fps=5.0,
                                spill_dir=str(spill)))
    assert len(spilled_before_error) >= 2          # clips were written before the error
    assert not list(spill.iterdir())


def test_conversion_leaves_no_spill_folder_beside_dst(tmp_path):
    F.write_video(tmp_path / 'src' / 'a.mp4', 30, 5.0)
    assert convert(tmp_path / 'src', tmp_path / 'out' / 'store', '--clip-seconds', '1') == 0
    assert len(EpisodeStore(tmp_path / 'out' / 'store')) == 6
    assert [p.name for p in (tmp_path / 'out').iterdir()] == ['store']
