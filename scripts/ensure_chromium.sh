#!/bin/sh
# Install Debian's Chromium (and its driver) for the dashboard's browser test, unless it is already there.
# The browser test drives /usr/bin/chromium through Playwright; Playwright's own browser download is not used.
# Needs root (CI runs as root on a fresh machine); a no-op when /usr/bin/chromium exists.
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo present) at $CHROMIUM"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium chromium-driver

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium.sh: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed) at $CHROMIUM"
