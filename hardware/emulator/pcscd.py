"""Run a private pcscd with only the vpcd reader (tests, benchmarks, doctor checks).

Only one pcscd can run on a machine (it owns /run/pcscd). ``PcscdProcess`` waits for a
pcscd it did not start to go away (another test run may hold it) and refuses to start
beside one. It kills only a stale pcscd of its own: one recorded in its pid file whose
owning process has died; never any other process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from kiosk.errors import ReaderUnavailable

VPCD_DRIVER_CANDIDATES = (
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
)
PID_FILE = Path(tempfile.gettempdir()) / "siths-kiosk-pcscd.pid"
READER_PREFIX = "Kiosk vpcd"


def vpcd_driver() -> str | None:
    """Path of the vsmartcard vpcd driver, if installed."""
    return next((p for p in VPCD_DRIVER_CANDIDATES if os.path.exists(p)), None)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def running_pcscd_pids() -> list[int]:
    """Process ids of every live pcscd (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "pcscd" and _alive(int(entry.name)):
                    pids.append(int(entry.name))
    return pids


def reader_config(port: int, driver: str) -> str:
    """A reader.conf.d entry for one vpcd reader listening on ``port``."""
    return (
        f'FRIENDLYNAME "{READER_PREFIX}"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {driver}\n"
        f"CHANNELID    0x{port:04X}\n"
    )


class PcscdProcess:
    """A pcscd in the foreground with a config dir holding only our vpcd reader."""

    def __init__(self, port: int = 35963, work_dir: Path | None = None) -> None:
        self.port = port
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="kiosk-pcscd-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """Where pcscd's output goes."""
        return self.work_dir / "pcscd.log"

    def start(self, timeout: float = 15.0, wait_for_other_s: float = 180.0) -> None:
        """Start pcscd and wait until it lists the vpcd reader."""
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        driver = vpcd_driver()
        if not os.path.exists(pcscd) or driver is None:
            raise ReaderUnavailable("pcscd or the vsmartcard vpcd driver is not installed")
        _kill_stale_own_pcscd()
        deadline = time.monotonic() + wait_for_other_s
        while (others := running_pcscd_pids()) and time.monotonic() < deadline:
            time.sleep(0.5)
        if others:
            raise ReaderUnavailable(
                f"another pcscd is running (pid {others[0]}); stop it before using the emulator",
                pid=others[0],
            )
        conf_dir = self.work_dir / "reader.conf.d"
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "vpcd").write_text(reader_config(self.port, driver))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 -- fixed argv, no shell
                [pcscd, "--foreground", "--config", str(conf_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        PID_FILE.write_text(f"{self.process.pid} {os.getpid()}")
        self._wait_for_reader(timeout)

    def _wait_for_reader(self, timeout: float) -> None:
        from smartcard import scard

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ReaderUnavailable(f"pcscd exited early; see {self.log_path}")
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult == scard.SCARD_S_SUCCESS:
                hresult, names = scard.SCardListReaders(context, [])
                scard.SCardReleaseContext(context)
                if hresult == scard.SCARD_S_SUCCESS and any(READER_PREFIX in n for n in names):
                    return
            time.sleep(0.05)
        self.stop()
        raise ReaderUnavailable(f"pcscd did not show the vpcd reader; see {self.log_path}")

    def stop(self) -> None:
        """Stop pcscd (SIGTERM, then SIGKILL) and forget its pid file."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            PID_FILE.unlink()

    def restart(self) -> None:
        """Stop and start again (the reader disappears and comes back)."""
        self.stop()
        self.start()

    def __enter__(self) -> PcscdProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _kill_stale_own_pcscd() -> None:
    """Kill the pcscd an earlier run of ours started and never stopped (pid file)."""
    try:
        pid, owner = (int(n) for n in PID_FILE.read_text().split())
    except (FileNotFoundError, ValueError):
        return
    if _alive(owner) and owner != os.getpid():
        return  # another live run owns it: leave it alone
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/comm").read_text().strip() == "pcscd":
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
    PID_FILE.unlink(missing_ok=True)
