"""portal/openapi.yaml and the schema FastAPI serves describe the same API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from kiosk.i18n import LANGUAGES, catalog
from kiosk.portal_client import reason_text
from portal.app import create_app
from portal.server import RunningPortal

DOCUMENT = Path(__file__).parents[3] / "portal" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}
BATCH = ("/api/v1/activations/complete-batch", "post")


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return spec


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(tmp_path_factory.mktemp("openapi") / "portal.db")
    spec: dict[str, Any] = app.openapi()
    return spec


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def body_schema_name(op: dict[str, Any]) -> str | None:
    body = op.get("requestBody")
    if body is None:
        return None
    ref: str = body["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def success_status(op: dict[str, Any]) -> set[str]:
    return {code for code in op["responses"] if code.startswith("2")}


def required_headers(spec: dict[str, Any], op: dict[str, Any]) -> set[str]:
    params = [resolve(spec, p) for p in op.get("parameters", [])]
    return {p["name"] for p in params if p["in"] == "header" and p.get("required")}


def test_the_document_is_openapi_3_1_under_api_v1(documented: dict[str, Any]) -> None:
    assert documented["openapi"].startswith("3.1")
    assert all(path.startswith("/api/v1/") for path in documented["paths"])


def test_the_same_paths_and_methods(
    documented: dict[str, Any], served: dict[str, Any]
) -> None:
    assert set(operations(documented)) == set(operations(served))


def test_the_same_bodies_answers_and_idempotency_headers(
    documented: dict[str, Any], served: dict[str, Any]
) -> None:
    served_ops = operations(served)
    for key, op in operations(documented).items():
        mine = served_ops[key]
        assert body_schema_name(op) == body_schema_name(mine), key
        assert success_status(op) == success_status(mine), key
        assert required_headers(documented, op) == required_headers(served, mine), key
        if key == BATCH:  # each item carries its own key, in the body
            assert required_headers(documented, op) == set(), key
        elif key[1] == "post":
            assert required_headers(documented, op) == {"Idempotency-Key"}, key


def test_the_same_schema_fields(documented: dict[str, Any], served: dict[str, Any]) -> None:
    ours = documented["components"]["schemas"]
    theirs = served["components"]["schemas"]
    for name, schema in ours.items():
        assert name in theirs, name
        assert set(schema["properties"]) == set(theirs[name]["properties"]), name
        assert set(schema.get("required", [])) == set(theirs[name].get("required", [])), name


def test_the_running_portal_serves_its_schema(portal: RunningPortal) -> None:
    served = requests.get(f"{portal.url}/api/v1/openapi.json", timeout=5).json()
    assert "/api/v1/cards/{card_number}" in served["paths"]
    assert not any(path.startswith("/_test") for path in served["paths"])


def documented_reasons(documented: dict[str, Any]) -> set[str]:
    rows = [line.split("|") for line in documented["info"]["description"].splitlines()]
    return {
        row[2].strip()
        for row in rows
        if len(row) > 3 and row[1].strip()[:1] in "45" and row[2].strip().isidentifier()
    }


def raised_reasons() -> set[str]:
    pattern = re.compile(
        r'(?:ApiError\(\s*\d+,\s*|error_response\(\s*\d+,\s*'
        r'|(?:Receipt|Request)Invalid\(\s*|: )"([a-z_]+)"'
    )
    found: set[str] = set()
    for source in (DOCUMENT.parent).glob("*.py"):
        if source.name in {"app.py", "service.py", "receipts.py", "certificates.py", "ca.py"}:
            found |= set(pattern.findall(source.read_text(encoding="utf-8")))
    return found - {"ok"}


def test_every_reason_the_portal_gives_is_documented(documented: dict[str, Any]) -> None:
    raised = raised_reasons()
    assert {"card_not_found", "bad_signature", "idempotency_conflict"} <= raised
    assert raised <= documented_reasons(documented)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_documented_reason_has_a_translation(
    documented: dict[str, Any], lang: str
) -> None:
    for reason in documented_reasons(documented):
        assert f"portal.reason.{reason}" in catalog(lang), reason
    assert reason_text("card_not_found", lang) != reason_text("blocked", lang)
    assert "weird_reason" in reason_text("weird_reason", lang)
