"""Read video frames and write videos browsers play (H.264 when an encoder is installed)."""
import logging
import os
import os.path as osp
from fractions import Fraction
from typing import Iterator, Optional, Tuple, Union

import cv2
import numpy as np
from mmengine.logging import print_log

__all__ = ['VIDEO_EXTENSIONS', 'DEFAULT_FPS', 'probe_video', 'iter_video', 'VideoWriter']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')
#: Frame rate written when a video does not report one.
DEFAULT_FPS = 25.0
#: OpenCV's always-available codec (MPEG-4 Part 2: plays in VLC/ffmpeg, not in browsers).
FALLBACK_FOURCC = 'mp4v'


def probe_video(path: str) -> Tuple[int, float]:
    """``(frame count or 0 when unknown, fps)`` of a video (``DEFAULT_FPS`` when unknown)."""
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            return 0, DEFAULT_FPS
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    fps = fps if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS
    return max(total, 0), float(fps)


def iter_video(path: str) -> Iterator[Tuple[int, np.ndarray]]:
    """``(index, BGR frame)`` of a video, in order.

    Raises:
        ValueError: The video cannot be opened or has no readable frame.
    """
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f'Cannot open video {path}: not a video OpenCV can read, or corrupt.')
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            yield index, frame
            index += 1
        if index == 0:
            raise ValueError(f'Video {path} has no readable frame.')
    finally:
        capture.release()


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """H.264 (yuv420p) and OpenCV's mp4v need even sides: pad a black row / column if odd."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_h or pad_w:
        frame = cv2.copyMakeBorder(frame, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
    return frame


class _PyAVEncoder:

    def __init__(self, path: str, fps: float, size: Tuple[int, int]) -> None:
        import av
        self.av = av
        self.container = av.open(path, mode='w')
        self.stream = self.container.add_stream('libx264',
                                                rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = 'yuv420p'

    def write(self, frame: np.ndarray) -> None:
        video_frame = self.av.VideoFrame.from_ndarray(frame, format='bgr24')
        for packet in self.stream.encode(video_frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


class _ImageioFFmpegEncoder:

    def __init__(self, path: str, fps: float, size: Tuple[int, int]) -> None:
        import imageio_ffmpeg
        self.writer = imageio_ffmpeg.write_frames(
            path, size, fps=fps, codec='libx264', pix_fmt_in='bgr24', pix_fmt_out='yuv420p',
            macro_block_size=2)
        self.writer.send(None)

    def write(self, frame: np.ndarray) -> None:
        self.writer.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        self.writer.close()


class _OpenCVEncoder:

    def __init__(self, path: str, fps: float, size: Tuple[int, int]) -> None:
        self.writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*FALLBACK_FOURCC), fps, size)
        if not self.writer.isOpened():
            raise OSError(f'Cannot write video {path} ({FALLBACK_FOURCC}).')

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.release()


class VideoWriter:
    """Write BGR frames to a video; the encoder is picked on the first frame.

    H.264 (``libx264``, ``yuv420p``; plays in browsers) with PyAV (``pip install av``) or
    imageio-ffmpeg (``pip install imageio-ffmpeg``), whichever imports first; otherwise
    OpenCV's ``mp4v`` (MPEG-4 Part 2), said in the log. Odd frame sides are padded by one
    black pixel (both encoders need even sides).

    Args:
        path (str): Output file (``.mp4``); its folder is created.
        fps (float): Frame rate.
        codec (str): ``'auto'`` (above), ``'h264'`` (fail without an encoder) or ``'mp4v'``.
    """

    def __init__(self, path: str, fps: float, codec: str = 'auto') -> None:
        if codec not in ('auto', 'h264', 'mp4v'):
            raise ValueError(f"VideoWriter: codec must be 'auto', 'h264' or 'mp4v', got "
                             f'{codec!r}.')
        self.path = os.fspath(path)
        self.fps = float(fps)
        self.codec = codec
        self.encoder: Optional[Union[_PyAVEncoder, _ImageioFFmpegEncoder, _OpenCVEncoder]] = None
        self.backend: Optional[str] = None
        self.num_frames = 0

    def _open(self, size: Tuple[int, int]) -> None:
        os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
        errors = []
        if self.codec in ('auto', 'h264'):
            for name, encoder in (('PyAV', _PyAVEncoder), ('imageio-ffmpeg',
                                                           _ImageioFFmpegEncoder)):
                try:
                    self.encoder = encoder(self.path, self.fps, size)
                    self.backend = f'h264 ({name})'
                    return
                except ImportError as error:
                    errors.append(f'{name}: {error}')
            if self.codec == 'h264':
                raise ImportError('H.264 output needs PyAV (`pip install av`) or '
                                  'imageio-ffmpeg (`pip install imageio-ffmpeg`): ' +
                                  '; '.join(errors))
            print_log(
                f'{self.path}: writing mp4v (MPEG-4 Part 2), which browsers do not play; '
                '`pip install av` or `pip install imageio-ffmpeg` for H.264.',
                logger='current', level=logging.WARNING)
        self.encoder = _OpenCVEncoder(self.path, self.fps, size)
        self.backend = FALLBACK_FOURCC

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 BGR frame (all frames the size of the first)."""
        if self.encoder is None:
            first = _pad_even(frame)
            self._open((first.shape[1], first.shape[0]))
        assert self.encoder is not None  # set by _open
        self.encoder.write(_pad_even(frame))
        self.num_frames += 1

    def close(self) -> None:
        """Finish the file (nothing is written when no frame was)."""
        if self.encoder is not None:
            self.encoder.close()
            self.encoder = None

    def __enter__(self) -> 'VideoWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
