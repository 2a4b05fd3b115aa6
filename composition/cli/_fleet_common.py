"""Helpers shared by the fleet subcommands (config, keys, status) and outbox export."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from kiosk.config_files import discover_paths
from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES
from kiosk.paths import KioskPaths


def kiosk_paths() -> KioskPaths:
    """The kiosk's directories for this command."""
    return discover_paths()


def cli_language() -> str:
    """KIOSKCTL_LANG if it names a supported language, else Swedish."""
    lang = os.environ.get("KIOSKCTL_LANG", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def write_output_file(path: Path, data: bytes) -> None:
    """Write a file the operator named with -o: whole or not at all (a temporary file
    beside it, renamed over it). OSError (EINVAL) when the name is taken by anything but a
    regular file: renaming over a device, a FIFO or a symbolic link replaced it (as root,
    ``-o /dev/full`` or ``-o /dev/stdout`` left a plain file in /dev), and writing through
    a FIFO hung the command."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "the name is taken by something that is not a "
                          "regular file (a folder, device, FIFO or link)", str(path))
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # umask
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
