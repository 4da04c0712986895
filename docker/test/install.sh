#!/usr/bin/env bash
# What the Docker test needs from Debian (`make docker-test`): the engine (docker.io, Docker
# 20.10 with its client), Compose v1 (Debian 12 has no Compose v2 plugin) and debootstrap for
# the local base image. Installed when missing; where it cannot be (not root, no apt-get), one
# line says so and the test reports why it did not run.
set -euo pipefail
missing=()
for tool in dockerd:docker.io docker-compose:docker-compose debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "docker-test: cannot install ${missing[*]} (needs root and apt-get)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
