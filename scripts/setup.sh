#!/usr/bin/env bash
# Installs what MLFO needs on a Debian/Ubuntu machine: the apt packages (when root and missing)
# and the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# apt packages the tests and the demo use; grows with the topology and monitoring issues.
# prometheus (2.42 on Debian 12; also promtool) checks the generated configs and the dashboard's
# queries; docker-compose (1.29) validates docker-compose.yml with `docker-compose config`, no
# Docker engine needed. Where systemd runs, installing prometheus also starts a system-wide service
# on *:9090; MLFO runs its own Prometheus per topology, so setup stops the service it just installed
# (a wildcard listener on :9090 would take that port from every local-backend host).
# docker.io is the Docker engine (started by hand where no systemd runs: scripts/dockerd.sh) and
# debootstrap makes the base image where none can be pulled (npm run image).
APT_PACKAGES=(ca-certificates redis-server iproute2 iperf3 iputils-ping prometheus docker-compose docker.io debootstrap)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing apt packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
      echo "setup: stopping and disabling the prometheus system service this setup just installed"
      systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  else
    echo "setup: missing apt packages (run as root, or install them): ${missing[*]}" >&2
  fi
fi

# CI (.ci/run) asks for a Docker engine; it stops it at the end (scripts/dockerd.sh stop)
if [ "${MLFO_START_DOCKERD:-}" = 1 ]; then
  bash scripts/dockerd.sh start
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# `npm ci` trips over optional platform packages this registry does not serve; `npm install`
# honours the lockfile and skips them.
npm install --no-audit --no-fund --loglevel=error

# compiled node programs start smaller and faster; the launchers fall back to the sources when
# this build is older than them
node scripts/build.mjs

# the images (mlfo-base, mlfo:latest) for the docker tests and docker-compose.yml, when an engine
# answers; a rebuild with nothing changed takes seconds
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  npm run --silent image
else
  echo "setup: no Docker engine answers; skipping the images (bash scripts/dockerd.sh start, then npm run image)"
fi
