"""`kioskctl demo visit`: the headless end-to-end activation (and PIN/PUK letter), with and
without the portal."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool

pytestmark = [pytest.mark.portal, pytest.mark.softhsm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


def demo_visit(tmp_path: Path, *extra: str, config_dir: str = "/nonexistent") -> dict[str, object]:
    require_tool("softhsm2-util", "the simulated card's token")
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--json", "--state-dir",
         str(tmp_path / "state"), *extra],
        env={**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_CONFIG_DIR": config_dir},
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_the_demo_visit_ends_with_the_card_active(tmp_path: Path) -> None:
    report = demo_visit(tmp_path)
    # anna's passport image through the scanner; the cast's facts if the OCR misreads it
    assert report["document_source"] in ("sample_scan", "demo_cast")
    assert report["final_view"] == "done"
    assert report["final_message"] == "visit.done.activation"
    assert report["queued"] is False
    assert report["final_status"] == "Aktiv"
    assert report["audit_ok"] is True
    effects = [s.get("effect") for s in report["steps"]]  # type: ignore[union-attr]
    for effect in ("identify_card", "fetch_record", "start_activation", "write_pin",
                   "sign_receipt", "record_result", "sync_result"):
        assert effect in effects


def test_a_kiosk_with_its_own_identity_runs_the_demo_as_the_demo_kiosk(tmp_path: Path) -> None:
    # an installed kiosk's site file names it; the demo portal knows only the demo kiosk
    site = tmp_path / "etc"
    site.mkdir()
    (site / "kiosk.toml").write_text('[kiosk]\nkiosk_id = "kiosk-7"\ncard_office = "north"\n')
    report = demo_visit(tmp_path, config_dir=str(site))
    assert (report["final_message"], report["final_status"]) == (
        "visit.done.activation", "Aktiv")


def test_portal_down_queues_then_a_flush_makes_it_active(tmp_path: Path) -> None:
    report = demo_visit(tmp_path, "--portal-down", "--holder", "bertil")
    assert report["card_number"] == "9752210000000002"
    assert report["final_message"] == "visit.done.activation.queued"
    assert report["queued"] is True
    assert report["outbox_after_visit"]["depth"] == 1  # type: ignore[index]
    assert report["status_after_flush"] == "Aktiv"
    assert report["final_status"] == "Aktiv"
    assert report["audit_ok"] is True


def test_the_pin_letter_demo_orders_one_letter(tmp_path: Path) -> None:
    report = demo_visit(tmp_path, "--visit", "pin-letter")
    assert report["visit"] == "pin-letter" and report["holder"] == "eva"
    assert report["final_view"] == "done"
    assert report["final_message"] == "visit.done.pin_letter"
    assert report["pin_letters_ordered"] == 1 and report["queued"] is False
    assert report["final_status"] == "Aktiv" and report["audit_ok"] is True
    effects = [s.get("effect") for s in report["steps"]]  # type: ignore[union-attr]
    assert effects.count("sync_result") == 1 and "write_pin" not in effects


def test_the_pin_letter_demo_with_the_portal_down_orders_it_after_the_flush(
    tmp_path: Path,
) -> None:
    report = demo_visit(tmp_path, "--visit", "pin-letter", "--portal-down")
    assert report["final_message"] == "visit.done.pin_letter.queued"
    assert report["queued"] is True and report["pin_letters_ordered"] == 1


def test_the_signature_certificate_demo_puts_a_working_one_on_ingrids_card(
    tmp_path: Path,
) -> None:
    report = demo_visit(tmp_path, "--visit", "signature-certificate")
    assert report["holder"] == "ingrid" and report["final_view"] == "done"
    assert report["final_message"] == "visit.done.signature_certificate"
    effects = [s.get("effect") for s in report["steps"]]  # type: ignore[union-attr]
    for effect in ("start_unlock", "begin_card_work", "set_signature_pin", "generate_key_pair",
                   "sign_request", "issue_certificate", "install_certificate", "test_signature",
                   "record_result", "sync_result"):
        assert effects.count(effect) == (2 if effect == "test_signature" else 1), effect
    certificates = {c["usage"]: c for c in report["card_certificates"]}  # type: ignore[union-attr]
    signature = certificates["signature"]
    assert signature["key_on_card"] is True and signature["key_pin"] == "signature"
    assert signature["chain_valid"] is True and signature["key_usage"] == ["nonRepudiation"]
    assert certificates["authentication"]["key_id"] == "01"  # untouched
    assert report["portal_certificates"] == [
        {"serial": signature["serial"], "kind": "signature", "state": "valid", "replaces": None}
    ]
    assert report["audit_ok"] is True


def test_the_renewal_demo_replaces_hugos_certificates(tmp_path: Path) -> None:
    report = demo_visit(tmp_path, "--visit", "renew-certificates", "--portal-down")
    assert report["holder"] == "hugo" and report["final_view"] == "done"
    # the portal went down after the result was committed: the revocations were queued
    assert report["final_message"] == "visit.done.renew_certificates.queued"
    assert report["outbox_after_visit"]["depth"] == 1  # type: ignore[index]
    effects = [s.get("effect") for s in report["steps"]]  # type: ignore[union-attr]
    assert effects.count("issue_certificate") == 2 and effects.count("delete_key_pair") == 2
    removed = effects.index("delete_key_pair")
    assert all(i < removed for i, e in enumerate(effects) if e == "test_signature")
    certificates = report["card_certificates"]
    assert sorted(c["usage"] for c in certificates) == ["authentication", "signature"]  # type: ignore[union-attr,index]
    for cert in certificates:  # type: ignore[union-attr]
        assert cert["key_id"] not in ("01", "02")  # type: ignore[index]
        assert cert["key_on_card"] is True and cert["chain_valid"] is True  # type: ignore[index]
    portal = report["portal_certificates"]
    assert sorted(c["kind"] for c in portal) == ["authentication", "signature"]  # type: ignore[union-attr,index]
    assert report["audit_ok"] is True


def test_an_unknown_holder_gets_a_clear_message(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--holder", "zelda", "--lang", "en"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_CONFIG_DIR": "/nonexistent"},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert "no card holder zelda" in proc.stderr


def test_a_reserve_card_is_refused_and_the_demo_says_so(tmp_path: Path) -> None:
    require_tool("softhsm2-util", "the simulated card's token")
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--holder", "cecilia", "--lang",
         "en", "--state-dir", str(tmp_path / "state")],
        env={**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_CONFIG_DIR": "/nonexistent"},
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 1
    assert "reserve card" in proc.stdout
    assert "status Skickad" in proc.stdout


def test_a_refusal_says_its_facts_in_words(tmp_path: Path) -> None:
    """Eva's card has a signature certificate: the refusal names its end date (the text
    once showed the bare placeholder '{not_after}')."""
    require_tool("softhsm2-util", "the simulated card's token")
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--visit", "signature-certificate",
         "--holder", "eva", "--lang", "en", "--state-dir", str(tmp_path / "state")],
        env={**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_CONFIG_DIR": "/nonexistent"},
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    refusal = next(line for line in proc.stdout.splitlines()
                   if "already has a signature certificate" in line)
    assert "{" not in refusal and re.search(r"valid until \d{4}-\d{2}-\d{2}", refusal), refusal


def test_a_demo_visit_in_a_temp_dir_leaves_nothing_behind(tmp_path: Path) -> None:
    require_tool("softhsm2-util", "the simulated card's token")
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--json"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_CONFIG_DIR": "/nonexistent",
             "TMPDIR": str(temp)},
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["state_dir"] == ""
    assert [p.name for p in temp.iterdir() if p.name.startswith("kiosk-demo-")] == []
