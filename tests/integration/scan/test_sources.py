"""Frame sources: folder, video file and MJPEG URL; newest frame only; camera gone and back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from hardware.camera.mjpeg_server import MjpegServer
from hardware.camera.sources import (
    FileSource,
    FolderSource,
    MjpegSource,
    V4l2Source,
    open_source,
)
from kiosk.errors import CameraUnavailable, ConfigError
from kiosk.ports import Frame, FrameSource
from kiosk.settings import CameraSettings

SETTINGS = CameraSettings(fps=50, stale_after_s=1.0)


def numbered(n: int, size: tuple[int, int] = (160, 120)) -> Any:
    """A frame whose number can be read back from its pixels."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:, :, 0] = n % 256
    image[:, :, 1] = (n // 256) % 256
    return image


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def next_frame(source: FrameSource, after: int = 0, timeout: float = 10.0) -> Frame:
    frames: list[Frame] = []

    def newer() -> bool:
        try:
            frame = source.latest()
        except CameraUnavailable:
            return False
        if frame is not None and frame.index > after:
            frames.append(frame)
            return True
        return False

    assert wait_for(newer, timeout), "no frame arrived"
    return frames[-1]


def test_open_source_parses_every_kind(tmp_path: Path) -> None:
    assert isinstance(open_source("v4l2:0", SETTINGS), V4l2Source)
    assert isinstance(open_source(f"file:{tmp_path}/a.avi", SETTINGS), FileSource)
    assert isinstance(open_source("folder:builtin", SETTINGS), FolderSource)
    assert isinstance(open_source("mjpeg:http://127.0.0.1:1/stream", SETTINGS), MjpegSource)
    for bad in ("webcam", "v4l2:front", "ftp:x", "mjpeg:https://x/"):
        with pytest.raises(ConfigError):
            open_source(bad, SETTINGS)


def test_folder_source_loops_over_its_images(tmp_path: Path) -> None:
    for n in range(3):
        cv2.imwrite(str(tmp_path / f"{n:02d}.png"), numbered(n * 40))
    source = FolderSource(str(tmp_path), SETTINGS)
    source.start()
    try:
        seen: set[int] = set()
        index = 0
        while len(seen) < 3:
            frame = next_frame(source, index)
            index = frame.index
            seen.add(int(frame.image[0, 0, 0]))
        assert seen == {0, 40, 80}
    finally:
        source.stop()


def test_builtin_folder_holds_the_demo_samples() -> None:
    source = open_source("folder:builtin", SETTINGS)
    source.start()
    try:
        frame = next_frame(source)
        assert frame.image.shape == (720, 1280, 3)
    finally:
        source.stop()


def test_slow_consumer_gets_the_newest_frame_not_a_backlog(tmp_path: Path) -> None:
    for n in range(50):
        cv2.imwrite(str(tmp_path / f"{n:03d}.png"), numbered(n))
    source = FolderSource(str(tmp_path), SETTINGS, fps=100)
    source.start()
    try:
        first = next_frame(source)
        time.sleep(0.5)  # a consumer busy for 50 frame periods
        second = next_frame(source, first.index)
        assert second.index - first.index >= 10  # it skipped ahead instead of queueing
        later = source.latest()
        assert later is not None and later.index >= second.index
    finally:
        source.stop()


def test_missing_folder_is_camera_unavailable(tmp_path: Path) -> None:
    source = FolderSource(str(tmp_path / "nope"), SETTINGS)
    source.start()
    try:
        def gone() -> bool:
            try:
                source.latest()
            except CameraUnavailable as exc:
                return "does not exist" in str(exc)
            return False

        assert wait_for(gone)
    finally:
        source.stop()


def test_video_file_source_plays_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (160, 120))
    assert writer.isOpened()
    for n in range(10):
        writer.write(numbered(n * 20))
    writer.release()
    source = open_source(f"file:{path}", SETTINGS)
    source.start()
    try:
        values = set()
        index = 0
        deadline = time.monotonic() + 10
        while len(values) < 10 and time.monotonic() < deadline:
            frame = next_frame(source, index)
            index = frame.index
            values.add(round(float(frame.image[:, :, 0].mean()) / 20))
        assert values == set(range(10))
        assert index > 0
    finally:
        source.stop()


def test_unplugged_v4l2_camera_is_reported_clearly() -> None:
    source = V4l2Source(97, SETTINGS)  # no /dev/video97 on a test machine
    source.start()
    try:
        def gone() -> bool:
            try:
                source.latest()
            except CameraUnavailable as exc:
                return "/dev/video97" in str(exc) and exc.code == "camera_unavailable"
            return False

        assert wait_for(gone)
    finally:
        source.stop()


def test_mjpeg_stream_is_read_from_the_loopback_server() -> None:
    with MjpegServer(numbered, fps=30) as server:
        source = open_source(f"mjpeg:{server.url}", SETTINGS)
        source.start()
        try:
            first = next_frame(source)
            second = next_frame(source, first.index)
            assert second.image.shape == (120, 160, 3)
            assert int(second.image[0, 0, 0]) != int(first.image[0, 0, 0])
        finally:
            source.stop()


def test_mjpeg_camera_gone_then_back() -> None:
    server = MjpegServer(numbered, fps=30).start()
    source = MjpegSource(server.url, timeout_s=1.0, stale_after_s=1.0)
    source.start()
    try:
        before = next_frame(source)
        port = server.port
        server.stop()

        def unavailable() -> bool:
            try:
                source.latest()
            except CameraUnavailable:
                return True
            return False

        assert wait_for(unavailable)
        server = MjpegServer(numbered, fps=30, port=port).start()
        after = next_frame(source, before.index)
        assert after.index > before.index
        assert source.reopened >= 1
    finally:
        source.stop()
        server.stop()


def _bomb_jpeg() -> bytes:
    """A valid small JPEG whose header declares 65000x65000 pixels."""
    import struct

    ok, data = cv2.imencode(".jpg", numbered(1))
    assert ok
    jpeg = bytearray(data.tobytes())
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(jpeg)


class _BadFramesServer(MjpegServer):
    """The loopback server, sending a run of hostile frames between good ones."""

    BAD = (b"", b"\xff\xd8 not a jpeg", _bomb_jpeg(), b"GIF89a\x01\x00")

    def __init__(self) -> None:
        super().__init__(numbered, fps=40)
        self.sent_bad = 0

    def jpeg(self, number: int) -> bytes:
        if 5 <= number < 5 + 4 * len(self.BAD):
            self.sent_bad += 1
            return self.BAD[number % len(self.BAD)]
        return super().jpeg(number)


def test_mjpeg_bad_frames_are_skipped_and_the_camera_goes_on() -> None:
    with _BadFramesServer() as server:
        source = MjpegSource(server.url, timeout_s=1.0, stale_after_s=2.0)
        source.start()
        try:
            assert wait_for(lambda: server.sent_bad >= 4 * len(server.BAD))
            later = next_frame(source)
            assert later.image.shape == (120, 160, 3)
            assert source.bad_frames >= 4 * len(server.BAD) - 2  # a frame may be missed
            after = next_frame(source, later.index)  # frames keep coming
            assert after.index > later.index
            thread = source._thread
            assert thread is not None and thread.is_alive()
        finally:
            source.stop()


def test_capture_thread_survives_a_library_error_and_reopens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), numbered(3))
    source = FolderSource(str(tmp_path), SETTINGS, fps=50)
    source._backoff = (0.01, 0.05)
    calls = {"n": 0}
    real_read = FolderSource._read

    def flaky(self: FolderSource) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("a library blew up")
        return real_read(self)

    monkeypatch.setattr(FolderSource, "_read", flaky)
    source.start()
    try:
        assert wait_for(lambda: calls["n"] > 6)
        assert source._thread is not None and source._thread.is_alive()
        assert next_frame(source).index > 0
    finally:
        source.stop()


def test_folder_source_skips_a_decompression_bomb(tmp_path: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 100_000)) + chunk(b"IEND", b""))
    (tmp_path / "0-bomb.png").write_bytes(bomb)
    cv2.imwrite(str(tmp_path / "1-good.png"), numbered(7))
    source = FolderSource(str(tmp_path), SETTINGS)
    source.start()
    try:
        frame = next_frame(source)
        assert int(frame.image[0, 0, 0]) == 7
        assert source.bad_frames == 1
    finally:
        source.stop()
