#!/usr/bin/env bash
# Install the plugin into the active Python environment, with the system libraries nerfstudio's tools need:
# libusb-1.0-0 (open3d, used by ns-export) and ffmpeg (ns-render's videos).
#   scripts/install.sh          the plugin
#   scripts/install.sh --dev    the plugin and its test and lint tools, Chromium (the viewer's browser tests) and
#                               three.js in .gl/ (the GLB export's browser test; needs npm)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
[ "${1:-}" = "--dev" ] && dev=true

required=(libusb-1.0-0 ffmpeg)
optional=()
# Debian's chromium: the viewer's browser tests skip without it (CI requires it, see .ci/run).
$dev && optional+=(chromium)
missing=()
for package in "${required[@]}" "${optional[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
        echo "Please install these Debian/Ubuntu packages, then run this again: ${missing[*]}" >&2
        exit 1
    fi
    echo "Installing system packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; then
        ((${#optional[@]})) || exit 1
        # Some distributions have no chromium package (Ubuntu ships it as a snap): go on without it.
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${required[@]}"
        echo "Could not install ${optional[*]}: the viewer's browser tests will be skipped." >&2
    fi
fi

extras=""
$dev && extras="[dev]"
python3 -m pip install --upgrade pip
python3 -m pip install -e ".${extras}"

if $dev; then
    # three.js's GLTFLoader opens our GLB exports in the browser test (tests/tools/test_glb_in_three_js.py).
    if command -v npm >/dev/null; then
        npm install --silent --no-audit --no-fund --prefix .gl three@0.187.0 ||
            echo "Could not install three.js into .gl/: the GLB browser test will be skipped." >&2
    else
        echo "npm is not installed: the GLB browser test will be skipped." >&2
    fi
fi
