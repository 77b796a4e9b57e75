#!/usr/bin/env bash
# Install what bkp needs to build and test, from Debian's packages (and
# s3rver from the npm registry, pinned in tests/s3/package.json).
# Idempotent: installs only what is missing.  Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config
      libarchive-dev libsodium-dev libzstd-dev libcurl4-openssl-dev libssl-dev
      libjansson-dev libinih-dev libxml2-dev libcriterion-dev
      librust-blake3-dev b3sum
      zstd attr acl util-linux time openssl python3 python3-botocore awscli nodejs npm
      chromium fonts-dejavu-core)
[ "${BKP_DEPS_EXTRA:-}" ] && read -r -a extra <<<"$BKP_DEPS_EXTRA" && pkgs+=("${extra[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node and npm may come from elsewhere than Debian; accept any working pair.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "deps: installing ${missing[*]}" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -f tests/s3/package.json ] && [ ! -d tests/s3/node_modules/s3rver ]; then
	echo "deps: installing s3rver (npm)" >&2
	(cd tests/s3 && npm ci --silent --no-audit --no-fund >/dev/null)
fi
