"""Decode an image only after its header says it is a sane size.

A compressed image can declare far more pixels than its bytes suggest (a 109 KB PNG that
declares 30000x30000 pixels took 5 GB to decode). Every image the kiosk decodes (image
files for ``kioskctl scan`` and the folder camera, MJPEG frames) goes through here: the
header is read first with Pillow (which parses headers without decoding pixels) and the
image is refused with ``ImageRefused`` when it declares more than ``MAX_IMAGE_PIXELS``
pixels, is not an image, is truncated, or cannot be read at all. Only then does OpenCV
decode it, and any OpenCV error is turned into ``ImageRefused`` as well.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.errors import ImageRefused

if TYPE_CHECKING:
    from numpy.typing import NDArray

MAX_IMAGE_PIXELS = 40_000_000  # a 8000x5000 scan; a camera frame is 1-8 MP
MAX_IMAGE_SIDE = 20_000
MAX_FILE_BYTES = 64 * 1024 * 1024


def header_size(data: bytes | Path, describe: str = "image") -> tuple[int, int]:
    """(width, height) the image declares, read from its header without decoding pixels."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, below, with our own limit
    try:
        source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
        with Image.open(source) as image:
            width, height = image.size
            kind = image.format or ""
    except UnidentifiedImageError:
        raise ImageRefused(f"{describe} is not an image", reason="not_image") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRefused(f"{describe} has a damaged header ({exc})",
                           reason="damaged") from None
    check_size(width, height, describe)
    if isinstance(data, bytes) and not _complete(data, kind):
        raise ImageRefused(f"{describe} is truncated", reason="damaged")
    return width, height


def _complete(data: bytes, kind: str) -> bool:
    """Whether the image's end marker is there (JPEG EOI, PNG IEND); other kinds: yes."""
    if kind == "JPEG":
        return b"\xff\xd9" in data[-4096:]
    if kind == "PNG":
        return b"IEND" in data[-4096:]
    return True


def check_size(width: int, height: int, describe: str = "image") -> None:
    """ImageRefused(reason="too_large") when the size is beyond the kiosk's limits."""
    if width <= 0 or height <= 0:
        raise ImageRefused(f"{describe} declares no pixels", reason="damaged")
    if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
        raise ImageRefused(
            f"{describe} declares {width}x{height} pixels, more than the kiosk decodes",
            reason="too_large", width=width, height=height, limit=MAX_IMAGE_PIXELS,
        )


def decode_image(data: bytes, describe: str = "image") -> NDArray[Any]:
    """A BGR image from encoded bytes (JPEG, PNG, BMP), size-checked before decoding."""
    import cv2
    import numpy as np

    if not data:
        raise ImageRefused(f"{describe} is empty", reason="empty")
    header_size(data, describe)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageRefused(f"{describe} could not be decoded ({exc})",
                           reason="damaged") from None
    if image is None:
        raise ImageRefused(f"{describe} could not be decoded", reason="damaged")
    return np.asarray(image, dtype=np.uint8)


def read_image_file(path: str | Path) -> NDArray[Any]:
    """A BGR image from a file; ImageRefused (with ``reason``) for anything unusable.

    Only a regular file is opened (a FIFO would block, a device such as /dev/zero never
    end or act on being opened), and opened without blocking, checked again once open.
    """
    target = Path(path)
    describe = f"file {target}"
    try:
        info = target.stat()  # through symbolic links; Path.exists() took a loop for missing
    except OSError as exc:
        raise _not_reached(target, describe, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageRefused(f"{describe} is a directory", reason="directory")
    if not stat.S_ISREG(info.st_mode):
        raise ImageRefused(f"{describe} is not a regular file", reason="not_file")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageRefused(f"{describe} is {info.st_size} bytes, too large",
                           reason="too_large", bytes=info.st_size)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced meanwhile
                raise ImageRefused(f"{describe} is not a regular file", reason="not_file")
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _not_reached(target, describe, exc) from None
    if len(data) > MAX_FILE_BYTES:  # grown meanwhile
        raise ImageRefused(f"{describe} is over {MAX_FILE_BYTES} bytes, too large",
                           reason="too_large", bytes=len(data))
    return decode_image(data, describe)


def _not_reached(target: Path, describe: str, exc: OSError) -> ImageRefused:
    """Why a file could not be looked at or opened, as ImageRefused with its ``reason``."""
    if exc.errno == errno.ELOOP:
        return ImageRefused(f"{describe} is a symbolic link loop (or a chain of too many links)",
                            reason="symlink_loop")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if target.is_symlink():
            return ImageRefused(f"{describe} is a symbolic link to {os.readlink(target)}, "
                                "which does not exist", reason="broken_link")
        return ImageRefused(f"{describe} does not exist", reason="missing")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ImageRefused(f"{describe} cannot be read (permission denied)",
                            reason="permission")
    return ImageRefused(f"{describe} cannot be read ({os.strerror(exc.errno or 0)})",
                        reason="unreadable")
