"""`kioskctl demo visit` prints the card's certificates after the visit, read back from the
card's SoftHSM2 tokens: subject, issuer, key usage, not-after and whether the private key
with the certificate's CKA_ID is on the card."""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.demo_cast import OTHER_ORGANISATIONS, demo_holder
from tests.integration.e2e.test_demo_visit import ROOT, demo_visit

pytestmark = [pytest.mark.portal, pytest.mark.softhsm, pytest.mark.slow]
ISSUER = "CN=SITHS e-id Person ID 3 CA v1 TEST (demo)"


def certificates(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's certificates by label."""
    found = report["card_certificates"]
    by_label = {c["label"]: c for c in found}
    assert len(by_label) == len(found)
    return by_label


def test_after_an_activation_the_new_pin_shows_the_authentication_key(tmp_path: Path) -> None:
    anna = demo_holder("anna", date.today())
    certs = certificates(demo_visit(tmp_path))
    assert set(certs) == {"Legitimering", "Underskrift"}
    auth, sign = certs["Legitimering"], certs["Underskrift"]
    for cert in (auth, sign):
        assert f"2.5.4.5={anna.hsa_id}" in cert["subject"] and "O=Region Demo" in cert["subject"]
        assert cert["issuer"].startswith(ISSUER) and cert["chain_valid"] is True
        assert datetime.fromisoformat(cert["not_after"]).date() > date.today()
    assert auth["usage"] == "authentication" and "digitalSignature" in auth["key_usage"]
    assert sign["usage"] == "signature" and sign["key_usage"] == ["nonRepudiation"]
    # the activation's PIN logs in to the authentication token: its key is there
    assert auth["key_on_card"] is True and auth["key_pin"] == "authentication"
    # Anna has not chosen a signature PIN: its token cannot be read, so it is not known
    assert sign["key_on_card"] is None


def test_a_card_with_an_additional_certificate_shows_all_three_keys(tmp_path: Path) -> None:
    report = demo_visit(tmp_path, "--visit", "pin-letter", "--holder", "jonas")
    assert report["final_view"] == "done"
    certs = certificates(report)
    assert set(certs) == {"Legitimering", "Underskrift", "Tilläggscertifikat"}
    additional = certs["Tilläggscertifikat"]
    assert f"O={OTHER_ORGANISATIONS[0]}" in additional["subject"]
    assert additional["key_on_card"] is True and additional["key_pin"] == "authentication"
    assert certs["Underskrift"]["key_on_card"] is True
    assert certs["Underskrift"]["key_pin"] == "signature"  # on the signature-PIN token
    assert certs["Legitimering"]["key_id"] != certs["Underskrift"]["key_id"]


def test_the_text_report_lists_the_certificates_in_english_and_swedish(tmp_path: Path) -> None:
    for lang, heading, key in (
        ("en", "Certificates on the card after the visit: 1", "key on the card: yes"),
        ("sv", "Certifikat på kortet efter besöket: 1", "nyckeln på kortet: ja"),
    ):
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--visit", "pin-letter",
             "--holder", "ingrid", "--lang", lang, "--state-dir", str(tmp_path / lang)],
            env={**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_CONFIG_DIR": "/nonexistent"},
            cwd=ROOT, capture_output=True, text=True, timeout=240,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert heading in proc.stdout and key in proc.stdout
        assert "nonRepudiation" not in proc.stdout  # Ingrid's card has no signature certificate
        assert "Traceback" not in proc.stderr
