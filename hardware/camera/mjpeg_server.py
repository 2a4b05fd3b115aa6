"""A small MJPEG-over-HTTP server on loopback: a "live camera" for tests and demos.

It serves ``/stream`` (multipart/x-mixed-replace JPEG frames at a set rate) and
``/frame.jpg`` (one frame). Frames come from a callable (frame number -> BGR image),
so a test can animate documents, or from a list of images shown in a loop. Stopping it
ends every open stream, which is what an unplugged IP camera looks like to a client.

Run ``python -m hardware.camera.mjpeg_server [--port N] [FOLDER]`` to stream a folder
(default: the bundled sample documents).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
from numpy.typing import NDArray

log = logging.getLogger(__name__)

Image8 = NDArray[Any]  # an OpenCV image (uint8, grey or BGR)
BOUNDARY = "kioskframe"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: MjpegServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        log.debug("mjpeg %s", format % args)

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.startswith("/frame.jpg"):
            data = owner.jpeg(owner.next_number())
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if not self.path.startswith("/stream"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        next_at = time.monotonic()
        try:
            while not owner.stopping.is_set():
                data = owner.jpeg(owner.next_number())
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                    + b"\r\n"
                )
                self.wfile.flush()
                next_at += owner.period
                owner.stopping.wait(max(0.0, next_at - time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            return


class MjpegServer:
    """Serve frames as MJPEG on 127.0.0.1; ``url`` is the stream's address."""

    def __init__(
        self,
        frames: Callable[[int], Image8] | Sequence[Image8],
        fps: float = 15.0,
        port: int = 0,
        host: str = "127.0.0.1",
        quality: int = 85,
    ) -> None:
        """``frames``: a function of the frame number, or images shown in a loop."""
        if callable(frames):
            self._frames = frames
        else:
            images = list(frames)
            if not images:
                raise ValueError("an MJPEG server needs at least one frame")
            self._frames = lambda n: images[n % len(images)]
        self.period = 1.0 / max(0.1, fps)
        self.host = host
        self.port = port
        self.quality = quality
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._count = 0
        self._count_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The stream URL (valid once started)."""
        return f"http://{self.host}:{self.port}/stream"

    def next_number(self) -> int:
        """The next frame number (shared by every client)."""
        with self._count_lock:
            self._count += 1
            return self._count

    def jpeg(self, number: int) -> bytes:
        """Frame ``number`` encoded as JPEG."""
        ok, data = cv2.imencode(
            ".jpg", self._frames(number), [cv2.IMWRITE_JPEG_QUALITY, self.quality]
        )
        if not ok:
            raise ValueError("frame could not be encoded as JPEG")
        return bytes(data)

    def start(self) -> MjpegServer:
        """Listen and serve on a thread; the same port again after a stop."""
        self.stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="mjpeg-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """End every stream and stop listening."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _folder_images(folder: Path) -> list[Image8]:
    from hardware.camera.images import read_image_file
    from kiosk.errors import ImageRefused

    images = []
    for path in sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        try:
            images.append(read_image_file(path))
        except ImageRefused as exc:
            log.warning("skipped %s", exc.detail)
    return images


def main(argv: Sequence[str] | None = None) -> int:
    """Stream a folder of images on loopback until interrupted."""
    from hardware.camera.sources import BUILTIN_SAMPLES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(BUILTIN_SAMPLES))
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--fps", type=float, default=10.0)
    args = parser.parse_args(argv)
    images = _folder_images(Path(args.folder))
    if not images:
        print(f"no images in {args.folder}")
        return 2
    server = MjpegServer(images, fps=args.fps, port=args.port).start()
    print(f"streaming {len(images)} image(s) at {server.url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
