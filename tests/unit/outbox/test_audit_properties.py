"""Properties of the audit chain: any tampering is found; concurrent writers keep it whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.sim.clock import ManualClock
from kiosk.devicekey import load_or_create
from kiosk.outbox import Outbox
from tests.unit.outbox.helpers import T0, rewrite_audit

ROOT = Path(__file__).resolve().parents[3]

Tamper = tuple[str, int, int]
tampers = st.tuples(
    st.sampled_from(["delete", "swap", "duplicate", "edit", "truncate"]),
    st.integers(0, 5),
    st.integers(0, 5),
)


def apply(rows: list[tuple], tamper: Tamper) -> list[tuple]:
    kind, i, j = tamper
    rows = list(rows)
    if kind == "delete":
        del rows[i]
    elif kind == "swap":
        j = (i + 1 + j % 5) % 6
        rows[i], rows[j] = rows[j], rows[i]
    elif kind == "duplicate":
        rows.insert(j, rows[i])
    elif kind == "edit":
        seq, entry, prev, digest, sig = rows[i]
        rows[i] = (seq, entry.replace('"step":', '"step":1'), prev, digest, sig)
    else:
        rows = rows[: i % 5 + 1]
    return rows


@settings(max_examples=40, deadline=None)
@given(tamper=tampers)
def test_every_tampering_is_found(tmp_path_factory: object, tamper: Tamper) -> None:
    folder = tmp_path_factory.mktemp("audit")  # type: ignore[attr-defined]
    box = Outbox(folder, load_or_create(folder), ManualClock(T0))
    try:
        for step in range(6):
            box.audit.append("card_checked", "SE2321000016-ADM1", T0, None, {"step": step})
        assert box.audit.verify().ok
        rewrite_audit(box.path, lambda rows: apply(rows, tamper))
        report = box.audit.verify()
        assert not report.ok, tamper
        assert report.problems[0].kind in (
            "edited", "deleted", "inserted", "reordered", "forged", "truncated"
        )
    finally:
        box.close()


WRITER = """
import sys
from pathlib import Path
from kiosk.devicekey import load_or_create
from kiosk.outbox import Outbox, SystemClock
state = Path(sys.argv[1])
box = Outbox(state, load_or_create(state), SystemClock())
for i in range(150):
    box.audit.append("card_checked", sys.argv[2], SystemClock().now(), None, {"i": i})
box.close()
"""


def test_two_processes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    load_or_create(tmp_path)  # one key, made before the writers start
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name], cwd=ROOT)
        for name in ("writer-a", "writer-b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    box = Outbox(tmp_path, load_or_create(tmp_path), ManualClock(T0))
    try:
        report = box.audit.verify()
        assert report.ok, report.problems
        assert report.count == 300
        actors = [e.actor for e in box.audit.entries()]
        assert actors.count("writer-a") == actors.count("writer-b") == 150
    finally:
        box.close()
