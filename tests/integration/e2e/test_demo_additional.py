"""`kioskctl demo visit --visit additional-certificate --json` end to end on SoftHSM2 and
the reference portal: Jonas's additional certificate replaced (the new one verified
before the old one is removed), or removed; Eva's card gets its first one."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.demo_cast import OTHER_ORGANISATIONS
from tests.integration.e2e.test_demo_visit import demo_visit

pytestmark = [pytest.mark.portal, pytest.mark.softhsm, pytest.mark.slow]
OLD, NEW = OTHER_ORGANISATIONS


def from_org(report: dict[str, Any], organisation: str) -> list[dict[str, Any]]:
    return [c for c in report["card_certificates"] if f"O={organisation}," in c["subject"]]


def effects(report: dict[str, Any]) -> list[str]:
    return [s["effect"] for s in report["steps"] if "effect" in s]


def test_the_additional_certificate_is_replaced(tmp_path: Any) -> None:
    report = demo_visit(tmp_path, "--visit", "additional-certificate")
    assert report["holder"] == "jonas" and report["final_view"] == "done", report["steps"][-3:]
    assert report["final_message"] == "visit.done.additional_certificate.replace"
    assert from_org(report, OLD) == []  # the old one is gone from the card
    (new,) = from_org(report, NEW)
    assert new["key_on_card"] is True and new["label"] == "Tilläggscertifikat"
    assert new["chain_valid"] is True and new["key_usage"][0] == "digitalSignature"
    ran = effects(report)
    # the new one verified on the card (its test signature) before the old one was removed
    assert ran.index("install_certificate") < len(ran) - 1 - ran[::-1].index("test_signature")
    assert ran.index("delete_key_pair") > len(ran) - 1 - ran[::-1].index("test_signature")
    # the cast's old one (the demo card's, not on the portal's records) was shown to the
    # portal with the revocation: its CA issued it, so it is now on record and revoked
    assert sorted((c["kind"], c["state"]) for c in report["portal_certificates"]) == [
        ("additional", "revoked"), ("additional", "valid")
    ]
    assert report["queued"] is False and report["audit_ok"] is True


def test_a_card_without_one_gets_its_first(tmp_path: Any) -> None:
    report = demo_visit(tmp_path, "--visit", "additional-certificate", "--holder", "eva")
    assert report["final_message"] == "visit.done.additional_certificate.add", report["steps"][-3:]
    (new,) = from_org(report, OLD)
    assert new["key_on_card"] is True
    assert "delete_key_pair" not in effects(report)
