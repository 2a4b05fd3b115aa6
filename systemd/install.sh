#!/usr/bin/env bash
# Install the SITHS card-office kiosk on Raspberry Pi OS (Bookworm, arm64) as a systemd
# appliance: Debian packages, the `kiosk` user, /etc/kiosk with the fleet's public keys,
# a venv in /opt/kiosk, and the units from this directory. Safe to run again (upgrade).
#
#   sudo systemd/install.sh --kiosk-id kiosk-17 --card-office office-north \
#        --fleet-key fleet-2026.pub [--fleet-key fleet-next.pub] \
#        [--pull-url https://config.example.org/kiosks/kiosk-17.bundle] [--no-start]
set -euo pipefail

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/kiosk
CONFIG_DIR=/etc/kiosk
STATE_DIR=/var/lib/kiosk
UNIT_DIR=/etc/systemd/system
KIOSK_ID=""
CARD_OFFICE=""
PULL_URL=""
START=yes
FLEET_KEYS=()

usage() { sed -n '2,9p' "$0"; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --kiosk-id) KIOSK_ID="$2"; shift 2 ;;
    --card-office) CARD_OFFICE="$2"; shift 2 ;;
    --fleet-key) FLEET_KEYS+=("$2"); shift 2 ;;
    --pull-url) PULL_URL="$2"; shift 2 ;;
    --no-start) START=no; shift ;;
    -h|--help) usage ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done

[[ $(id -u) -eq 0 ]] || { echo "run as root (sudo)" >&2; exit 1; }
if [[ ! -f "$CONFIG_DIR/kiosk.toml" && ( -z "$KIOSK_ID" || -z "$CARD_OFFICE" ) ]]; then
  echo "first install: --kiosk-id and --card-office are required" >&2; exit 2
fi

echo "== Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  python3-venv python3-dev build-essential swig libpcsclite-dev \
  pcscd libccid opensc acl \
  libzbar0 tesseract-ocr fonts-ocr-b \
  libgl1 libegl1 libgles2 libgl1-mesa-dri libmtdev1 libsdl2-2.0-0

echo "== user and groups"
for group in input video render; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id kiosk >/dev/null 2>&1; then
  useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin \
    --groups input,video,render kiosk
else
  usermod --append --groups input,video,render kiosk
fi

echo "== directories and fleet keys"
install -d -m 0755 "$CONFIG_DIR" "$CONFIG_DIR/fleet-keys"
install -d -o kiosk -g kiosk -m 0750 "$STATE_DIR"
for key in "${FLEET_KEYS[@]}"; do
  install -m 0644 "$key" "$CONFIG_DIR/fleet-keys/$(basename "$key")"
done
if [[ -z "$(ls -A "$CONFIG_DIR/fleet-keys")" ]]; then
  echo "warning: no fleet keys in $CONFIG_DIR/fleet-keys: every bundle will be refused" >&2
fi

if [[ ! -f "$CONFIG_DIR/kiosk.toml" ]]; then
  umask 022
  cat > "$CONFIG_DIR/kiosk.toml" <<TOML
# Site settings of this kiosk; they override the packaged defaults
# ($PREFIX/src/config/kiosk.toml documents every key). Check with:
#   kioskctl config check $CONFIG_DIR/kiosk.toml
[kiosk]
kiosk_id = "$KIOSK_ID"
card_office = "$CARD_OFFICE"

[hardware]
reader = "pcsc"
token = "pkcs11"
pkcs11_module = "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so"

[camera]
source = "v4l2:0"

[fleet]
pull_url = "$PULL_URL"
TOML
fi

echo "== application"
install -d -m 0755 "$PREFIX"
rm -rf "$PREFIX/src.new"
mkdir -p "$PREFIX/src.new"
tar -C "$SOURCE" --exclude=.venv --exclude=.git --exclude='*.pyc' -cf - . | tar -C "$PREFIX/src.new" -xf -
rm -rf "$PREFIX/src" && mv "$PREFIX/src.new" "$PREFIX/src"
[[ -x "$PREFIX/venv/bin/python" ]] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q "$PREFIX/src[ui,hardware,scan]"
KIOSK_MODE=production "$PREFIX/venv/bin/kioskctl" config check "$CONFIG_DIR/kiosk.toml"

echo "== systemd units"
for unit in "$SOURCE"/systemd/*.service "$SOURCE"/systemd/*.timer "$SOURCE"/systemd/*.path; do
  install -m 0644 "$unit" "$UNIT_DIR/$(basename "$unit")"
done
systemctl daemon-reload
UNITS=(pcscd.socket kiosk.service kiosk-sync.timer kiosk-config-pull.timer
       kiosk-config-check.timer kiosk-config-restart.path)
if [[ "$START" == yes ]]; then
  systemctl enable --now "${UNITS[@]}"
  systemctl --no-pager status kiosk.service || true
else
  systemctl enable "${UNITS[@]}"
fi
ln -sf "$PREFIX/venv/bin/kioskctl" /usr/local/bin/kioskctl
echo "done: kioskctl status"
