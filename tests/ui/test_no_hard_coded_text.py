"""Every user-facing text in screens/ comes from the catalogs: no literal words in .kv or .py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import screens
from kiosk.i18n import LANGUAGES, catalog

ROOT = Path(screens.__file__).parent
TEXT_PROPERTY = re.compile(r"^(text|title|message|heading|hint_text|\w+_text)$")
KV_PROPERTY_LINE = re.compile(r"^\s*([a-z_]+)\s*:\s*(.+)$")
QUOTED = re.compile(r"""(["'])(.*?)(?<!\\)\1""")
UI_KEY = re.compile(r"""["'](ui\.[a-z0-9_.]+)["']""")


def has_words(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def kv_files() -> list[Path]:
    return sorted(ROOT.rglob("*.kv"))


def py_files() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def literal_texts_in_kv(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = KV_PROPERTY_LINE.match(line)
        if match is None or not TEXT_PROPERTY.match(match.group(1)):
            continue
        for _, literal in QUOTED.findall(match.group(2)):
            if has_words(literal):
                found.append(f"{path.name}:{number}: {line.strip()}")
    return found


def literal_texts_in_py(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def wordy(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return has_words(node.value)
        if isinstance(node, ast.JoinedStr):
            return any(wordy(v) for v in node.values if isinstance(v, ast.Constant))
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and TEXT_PROPERTY.match(keyword.arg) and wordy(keyword.value):
                    found.append(f"{path.name}:{node.lineno}: {keyword.arg}=...")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Attribute) and TEXT_PROPERTY.match(target.attr)
                        and wordy(node.value)):
                    found.append(f"{path.name}:{node.lineno}: .{target.attr} = ...")
    return found


def test_the_scan_finds_literal_words() -> None:
    """The checks below can fail: a literal is caught in both kinds of file."""
    sample_kv = ROOT / "_probe.kv"
    sample_py = ROOT / "_probe.py"
    try:
        sample_kv.write_text('<X>:\n    text: "Hej"\n    halign: "center"\n', encoding="utf-8")
        sample_py.write_text('label.text = "Hej"\nButton(text=f"Tryck {n}")\n', encoding="utf-8")
        assert len(literal_texts_in_kv(sample_kv)) == 1
        assert len(literal_texts_in_py(sample_py)) == 2
    finally:
        sample_kv.unlink(missing_ok=True)
        sample_py.unlink(missing_ok=True)


def test_kv_files_hold_no_literal_words() -> None:
    assert kv_files(), "no .kv files found"
    found = [hit for path in kv_files() for hit in literal_texts_in_kv(path)]
    assert found == []


def test_python_files_hold_no_literal_words_on_screen() -> None:
    found = [hit for path in py_files() for hit in literal_texts_in_py(path)]
    assert found == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_ui_key_the_screens_name_is_translated(lang: str) -> None:
    keys = {key for path in py_files() for key in UI_KEY.findall(path.read_text("utf-8"))}
    keys = {k for k in keys if not k.endswith(".")}  # prefixes of composed keys
    assert keys, "no ui.* keys found"
    missing = sorted(k for k in keys if k not in catalog(lang))
    assert missing == []
