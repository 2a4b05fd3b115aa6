"""Shared test helpers: required system tools, and CI's rule that nothing skips silently."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"
MADE_MATERIAL = pytest.StashKey[str]()


def require_tool(name: str, why: str = "") -> str:
    """The path of a system tool; under CI=true a missing one fails the test, else skips."""
    path = shutil.which(name) or (name if os.path.exists(name) else None)
    if path is None:
        message = f"system tool {name!r} is missing" + (f" ({why})" if why else "")
        if IN_CI:
            pytest.fail(message + "; CI must install it (see Makefile apt packages)")
        pytest.skip(message)
    return path


def another_address() -> str:
    """An address other than the portal's 127.0.0.1 that this machine answers on, for tests
    that need a plain-http server a kiosk must not be led to (Linux routes all of 127/8 to
    the loopback device, so this needs no network)."""
    return "127.0.0.2"



@contextmanager
def redirecting_tls_server(
    tmp_path: Path, status: int, location: str, plain: ThreadingHTTPServer
) -> Iterator[tuple[str, str]]:
    """An HTTPS server on 127.0.0.1 answering every GET and POST with ``status`` to
    ``location`` + the request's path, run beside the ``plain`` server it points to; yields
    its URL and the CA file that trusts it. Both are shut down at the end."""
    from portal.devpki import generate_dev_pki

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Location", location + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    pki = generate_dev_pki(tmp_path / "tls", hosts=("127.0.0.1",))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for running in (server, plain):
        threading.Thread(target=running.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", str(pki.ca_cert)
    finally:
        for running in (server, plain):
            running.shutdown()
            running.server_close()

def feed_fifo(fifo: Path) -> None:
    """End a reader's wait on ``fifo``: open and close its writing end (it reads EOF)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # no reader waiting
        pass


def plant_hostile(target: Path, kind: str, content: bytes = b"") -> None:
    """Put at ``target`` what a reader must refuse at once: a FIFO (``fifo``, it waits
    for a writer for good), a link to /dev/zero (``endless``), or else ``content``."""
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "endless":
        target.symlink_to("/dev/zero")
    else:
        target.write_bytes(content)


def python_within(code: str, *args: str, hung: str,
                  timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -c code args`` in a child process; a child still running after
    ``timeout_s`` fails the test with ``hung`` instead of hanging the run."""
    try:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(hung)


def within(timeout_s: float, call: Callable[[], T],
           unblock: Callable[[], None] | None = None) -> T:
    """``call()``'s result (or its exception, raised here), in a daemon thread: a call that
    has not returned in ``timeout_s`` fails the test instead of hanging the run. ``unblock``
    is then called until the thread ends (10 s at most), so that the servers it was
    talking to can shut down (they wait for their connections)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the test
            outcome.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        deadline = time.monotonic() + 10
        while unblock is not None and thread.is_alive() and time.monotonic() < deadline:
            unblock()
            thread.join(0.1)
        pytest.fail(f"the call did not return in {timeout_s} s")
    done, value = outcome[0]
    if not done:
        raise value
    return value  # type: ignore[no-any-return]


def pytest_configure(config: pytest.Config) -> None:
    """Demo material (CA, cast keys, fresh SoftHSM2 tokens) made once per run, not per test.

    In a directory of this run's own, so no test depends on a developer's ~/.cache.
    """
    if "KIOSK_DEMO_MATERIAL_DIR" not in os.environ:
        made = tempfile.mkdtemp(prefix="kiosk-demo-material-")
        os.environ["KIOSK_DEMO_MATERIAL_DIR"] = made
        config.stash[MADE_MATERIAL] = made
    config.pluginmanager.register(PcscdGroup(), "pcscd-group")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's demo material goes with it (xdist workers inherit the controller's)."""
    made = config.stash.get(MADE_MATERIAL, None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop("KIOSK_DEMO_MATERIAL_DIR", None)


# The longest test (the tour: its six walks, ~100 s) and then the other slow ones run first:
# xdist hands out work in collection order, and the tour collected late ran on alone for
# minutes after the other worker had finished everything else.
LONGEST_FIRST = ("tests/ui/test_tour_and_demo.py::test_tour_saves",)


def needs_pcscd(item: pytest.Item) -> bool:
    """Whether a test starts the machine-wide pcscd (its fixture, or the `pcsc` marker)."""
    fixtures = getattr(item, "fixturenames", ())
    return "pcscd" in fixtures or item.get_closest_marker("pcsc") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pcscd is machine-wide: under xdist, every test that starts it runs on one worker.
    The longest tests are collected first (see LONGEST_FIRST)."""
    for item in items:
        if needs_pcscd(item):
            item.add_marker(pytest.mark.xdist_group("pcscd"))

    def weight(item: pytest.Item) -> int:
        if item.nodeid.startswith(LONGEST_FIRST):
            return 0
        return 1 if "slow" in item.keywords else 2

    items.sort(key=weight)  # stable: the order within each weight is kept


class PcscdGroup:
    """Puts the pcscd tests into one xdist group on pytest 9.2, and fails any left out.

    `--dist loadgroup` groups by a suffix that xdist's worker adds to each grouped test's
    node id (`...@pcscd`). pytest 9.2 keeps node ids in a structured field, so xdist 3.8's
    suffix no longer takes (pytest-xdist issue 1386): the group was never formed, pcscd
    tests ran on both workers, and one worker's pcscd fixture waited 47-67 s for the other
    worker's pcscd to stop. Where xdist's suffix is missing, this adds it as xdist's fix
    does; a pcscd test still outside the group fails before it starts a second pcscd.
    """

    def __init__(self) -> None:
        self.strays: set[str] = set()

    @pytest.hookimpl(trylast=True)  # after xdist's worker has named the groups
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not getattr(config.option, "loadgroup", False):
            return  # not a --dist loadgroup worker: nothing is shared
        for item in items:
            if needs_pcscd(item) and not item.nodeid.endswith("@pcscd"):
                grouped = f"{item.nodeid}@pcscd"
                if hasattr(item, "_id"):  # pytest >= 9.2
                    from _pytest.nodeid import NodeId

                    item._id = NodeId.parse(grouped)
                if not item.nodeid.endswith("@pcscd"):
                    self.strays.add(item.nodeid)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.nodeid in self.strays:  # before its fixtures start a second pcscd
            pytest.fail("this pcscd test is outside the xdist group 'pcscd': another "
                        "worker's tests may hold pcscd", pytrace=False)
