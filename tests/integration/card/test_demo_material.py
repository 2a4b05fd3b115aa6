"""Demo material made once and kept: CA, cast keys and fresh SoftHSM2 tokens reused, not shared."""

from __future__ import annotations

import dataclasses
import os
from datetime import date, timedelta
from pathlib import Path

import pytest

import hardware.sim.softhsm as softhsm_module
from hardware.sim import build_demo_hardware
from hardware.sim.democa import DemoCA, load_pair
from kiosk.demo_cast import DEMO_ACTIVE_PIN, demo_holder
from kiosk.settings import HardwareSettings, Settings
from tests.conftest import require_tool

TODAY = date.today()
EVA = demo_holder("eva", TODAY)
NEW_PIN = "482915"

pytestmark = pytest.mark.softhsm


def softhsm_settings() -> Settings:
    return dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), token="softhsm")
    )


def eva_signs(run: Path, material: Path, settings: Settings) -> bytes:
    """A demo run's hardware from ``material``: Eva's card signs with the cast's PIN."""
    hardware = build_demo_hardware(run, TODAY, settings, material)
    try:
        hardware.deck.insert(EVA.card_number)
        return hardware.tokens.open().sign_receipt(DEMO_ACTIVE_PIN, b"receipt")
    finally:
        hardware.close()


def test_a_second_run_copies_the_kept_tokens_and_makes_no_key_nor_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("softhsm2-util", "SoftHSM2")
    material = tmp_path / "material"
    first = build_demo_hardware(tmp_path / "run1", TODAY, softhsm_settings(), material)
    first.deck.insert(EVA.card_number)
    first.tokens.open().change_pin(DEMO_ACTIVE_PIN, NEW_PIN)  # a visit changes the card
    first.close()
    root_before = (material / "democa" / "root.pem").read_bytes()

    def no_new_material(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a warm run made new keys or tokens")

    def no_pin_set(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a warm run set a PIN the copied tokens already hold")

    monkeypatch.setattr(softhsm_module, "init_token", no_new_material)
    monkeypatch.setattr(softhsm_module, "reset_user_pin", no_pin_set)
    monkeypatch.setattr(DemoCA, "create", no_new_material)
    monkeypatch.setattr(DemoCA, "issue_person", no_new_material)
    # the cast's PIN, not the one the first run's visit chose: runs share no card state
    assert len(eva_signs(tmp_path / "run2", material, softhsm_settings())) == 256
    assert (tmp_path / "run2" / "democa" / "root.pem").read_bytes() == root_before


def test_a_ca_about_to_expire_is_made_again_with_new_card_certificates(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), token="memory")
    )
    material = tmp_path / "material"
    build_demo_hardware(tmp_path / "run1", TODAY, settings, material).close()
    old_root = (material / "democa" / "root.pem").read_bytes()
    card = material / "democa" / "cards" / EVA.card_number
    old_auth = (card / "auth.pem").read_bytes()

    later = TODAY + timedelta(days=365 * 10)  # the issuing CA (10 years) is stale by then
    build_demo_hardware(tmp_path / "run2", later, settings, material).close()
    assert (material / "democa" / "root.pem").read_bytes() != old_root
    assert (card / "auth.pem").read_bytes() != old_auth
    issued = load_pair(card / "auth-key.pem", card / "auth.pem").cert
    issuing = load_pair(
        material / "democa" / "issuing-key.pem", material / "democa" / "issuing.pem"
    ).cert
    assert issued.issuer == issuing.subject
    issued.verify_directly_issued_by(issuing)


def test_a_broken_cache_is_made_again(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), token="memory")
    )
    material = tmp_path / "material"
    material.mkdir()
    (material / "democa").write_text("not a directory")
    build_demo_hardware(tmp_path / "run", TODAY, settings, material).close()
    assert (tmp_path / "run" / "democa" / "root.pem").exists()


@pytest.mark.parametrize("damaged", ["root-key.pem", "issuing.pem", "cards/EVA/auth.pem"])
def test_a_cache_with_a_file_cut_short_is_made_again(tmp_path: Path, damaged: str) -> None:
    """A key or certificate cut short in the cache (a crash before the copy reached the
    disk) costs one run the time to make the material again, never every run a traceback."""
    settings = dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), token="memory")
    )
    material = tmp_path / "material"
    build_demo_hardware(tmp_path / "run1", TODAY, settings, material).close()
    cut = material / "democa" / damaged.replace("EVA", EVA.card_number)
    cut.write_bytes(cut.read_bytes()[:40])
    assert eva_signs(tmp_path / "run2", material, settings)
    kept = (material / "democa" / "root.pem").read_bytes()
    assert kept == (tmp_path / "run2" / "democa" / "root.pem").read_bytes()
    assert len(cut.read_bytes()) > 40  # the cache holds the material made again
    build_demo_hardware(tmp_path / "run3", TODAY, settings, material).close()
    assert (tmp_path / "run3" / "democa" / "root.pem").read_bytes() == kept


def test_a_cache_with_a_token_file_cut_short_is_made_again(tmp_path: Path) -> None:
    """A SoftHSM2 token file cut short in the cache stopped every later demo start with
    'list tokens: GeneralError' until the cache was deleted: now one run makes the tokens
    again and keeps them."""
    require_tool("softhsm2-util", "SoftHSM2")
    material = tmp_path / "material"
    build_demo_hardware(tmp_path / "run1", TODAY, softhsm_settings(), material).close()
    cut = min((material / "softhsm").rglob("token.object"))
    cut.write_bytes(cut.read_bytes()[:10])
    assert len(eva_signs(tmp_path / "run2", material, softhsm_settings())) == 256
    kept = sorted((material / "softhsm").rglob("token.object"))
    assert kept and all(len(p.read_bytes()) > 10 for p in kept)  # the cache made again
    assert len(eva_signs(tmp_path / "run3", material, softhsm_settings())) == 256


def test_runs_starting_together_make_the_material_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs on an empty cache at the same moment: one makes the CA and the cast's keys,
    the other waits and copies them (the tour's walks, a test run's first workers)."""
    import threading

    settings = dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), token="memory")
    )
    material = tmp_path / "material"
    made: list[str] = []
    create = DemoCA.create.__func__  # type: ignore[attr-defined]

    def counted(cls: type[DemoCA], *args: object, **kwargs: object) -> DemoCA:
        made.append(threading.current_thread().name)
        return create(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(DemoCA, "create", classmethod(counted))
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(name: str) -> None:
        try:
            start.wait(timeout=30)
            build_demo_hardware(tmp_path / name, TODAY, settings, material).close()
        except BaseException as exc:  # reported below
            failures.append(exc)

    runs = [threading.Thread(target=run, args=(f"run{n}",), name=f"run{n}") for n in (1, 2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(timeout=120)
    assert failures == []
    assert len(made) == 1, made
    roots = {(tmp_path / f"run{n}" / "democa" / "root.pem").read_bytes() for n in (1, 2)}
    assert roots == {(material / "democa" / "root.pem").read_bytes()}


def test_a_cache_on_a_filesystem_without_locks_is_made_and_used_without_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """flock failing (ENOLCK: NFS without its lock daemon; EOPNOTSUPP elsewhere) ended the
    demo start with an OSError. Now each run goes on without its turn, with a warning.

    Only the flock call is simulated: no filesystem without locks can be mounted here, and
    everything else (the cache, the copies, the CA and the signature) is real."""
    import errno
    import fcntl
    import types

    import hardware.sim.material as material_module

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(material_module, "fcntl",
                        types.SimpleNamespace(flock=no_locks, LOCK_EX=fcntl.LOCK_EX))
    settings = dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), token="memory")
    )
    material = tmp_path / "material"
    with caplog.at_level("WARNING", logger="hardware.sim.material"):
        assert eva_signs(tmp_path / "run1", material, settings)  # made and kept
        assert eva_signs(tmp_path / "run2", material, settings)  # copied
    assert [r.getMessage() for r in caplog.records].count(
        f"demo material {material} not locked (No locks available): runs starting together "
        "may each make it") == 2
    roots = {(tmp_path / run / "democa" / "root.pem").read_bytes() for run in ("run1", "run2")}
    assert roots == {(material / "democa" / "root.pem").read_bytes()}
