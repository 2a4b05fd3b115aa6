"""Key and export files an operator names on the command line (`outbox verify FILE
[--key]`, `audit verify --key`, `config sign --key/--trust-key`) are read only when they
are regular files of a sane size: a FIFO hung the command for good, /dev/zero was read until
memory ran out, and a binary `audit verify --key` ended in a UnicodeDecodeError traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.fleet.keys import generate_key_pair
from tests.conftest import plant_hostile

LIMITED = (  # under a memory limit the old /dev/zero read ends in MemoryError, not the machine
    "import resource, sys; from composition.cli import main; "
    "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    "sys.exit(main(sys.argv[1:]))"
)


def kioskctl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_CONFIG_DIR": str(tmp_path / "etc"),
           "KIOSK_STATE_DIR": str(tmp_path / "state"), "KIOSKCTL_LANG": "en"}
    return subprocess.run([sys.executable, "-c", LIMITED, *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def named(tmp_path: Path) -> dict[str, Path]:
    """An export, a state directory with its audit log, a settings file and a signing key."""
    state = tmp_path / "state"
    state.mkdir()
    export = tmp_path / "export.json"
    written = kioskctl(tmp_path, "outbox", "export", "-o", str(export), "--state-dir",
                       str(state), "--lang", "en")
    assert written.returncode == 0, written.stderr
    settings = tmp_path / "bundle.toml"
    settings.write_text('[ui]\nlanguage = "en"\n')
    key = generate_key_pair(tmp_path / "operator-keys").private_path
    return {"state": state, "export": export, "settings": settings, "key": key}


@pytest.mark.parametrize("kind", ["fifo", "endless", "binary"])
def test_a_named_key_or_export_that_is_no_file_or_endless_is_refused_at_once(
    tmp_path: Path, named: dict[str, Path], kind: str
) -> None:
    target = tmp_path / "hostile"
    plant_hostile(target, kind, bytes(range(256)) * 4)
    out = str(tmp_path / "out.bundle")
    commands = {
        "outbox verify FILE": ["outbox", "verify", str(target), "--lang", "en"],
        "outbox verify --key": ["outbox", "verify", str(named["export"]), "--key", str(target),
                                "--lang", "en"],
        "audit verify --key": ["audit", "verify", "--offline", "--key", str(target),
                               "--state-dir", str(named["state"]), "--lang", "en"],
        "config sign --key": ["config", "sign", str(named["settings"]), "-o", out, "--key",
                              str(target), "--version", "1"],
        "config sign --trust-key": ["config", "sign", str(named["settings"]), "-o", out,
                                    "--key", str(named["key"]), "--version", "1",
                                    "--trust-key", str(target)],
    }
    for name, command in commands.items():
        try:
            result = kioskctl(tmp_path, *command)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name}: hung on a {kind}")
        assert "Traceback" not in result.stderr, (name, result.stderr[-2000:])
        assert result.returncode != 0, name
        if kind != "binary" or name != "outbox verify FILE":  # that one: "not a kiosk export"
            assert str(target) in result.stdout + result.stderr, (name, result.stdout,
                                                                  result.stderr)
    assert not Path(out).exists()


def test_an_output_name_taken_by_no_regular_file_is_refused_and_left_alone(
    tmp_path: Path, named: dict[str, Path]
) -> None:
    """`outbox export -o` renamed its file over whatever held the name: as root
    `-o /dev/full` (or `-o /dev/stdout`, a link) left a plain file in /dev, a FIFO and a
    link were replaced; `config sign -o` wrote through a link and hung on a FIFO. A name
    taken by anything but a regular file is now refused and left as it was."""
    import stat

    fifo = tmp_path / "out-fifo"
    os.mkfifo(fifo)
    kept = tmp_path / "kept.txt"
    kept.write_text("the operator's own file\n")
    link = tmp_path / "out-link"
    link.symlink_to(kept)
    folder = tmp_path / "out-folder"
    folder.mkdir()
    taken = [fifo, link, folder]
    if os.geteuid() == 0:  # a device node of our own, never the machine's /dev
        device = tmp_path / "out-null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        taken.append(device)
    kinds = {path: stat.S_IFMT(path.lstat().st_mode) for path in taken}
    for path in taken:
        for command in (
            ["outbox", "export", "-o", str(path), "--state-dir", str(named["state"]),
             "--lang", "en"],
            ["config", "sign", str(named["settings"]), "-o", str(path), "--key",
             str(named["key"]), "--version", "1"],
        ):
            try:
                result = kioskctl(tmp_path, *command)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{command[:2]} hung on {path.name}")
            assert "Traceback" not in result.stderr, result.stderr[-2000:]
            assert result.returncode == 1, (command, result.stdout, result.stderr)
            assert f"The file {path} could not be written" in result.stderr, result.stderr
            assert stat.S_IFMT(path.lstat().st_mode) == kinds[path], path  # left as it was
    assert kept.read_text() == "the operator's own file\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
    written = tmp_path / "export.json"  # a new name, and a regular file, still work
    for _ in range(2):
        result = kioskctl(tmp_path, "outbox", "export", "-o", str(written), "--state-dir",
                          str(named["state"]), "--lang", "en")
        assert result.returncode == 0 and written.read_text().startswith("{"), result.stderr


def test_every_command_that_reaches_the_portal_answers_a_fifo_tls_file_in_words(
    tmp_path: Path, named: dict[str, Path]
) -> None:
    """portal.ca_file naming a FIFO is refused when the portal client is built; `audit
    verify` built its client outside its error handling and ended in a traceback."""
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    extra = tmp_path / "extra.toml"
    extra.write_text(f'[portal]\nurl = "https://127.0.0.1:9"\nca_file = "{fifo}"\n'
                     '[hardware]\nreader = "memory"\ntoken = "memory"\n')
    state = str(named["state"])
    for command in (["outbox", "flush", "--state-dir", state, "--lang", "en"],
                    ["audit", "verify", "--state-dir", state, "--lang", "en"],
                    ["portal", "ping", "--lang", "en"],
                    ["doctor", "--demo"]):
        try:
            result = kioskctl(tmp_path, "--config", str(extra), *command)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command[:2]} hung on a FIFO portal.ca_file")
        assert "Traceback" not in result.stderr, (command, result.stderr[-2000:])
        assert "portal.ca_file" in result.stdout + result.stderr, (command, result.stdout)
