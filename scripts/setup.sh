#!/usr/bin/env bash
# Installs what atsreuse needs to build and run on Debian 12. Safe to run again.
# --dev: also what the checks need (a pinned cbindgen for the header drift check).
set -euo pipefail
dev=0
[ "${1:-}" = "--dev" ] && dev=1

need_pkgs=(trafficserver trafficserver-dev redis-server libssl-dev libcjson-dev cmake pkg-config gcc g++ jq openssl curl python3)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"
fi

# The no_std proof builds the core for a bare-metal target.
rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf

# cbindgen, pinned: the committed header must match what this version generates.
CBINDGEN_VERSION=0.29.2
export PATH="$HOME/.cargo/bin:$PATH"
if [ "$dev" -eq 1 ]; then
  if ! command -v cbindgen >/dev/null || ! cbindgen --version | grep -q " $CBINDGEN_VERSION\$"; then
    cargo install --locked --quiet cbindgen --version "$CBINDGEN_VERSION"
  fi
fi
