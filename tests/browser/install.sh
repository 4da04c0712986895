#!/usr/bin/env bash
# What the browser test needs from Debian (`make browser-test`): Chromium, its driver, and CJK
# fonts (a screenshot of Chinese text in boxes proves nothing). Installed when missing; where it
# cannot be (not root, no apt-get), one line says so and the test reports why it did not run.
set -euo pipefail
missing=()
for tool in chromium:chromium chromedriver:chromium-driver; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "browser-test: cannot install ${missing[*]} (needs root and apt-get)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
