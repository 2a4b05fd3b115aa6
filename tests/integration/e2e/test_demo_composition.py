"""The demo's composition keeps the portal out of the kiosk process and scanning libraries lazy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# pydantic is no longer server-side only: it validates the kiosk's own settings (core dep).
SERVER_SIDE = ("fastapi", "uvicorn", "starlette")
SCANNING = ("cv2", "tesserocr", "zxingcpp", "pyzbar")


def test_the_demo_services_load_no_web_server_and_no_scanner_into_the_kiosk(
    tmp_path: Path,
) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from composition.wiring import build_services\n"
        "from kiosk.settings import Settings\n"
        "from kiosk.demo_cast import demo_identity\n"
        f"services = build_services(demo_identity(Settings()), Path({str(tmp_path)!r}), True)\n"
        "portal = services.running_portal\n"
        "record = services.portal.card('9752210000000001')\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules})\n"
        "services.close()\n"
        "print(json.dumps({'loaded': loaded, 'portal_pid': portal.pid,\n"
        "                  'reaped': portal.process.returncode is not None,\n"
        "                  'status': str(record.status)}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=180)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert [m for m in SERVER_SIDE if m in report["loaded"]] == []
    assert [m for m in SCANNING if m in report["loaded"]] == []
    assert report["status"]  # the kiosk read a card from the portal process
    assert report["reaped"]
    assert (tmp_path / "demo-portal" / "portal.log").is_file()
