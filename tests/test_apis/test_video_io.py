"""Video output: H.264 with PyAV or imageio-ffmpeg when installed, else mp4v (said in the log)."""
import builtins
import importlib.util

import cv2
import numpy as np
import pytest

from mroi_plugin.apis.video_io import VideoWriter, iter_video, probe_video

HAS_H264_ENCODER = (importlib.util.find_spec('av') is not None
                    or importlib.util.find_spec('imageio_ffmpeg') is not None)


def _frames(num: int = 5, size=(67, 45)) -> list:
    """Odd-sized frames with a bright square moving right (padded to even sides)."""
    width, height = size
    frames = []
    for index in range(num):
        frame = np.full((height, width, 3), 40, np.uint8)
        frame[10:30, 5 + 8 * index:25 + 8 * index] = (30, 200, 240)
        frames.append(frame)
    return frames


def _decode(path) -> tuple:
    capture = cv2.VideoCapture(str(path))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
    capture.release()
    frames = [frame for _, frame in iter_video(str(path))]
    return frames, fourcc.to_bytes(4, 'little').decode('latin-1').lower()


def test_mp4v_fallback_without_encoders(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_encoders(name, *args, **kwargs):
        if name in ('av', 'imageio_ffmpeg'):
            raise ImportError(f'No module named {name!r} (hidden by the test)')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_encoders)
    path = tmp_path / 'sub' / 'out.mp4'
    with VideoWriter(str(path), fps=12.0) as writer:
        for frame in _frames():
            writer.write(frame)
    assert writer.backend == 'mp4v' and writer.num_frames == 5
    frames, fourcc = _decode(path)
    # OpenCV's FFmpeg reports MPEG-4 Part 2 as 'FMP4' (its own tag for mp4v).
    assert fourcc in ('mp4v', 'fmp4') and len(frames) == 5 and frames[0].shape == (46, 68, 3)
    assert probe_video(str(path)) == (5, pytest.approx(12.0))
    with pytest.raises(ImportError, match='pip install av'):
        VideoWriter(str(tmp_path / 'h264.mp4'), fps=12.0, codec='h264').write(_frames()[0])


@pytest.mark.skipif(not HAS_H264_ENCODER,
                    reason='needs PyAV or imageio-ffmpeg (pip install av / imageio-ffmpeg)')
def test_h264_when_an_encoder_is_installed(tmp_path):
    path = tmp_path / 'out.mp4'
    source = _frames()
    with VideoWriter(str(path), fps=10.0, codec='h264') as writer:
        for frame in source:
            writer.write(frame)
    assert writer.backend.startswith('h264')
    frames, fourcc = _decode(path)
    assert fourcc in ('avc1', 'h264') and len(frames) == len(source)
    # Padded to even sides; the content survives lossy coding.
    assert frames[0].shape == (46, 68, 3)
    error = np.abs(frames[2][:45, :67].astype(int) - source[2].astype(int)).mean()
    assert error < 12


def test_bad_codec_and_unreadable_video(tmp_path):
    with pytest.raises(ValueError, match='codec'):
        VideoWriter(str(tmp_path / 'x.mp4'), fps=10.0, codec='vp9')
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'no video here')
    with pytest.raises(ValueError, match='Cannot open video'):
        list(iter_video(str(broken)))
    assert probe_video(str(broken)) == (0, 25.0)
