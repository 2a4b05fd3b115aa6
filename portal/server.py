"""Run the reference portal: `kiosk-portal` (or `kioskctl portal serve`), or in a thread.

Plain HTTP is allowed only on a loopback address; anywhere else the portal needs TLS
with client-certificate authentication of kiosks (--tls-dir).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import ssl
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from kiosk.demo_cast import DEMO_KIOSK_ID, DEMO_OFFICE
from kiosk.urls import is_loopback
from portal import db, kiosks, service
from portal.app import create_app
from portal.cli_args import DEFAULT_DB, DEFAULT_HOST, DEFAULT_PORT, add_arguments
from portal.clock import PortalClock
from portal.devpki import DEFAULT_HOSTS, DevPki, ensure_dev_pki
from portal.seed import seed_demo as seed_demo_cast

TEST_HOOKS_ENV = "KIOSK_PORTAL_TEST_HOOKS"
SWEEP_INTERVAL_S = 60.0

log = logging.getLogger("portal")


class PlainHttpRefused(ValueError):
    """Plain HTTP was asked for on an address other than loopback."""


class ClientCertProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol, handing the TLS client certificate to the application.

    uvicorn does not fill the ASGI TLS extension; this puts the peer's certificate into
    ``scope["extensions"]["tls"]["client_cert_chain"]`` (PEM, as the extension names it)
    for every request on the connection, so the portal knows which kiosk is calling.
    """

    app: Any

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return
        chain = [ssl.DER_cert_to_PEM_cert(der)]
        inner: Any = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                scope = {**scope, "extensions": {**(scope.get("extensions") or {}),
                                                 "tls": {"client_cert_chain": chain}}}
            await inner(scope, receive, send)

        self.app = app


def prepare_database(
    db_path: str | Path,
    clock: PortalClock,
    seed_demo: bool,
    demo_kiosk_cert: Path | None = None,
) -> None:
    """Create the schema, seed the demo cast if asked (with the demo kiosk enrolled at the
    demo office, its dev certificate too when given), and run one deadline sweep."""
    db.initialise(db_path)
    conn = db.connect(db_path)
    try:
        with db.transaction(conn):
            if seed_demo:
                seed_demo_cast(conn, clock.today())
                kiosks.ensure_kiosk(conn, DEMO_KIOSK_ID, DEMO_OFFICE, clock.now())
            service.sweep(conn, clock.now())
        if seed_demo and demo_kiosk_cert is not None and demo_kiosk_cert.is_file():
            kiosks.enrol(conn, demo_kiosk_cert.read_bytes(), DEMO_OFFICE, DEMO_KIOSK_ID)
    finally:
        conn.close()


class Sweeper:
    """A thread that blocks overdue cards every ``interval`` seconds."""

    def __init__(self, db_path: Path, clock: PortalClock, interval: float) -> None:
        self._db_path, self._clock, self._interval = db_path, clock, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-sweep", daemon=True)

    def start(self) -> None:
        """Start sweeping."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sweeping and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                conn = db.connect(self._db_path)
                try:
                    with db.transaction(conn):
                        blocked = service.sweep(conn, self._clock.now())
                finally:
                    conn.close()
                if blocked:
                    log.info("deadline sweep blocked %d card(s)", len(blocked))
            except Exception:
                log.exception("deadline sweep failed")


def uvicorn_config(
    app: object, host: str, port: int, tls: DevPki | None, log_level: str = "warning"
) -> uvicorn.Config:
    """The uvicorn configuration; with TLS, kiosks must present a certificate from the CA."""
    if tls is None and not is_loopback(host):
        raise PlainHttpRefused(
            f"plain HTTP is allowed only on loopback, not on {host}; give --tls-dir"
        )
    options: dict[str, object] = {}
    if tls is not None:
        options = {
            "http": ClientCertProtocol,
            "ssl_certfile": str(tls.server_cert),
            "ssl_keyfile": str(tls.server_key),
            "ssl_ca_certs": str(tls.ca_cert),
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        **options,  # type: ignore[arg-type]
    )


def _cert_hosts(host: str) -> tuple[str, ...]:
    """Names a generated dev server certificate must cover: loopback and ``host``."""
    if host in DEFAULT_HOSTS or host in ("0.0.0.0", "::"):  # noqa: S104 -- not binding
        return DEFAULT_HOSTS
    return (*DEFAULT_HOSTS, host)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only when it does,
    # and without it every keep-alive answer waits 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _url(host: str, port: int, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


@dataclass
class RunningPortal:
    """A portal serving in a background thread."""

    url: str
    host: str
    port: int
    db_path: Path
    clock: PortalClock
    tls: DevPki | None
    _server: uvicorn.Server
    _thread: threading.Thread
    _sweeper: Sweeper
    _socket: socket.socket
    receipt_trust: tuple[Path, ...] = ()
    stopped: bool = field(default=False)

    @property
    def app(self) -> Any:
        """The ASGI application served (the FastAPI app of ``create_app``)."""
        return self._server.config.app

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        if self.stopped:
            return
        self.stopped = True
        self._sweeper.stop()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> RunningPortal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    db_path: str | Path,
    host: str = DEFAULT_HOST,
    port: int = 0,
    tls_dir: str | Path | None = None,
    seed_demo: bool = False,
    today: date | None = None,
    test_hooks: bool = False,
    sweep_interval_s: float = SWEEP_INTERVAL_S,
    synchronous: str = "FULL",
    loopback_kiosk: str = DEMO_KIOSK_ID,
    receipt_trust: Sequence[str | Path] = (),
    ca_dir: str | Path | None = None,
) -> RunningPortal:
    """Start a portal in this process; port 0 picks a free port (see ``.url``).

    Without TLS every caller is taken to be ``loopback_kiosk`` (enrolled by ``seed_demo``);
    with TLS the caller is the kiosk its client certificate is enrolled to.
    """
    clock = PortalClock(today)
    path = Path(db_path)
    tls = ensure_dev_pki(tls_dir, _cert_hosts(host)) if tls_dir is not None else None
    app = create_app(path, clock, test_hooks=test_hooks, synchronous=synchronous,
                     loopback_kiosk=loopback_kiosk if tls is None else None,
                     receipt_trust=receipt_trust, ca_dir=ca_dir)
    config = uvicorn_config(app, host, port, tls)
    prepare_database(path, clock, seed_demo, tls.client_cert if tls is not None else None)
    server = uvicorn.Server(config)
    sock = _bind(host, port)
    bound_port = int(sock.getsockname()[1])
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="portal", daemon=True
    )
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError("the portal failed to start")
        thread.join(timeout=0.01)
    sweeper = Sweeper(path, clock, sweep_interval_s)
    sweeper.start()
    return RunningPortal(
        _url(host, bound_port, tls is not None), host, bound_port, path, clock, tls,
        server, thread, sweeper, sock, receipt_trust=tuple(Path(p) for p in receipt_trust),
    )


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db_path: str | Path = DEFAULT_DB,
    tls_dir: str | Path | None = None,
    seed_demo: bool = False,
    today: date | None = None,
    log_level: str = "info",
    synchronous: str = "FULL",
    receipt_trust: Sequence[str | Path] = (),
    ca_dir: str | Path | None = None,
) -> int:
    """Serve in the foreground until interrupted; the exit code for the command line."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    clock = PortalClock(today)
    test_hooks = os.environ.get(TEST_HOOKS_ENV) == "1"
    tls = ensure_dev_pki(tls_dir, _cert_hosts(host)) if tls_dir is not None else None
    try:
        config = uvicorn_config(
            create_app(db_path, clock, test_hooks=test_hooks, synchronous=synchronous,
                       loopback_kiosk=DEMO_KIOSK_ID if tls is None else None,
                       receipt_trust=receipt_trust, ca_dir=ca_dir),
            host, port, tls, log_level,
        )
    except PlainHttpRefused as exc:
        print(f"kiosk-portal: {exc}", file=sys.stderr)
        return 2
    prepare_database(db_path, clock, seed_demo, tls.client_cert if tls is not None else None)
    sweeper = Sweeper(Path(db_path), clock, SWEEP_INTERVAL_S)
    sweeper.start()
    print(f"kiosk-portal: serving {_url(host, port, tls is not None)}/api/v1 "
          f"(database {db_path}, synchronous={synchronous}"
          f"{', test hooks ON' if test_hooks else ''})", flush=True)
    if tls is not None:
        print(f"kiosk-portal: kiosks must present a client certificate from {tls.ca_cert}",
              flush=True)
    try:
        uvicorn.Server(config).run()
    finally:
        sweeper.stop()
    return 0


def build_parser(prog: str = "kiosk-portal") -> argparse.ArgumentParser:
    """The command-line options of the portal."""
    parser = argparse.ArgumentParser(prog=prog, description="The reference card-office portal.")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `kiosk-portal` command (`kiosk-portal kiosk ...` enrols and revokes kiosks)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["kiosk"]:
        return kiosks.main(arguments[1:])
    return serve_args(build_parser().parse_args(arguments))


def serve_args(args: argparse.Namespace) -> int:
    """Serve with the options portal.cli_args parsed (`kiosk-portal`, `kioskctl portal serve`)."""
    return serve(
        args.host, args.port, args.db, args.tls_dir, args.seed_demo, args.today, args.log_level,
        args.synchronous, args.receipt_trust, args.ca_dir,
    )


if __name__ == "__main__":
    sys.exit(main())
