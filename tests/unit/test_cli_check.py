"""`kioskctl check ...` run as a real process: JSON on stdout and the documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.identity.test_mrz import ICAO_TD3, with_char

KIOSKCTL = Path(sys.executable).with_name("kioskctl")
ENV: dict[str, str] = {}


@pytest.fixture(autouse=True, scope="module")
def isolated_kiosk_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Empty config/state/log dirs, so no site file or applied bundle changes the policy."""
    base = tmp_path_factory.mktemp("kiosk")
    ENV.clear()
    ENV.update(os.environ)
    ENV.pop("KIOSKCTL_LANG", None)
    for name in ("CONFIG", "STATE", "LOG"):
        folder = base / name.lower()
        folder.mkdir()
        ENV[f"KIOSK_{name}_DIR"] = str(folder)


def kioskctl(*args: str, stdin: str = "") -> tuple[int, dict[str, Any], str]:
    assert KIOSKCTL.exists(), f"{KIOSKCTL} is missing: install the project into the venv"
    done = subprocess.run(
        [str(KIOSKCTL), *args], input=stdin, capture_output=True, text=True, timeout=60,
        check=False, env=ENV,
    )
    payload = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, payload, done.stdout + done.stderr


# --- personnummer ---------------------------------------------------------------------------


def test_personnummer_passes() -> None:
    code, out, _ = kioskctl("check", "personnummer", "900315-2387", "--on", "2026-11-25")
    assert code == 0
    assert out["ok"] is True
    assert out["normalised"] == "199003152387"
    assert out["birth_date"] == "1990-03-15"
    assert (out["sex"], out["age"], out["coordination_number"]) == ("F", 36, False)
    assert out["masked"] == "19900315-****"


def test_personnummer_century_follows_the_reference_date() -> None:
    _, out, _ = kioskctl("check", "personnummer", "2611251238", "--on", "2026-11-25")
    assert (out["ok"], out["birth_date"]) == (True, "2026-11-25")
    code, out, _ = kioskctl("check", "personnummer", "2611251238", "--on", "2026-11-24")
    assert (code, out["check"]) == (1, "date")


def test_personnummer_with_a_wrong_check_digit_is_rejected() -> None:
    code, out, _ = kioskctl("check", "personnummer", "900315-2388", "--lang", "en")
    assert code == 1
    assert (out["ok"], out["field"], out["check"]) == (False, "personnummer", "luhn")
    assert out["message"].startswith("The check digit does not match")


@pytest.mark.parametrize(("number", "check"), [("9003", "length"), ("9OO315-2387", "characters")])
def test_unusable_personnummer(number: str, check: str) -> None:
    code, out, _ = kioskctl("check", "personnummer", number)
    assert (code, out["check"]) == (2, check)
    assert out["message"].startswith("Personnumret")  # Swedish by default


def test_a_bad_reference_date_is_unusable_input() -> None:
    code, _, text = kioskctl("check", "personnummer", "900315-2387", "--on", "2026-13-01")
    assert code == 2
    assert "YYYY-MM-DD" in text


# --- HSA-id ---------------------------------------------------------------------------------


def test_hsa_id_passes() -> None:
    code, out, _ = kioskctl("check", "hsa-id", "se2321000016-abcd")
    assert (code, out["hsa_id"], out["organisation_number"]) == (
        0, "SE2321000016-ABCD", "2321000016",
    )


@pytest.mark.parametrize(
    ("hsa_id", "code", "check"),
    [("SE2321000017-ABCD", 1, "luhn"), ("SE2321000016ABCD", 1, "separator"),
     ("SE2321000016-ÅSA", 2, "characters")],
)
def test_hsa_id_rejected_or_unusable(hsa_id: str, code: int, check: str) -> None:
    got, out, _ = kioskctl("check", "hsa-id", hsa_id)
    assert (got, out["check"]) == (code, check)


# --- PIN ------------------------------------------------------------------------------------

HOLDER = ("--personnummer", "199003152387", "--phone", "070-862 41 95")


def test_a_good_pin_passes_and_is_never_printed() -> None:
    code, out, text = kioskctl("check", "pin", *HOLDER, stdin="583920\n")
    assert (code, out["ok"]) == (0, True)
    assert "583920" not in text


def test_a_pin_tied_to_the_holder_is_rejected_with_reasons() -> None:
    code, out, text = kioskctl("check", "pin", *HOLDER, "--lang", "en", stdin="150390\n")
    assert code == 1
    assert out["broken"] == ["birth_date"]
    assert out["messages"] == ["The PIN must not be your date of birth."]
    assert "150390" not in text


def test_every_broken_rule_is_listed() -> None:
    code, out, text = kioskctl("check", "pin", *HOLDER, stdin="900315")
    assert code == 1
    assert out["broken"] == ["birth_date", "personnummer_tail"]
    assert len(out["messages"]) == 2
    assert "900315" not in text


def test_wrong_length_pin_is_a_rule_not_unusable_input() -> None:
    code, out, text = kioskctl("check", "pin", *HOLDER, stdin="58392\n")
    assert (code, out["broken"]) == (1, ["length"])
    assert "6" in out["messages"][0]
    assert "58392" not in text


def test_no_pin_on_stdin_is_unusable() -> None:
    code, out, _ = kioskctl("check", "pin", *HOLDER, stdin="")
    assert (code, out["check"]) == (2, "empty")


def test_the_pin_is_not_accepted_as_an_argument() -> None:
    code, out, _ = kioskctl("check", "pin", "583920", *HOLDER, stdin="")
    assert code == 2
    assert out == {}


def test_a_bad_holder_personnummer_stops_the_check() -> None:
    code, out, _ = kioskctl("check", "pin", "--personnummer", "900315-2388", stdin="583920\n")
    assert (code, out["field"], out["check"]) == (1, "personnummer", "luhn")


def test_the_deny_list_comes_from_the_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[pin_policy]\ndeny_list = ["583920"]\n', encoding="utf-8")
    code, out, text = kioskctl("--config", str(config), "check", "pin", *HOLDER, stdin="583920\n")
    assert (code, out["broken"]) == (1, ["deny_list"])
    assert "583920" not in text.replace(str(config), "")


def test_the_site_config_file_sets_the_policy() -> None:
    site = Path(ENV["KIOSK_CONFIG_DIR"]) / "kiosk.toml"
    site.write_text('[pin_policy]\ndeny_list = ["740291"]\n', encoding="utf-8")
    try:
        code, out, _ = kioskctl("check", "pin", *HOLDER, stdin="740291\n")
    finally:
        site.unlink()
    assert (code, out["broken"]) == (1, ["deny_list"])


def test_messages_follow_kioskctl_lang() -> None:
    ENV["KIOSKCTL_LANG"] = "en"
    try:
        _, out, _ = kioskctl("check", "hsa-id", "SE2321000017-ABCD")
    finally:
        ENV.pop("KIOSKCTL_LANG")
    assert out["message"] == "The organisation number's check digit does not match."


def test_an_unknown_setting_is_unusable_input(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[pin_policy]\ndeny_lists = ["583920"]\n', encoding="utf-8")
    code, out, _ = kioskctl("--config", str(config), "check", "pin", *HOLDER, stdin="583920\n")
    assert (code, out["check"]) == (2, "config")
    assert "deny_list" in out["reason"]


# --- MRZ ------------------------------------------------------------------------------------


def test_mrz_passes() -> None:
    code, out, _ = kioskctl("check", "mrz", "--on", "2026-11-25", stdin="\n".join(ICAO_TD3))
    assert code == 0
    assert (out["format"], out["document_number"], out["surname"]) == (
        "TD3", "L898902C3", "ERIKSSON",
    )
    assert [c["name"] for c in out["checks"]] == [
        "document_number", "birth_date", "expiry_date", "optional_data", "composite",
    ]
    assert out["failed_checks"] == []


def test_mrz_with_a_failing_check_digit_is_rejected() -> None:
    read = with_char(ICAO_TD3, 1, 43, "9")
    code, out, _ = kioskctl("check", "mrz", stdin="\n".join(read))
    assert code == 1
    assert out["failed_checks"] == ["composite"]
    composite = out["checks"][-1]
    assert (composite["expected"], composite["found"], composite["ok"]) == (0, "9", False)


def test_mrz_repair_undoes_ocr_confusions() -> None:
    read = with_char(with_char(ICAO_TD3, 1, 17, "I"), 1, 43, "O")
    code, out, _ = kioskctl("check", "mrz", stdin="\n".join(read))
    assert (code, out["check"], out["mrz_field"]) == (2, "characters", "birth_date")
    code, out, _ = kioskctl("check", "mrz", "--repair", stdin="\n".join(read))
    assert code == 0
    assert out["lines"] == list(ICAO_TD3)
    assert {(c["line"], c["column"], c["read"], c["now"]) for c in out["repaired"]} == {
        (2, 18, "I", "1"), (2, 44, "O", "0"),
    }


@pytest.mark.parametrize(
    ("stdin", "code", "check"),
    [
        ("", 2, "empty"),
        (ICAO_TD3[0], 2, "lines"),
        (ICAO_TD3[0] + "\n" + ICAO_TD3[1][:40], 2, "line_length"),
        ("\n".join(with_char(ICAO_TD3, 1, 15, "9")), 1, "date"),
    ],
)
def test_mrz_unusable_or_impossible(stdin: str, code: int, check: str) -> None:
    got, out, _ = kioskctl("check", "mrz", stdin=stdin)
    assert (got, out["check"]) == (code, check)


def test_a_pin_typed_on_a_terminal_is_not_echoed() -> None:
    import pty
    import select

    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(KIOSKCTL), "check", "pin", *HOLDER], stdin=slave, stdout=subprocess.PIPE,
            stderr=slave, env=ENV, start_new_session=True,
        )
        os.close(slave)
        terminal = b""
        while b"PIN" not in terminal:  # wait for the prompt, so echo is already off
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, "no PIN prompt on the terminal"
            terminal += os.read(master, 1024)
        os.write(master, b"583920\n")
        out, _ = process.communicate(timeout=60)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(master)
    assert process.returncode == 0, terminal
    assert json.loads(out)["ok"] is True
    assert b"583920" not in terminal + out
