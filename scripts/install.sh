#!/usr/bin/env bash
# Install the plugin into the active Python environment, with the system libraries nerfstudio's tools need:
# libusb-1.0-0 (open3d, used by ns-export) and ffmpeg (ns-render's videos).
#   scripts/install.sh          the plugin
#   scripts/install.sh --dev    the plugin and its test and lint tools, and Chromium (the viewer's browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libusb-1.0-0 ffmpeg)
[ "${1:-}" = "--dev" ] && apt_packages+=(chromium)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
        echo "Please install these Debian/Ubuntu packages, then run this again: ${missing[*]}" >&2
        exit 1
    fi
    echo "Installing system packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
python3 -m pip install --upgrade pip
python3 -m pip install -e ".${extras}"
