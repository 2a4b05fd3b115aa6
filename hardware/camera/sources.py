"""Frame sources: a V4L2 camera, a video file, an image folder, an MJPEG-over-HTTP URL.

Each source captures on its own thread and keeps only the newest frame, so a slow
consumer never builds a backlog. When the device fails (unplugged, busy, stream gone)
``latest()`` raises CameraUnavailable with a clear message while the thread keeps trying
to reopen it with a growing pause; frames flow again as soon as it is back.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware.camera.images import check_size, decode_image, read_image_file
from kiosk.errors import CameraUnavailable, ConfigError, ImageRefused
from kiosk.ports import Frame, FrameSource
from kiosk.settings import CameraSettings

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # OpenCV and numpy load when a source opens, not on import
    import cv2
    from numpy.typing import NDArray

    Image8 = NDArray[Any]  # an OpenCV image (uint8, grey or BGR)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
BUILTIN_SAMPLES = Path(__file__).resolve().parent.parent / "scan" / "samples"


class CaptureError(Exception):
    """The device failed inside a capture thread (translated to CameraUnavailable)."""


class BadFrame(Exception):
    """One frame could not be used (not a JPEG, too large, damaged): skip it, keep the device."""


BAD_FRAMES_BEFORE_REOPEN = 30  # so many bad frames in a row: reopen the device


class ThreadedSource(ABC):
    """Capture on a thread into a one-frame slot; reopen with backoff after failures."""

    describe: str = "camera"

    def __init__(
        self, stale_after_s: float = 3.0, backoff_s: tuple[float, float] = (0.1, 2.0)
    ) -> None:
        """``stale_after_s``: no new frame for this long counts as the camera being gone."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame: Frame | None = None
        self._index = 0
        self._error: str | None = None
        self._stale_after = stale_after_s
        self._backoff = backoff_s
        self.reopened = 0  # how many times the device came back after a failure
        self.bad_frames = 0  # frames skipped because they could not be used

    # --- the port ---------------------------------------------------------------------

    def start(self) -> None:
        """Begin capturing on the source's own thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"capture:{self.describe}", daemon=True
        )
        self._thread.start()

    def latest(self) -> Frame | None:
        """The newest frame; None before the first; CameraUnavailable while it is gone."""
        with self._lock:
            frame, error = self._frame, self._error
        if error is not None:
            raise CameraUnavailable(error, source=self.describe)
        if frame is not None and time.monotonic() - frame.taken_at > self._stale_after:
            raise CameraUnavailable(
                f"{self.describe} sent no frame for {self._stale_after:.0f} s",
                source=self.describe,
            )
        return frame

    def stop(self) -> None:
        """Stop capturing and release the device."""
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- what each source provides -----------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Open the device; CaptureError with a clear message if it cannot be."""

    @abstractmethod
    def _read(self) -> Image8:
        """Block until the next frame (BGR); CaptureError when the device fails."""

    @abstractmethod
    def _close(self) -> None:
        """Release the device (any thread, idempotent)."""

    def _interrupt(self) -> None:  # noqa: B027 -- optional hook, most sources need none
        """Make a blocking _read return soon (default: nothing to do)."""

    # --- the capture thread ------------------------------------------------------------

    def _run(self) -> None:
        """Capture until stopped. No frame and no library error ends this thread: a bad
        frame is skipped, anything else closes the device and reopens it with backoff."""
        pause = self._backoff[0]
        failed = False
        while not self._stop.is_set():
            try:
                self._open()
                bad_in_a_row = 0
                while not self._stop.is_set():
                    try:
                        image = self._read()
                    except BadFrame as exc:
                        self.bad_frames += 1
                        bad_in_a_row += 1
                        log.warning("%s: skipped a bad frame (%s)", self.describe, exc)
                        if bad_in_a_row >= BAD_FRAMES_BEFORE_REOPEN:
                            raise CaptureError(f"{self.describe} sends only bad frames") from exc
                        continue
                    bad_in_a_row = 0
                    self._publish(image)
                    if failed:
                        failed = False
                        self.reopened += 1
                        log.info("%s is back", self.describe)
                    pause = self._backoff[0]
            except Exception as exc:  # CaptureError, or any library error: reopen
                if self._stop.is_set():
                    break
                failed = True
                message = str(exc) if isinstance(exc, CaptureError) else (
                    f"{self.describe} failed ({type(exc).__name__})"
                )
                if not isinstance(exc, CaptureError):
                    log.exception("%s: unexpected error in the capture thread", self.describe)
                with self._lock:
                    self._error = message
                log.warning("%s unavailable: %s; retrying in %.1f s", self.describe, message, pause)
            finally:
                try:
                    self._close()
                except Exception:
                    log.exception("%s did not close cleanly", self.describe)
            self._stop.wait(pause)
            pause = min(self._backoff[1], pause * 2)

    def _publish(self, image: Image8) -> None:
        with self._lock:
            self._index += 1
            self._frame = Frame(image=image, taken_at=time.monotonic(), index=self._index)
            self._error = None


class V4l2Source(ThreadedSource):
    """A USB or CSI camera through OpenCV's V4L2 backend."""

    def __init__(self, device: int, settings: CameraSettings) -> None:
        """Open /dev/video<device> at the configured resolution, fps and focus mode."""
        super().__init__(stale_after_s=settings.stale_after_s)
        self.device = device
        self.settings = settings
        self.describe = f"camera /dev/video{device}"
        self._capture: cv2.VideoCapture | None = None

    def _open(self) -> None:
        import cv2
        capture = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise CaptureError(f"{self.describe} is unplugged or in use by another program")
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.settings.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.settings.height)
        capture.set(cv2.CAP_PROP_FPS, self.settings.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue
        capture.set(cv2.CAP_PROP_AUTOFOCUS, 1 if self.settings.autofocus else 0)
        self._capture = capture

    def _read(self) -> Image8:
        import numpy as np
        capture = self._capture
        if capture is None:
            raise CaptureError(f"{self.describe} is closed")
        ok, image = capture.read()
        if not ok or image is None:
            raise CaptureError(f"{self.describe} stopped sending frames (unplugged?)")
        return np.asarray(image, dtype=np.uint8)

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class PacedSource(ThreadedSource):
    """A source that has frames at hand and hands them out at a set rate."""

    def __init__(self, fps: float) -> None:
        """Emit ``fps`` frames per second."""
        super().__init__()
        self.period = 1.0 / max(0.1, fps)
        self._next_at = 0.0

    def _pace(self) -> None:
        now = time.monotonic()
        if self._next_at > now:
            self._stop.wait(self._next_at - now)
        self._next_at = max(now, self._next_at) + self.period


class FileSource(PacedSource):
    """A video file played in a loop at its own frame rate (or the configured one)."""

    def __init__(self, path: str, settings: CameraSettings) -> None:
        """Play ``path``; frames are paced at the file's fps, else settings.fps."""
        super().__init__(settings.fps)
        self._stale_after = settings.stale_after_s
        self.path = path
        self.describe = f"video file {path}"
        self._capture: cv2.VideoCapture | None = None

    def _open(self) -> None:
        import cv2
        if not Path(self.path).is_file():
            raise CaptureError(f"{self.describe} does not exist")
        capture = cv2.VideoCapture(self.path)
        if not capture.isOpened():
            capture.release()
            raise CaptureError(f"{self.describe} cannot be decoded")
        try:  # the container's frame size, before any frame is decoded
            check_size(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                       int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), self.describe)
        except ImageRefused as exc:
            capture.release()
            raise CaptureError(exc.detail) from None
        fps = capture.get(cv2.CAP_PROP_FPS)
        if fps and 0 < fps <= 240:
            self.period = 1.0 / fps
        self._capture = capture

    def _read(self) -> Image8:
        import cv2
        import numpy as np
        capture = self._capture
        if capture is None:
            raise CaptureError(f"{self.describe} is closed")
        ok, image = capture.read()
        if not ok:  # the end: start again
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = capture.read()
            if not ok:
                raise CaptureError(f"{self.describe} has no readable frame")
        self._pace()
        return np.asarray(image, dtype=np.uint8)

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class FolderSource(PacedSource):
    """The images of a folder, in name order, looping, at a set frame rate."""

    def __init__(self, folder: str, settings: CameraSettings, fps: float | None = None) -> None:
        """Show each image of ``folder`` in turn (``builtin``: the bundled samples)."""
        super().__init__(fps if fps is not None else settings.fps)
        self._stale_after = settings.stale_after_s
        self.folder = BUILTIN_SAMPLES if folder == "builtin" else Path(folder)
        self.describe = f"image folder {self.folder}"
        self._images: list[Image8] = []
        self._position = 0

    def _open(self) -> None:
        if not self.folder.is_dir():
            raise CaptureError(f"{self.describe} does not exist")
        paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self._images = []
        for path in paths:
            try:
                self._images.append(read_image_file(path))
            except ImageRefused as exc:
                self.bad_frames += 1
                log.warning("%s: skipped %s", self.describe, exc.detail)
        if not self._images:
            raise CaptureError(f"{self.describe} holds no readable image")

    def _read(self) -> Image8:
        if not self._images:
            raise CaptureError(f"{self.describe} is closed")
        image = self._images[self._position % len(self._images)]
        self._position += 1
        self._pace()
        return image

    def _close(self) -> None:
        self._images = []


class MjpegSource(ThreadedSource):
    """A multipart/x-mixed-replace JPEG stream over HTTP (IP cameras, the test server)."""

    def __init__(self, url: str, timeout_s: float = 2.0, stale_after_s: float = 3.0) -> None:
        """Read ``url``; a read silent for ``timeout_s`` fails and the stream is reopened."""
        super().__init__(stale_after_s=stale_after_s)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(f"not an http:// MJPEG URL: {url!r}", path="camera.source")
        self.url = url
        self._parts = parts
        self.timeout = timeout_s
        self.describe = f"MJPEG stream {url}"
        self._conn: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self._boundary = b""

    def _open(self) -> None:
        conn = http.client.HTTPConnection(
            self._parts.hostname or "", self._parts.port or 80, timeout=self.timeout
        )
        path = self._parts.path or "/"
        if self._parts.query:
            path += "?" + self._parts.query
        try:
            conn.request("GET", path)
            response = conn.getresponse()
        except OSError as exc:
            conn.close()
            raise CaptureError(f"{self.describe} cannot be reached ({exc})") from exc
        content_type = response.getheader("Content-Type", "")
        if response.status != 200 or "boundary=" not in content_type:
            conn.close()
            raise CaptureError(
                f"{self.describe} answered {response.status} {content_type!r}, not MJPEG"
            )
        boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip().strip('"')
        self._boundary = b"--" + boundary.removeprefix("--").encode()
        self._conn, self._response = conn, response

    def _read(self) -> Image8:
        response = self._response
        if response is None:
            raise CaptureError(f"{self.describe} is closed")
        try:
            line = response.readline()
            while line and line.strip() != self._boundary:
                line = response.readline()
            if not line:
                raise CaptureError(f"{self.describe} ended")
            length = None
            while True:
                header = response.readline()
                if not header:
                    raise CaptureError(f"{self.describe} ended")
                if header in (b"\r\n", b"\n"):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                raise CaptureError(f"{self.describe} sent a part without Content-Length")
            data = response.read(length)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise CaptureError(f"{self.describe} failed ({exc})") from exc
        if len(data) != length:
            raise CaptureError(f"{self.describe} ended in the middle of a frame")
        try:
            return decode_image(data, f"a frame of {self.describe}")
        except ImageRefused as exc:
            raise BadFrame(exc.detail) from None

    def _close(self) -> None:
        conn, self._conn, self._response = self._conn, None, None
        if conn is not None:
            conn.close()

    def _interrupt(self) -> None:
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)
            except OSError:
                pass


def open_source(spec: str, settings: CameraSettings) -> FrameSource:
    """The frame source a spec names: v4l2:N, file:PATH, folder:DIR|builtin, mjpeg:URL."""
    kind, sep, target = spec.partition(":")
    if not sep or not target:
        raise ConfigError(
            f"camera source {spec!r} must look like kind:target",
            path="camera.source",
            hint="v4l2:0, file:PATH, folder:DIR, mjpeg:URL",
        )
    if kind == "v4l2":
        if not target.isdigit():
            raise ConfigError(f"v4l2 needs a device number, not {target!r}", path="camera.source")
        return V4l2Source(int(target), settings)
    if kind == "file":
        return FileSource(target, settings)
    if kind == "folder":
        return FolderSource(target, settings)
    if kind == "mjpeg":
        return MjpegSource(target, stale_after_s=settings.stale_after_s)
    raise ConfigError(
        f"unknown camera source kind {kind!r}",
        path="camera.source",
        hint="v4l2, file, folder or mjpeg",
    )
