#!/usr/bin/env bash
# Installs the Debian 12 packages infrafs needs to build, test and demo.
# Idempotent and silent when everything is already present.
set -euo pipefail

packages=(
	build-essential pkg-config meson ninja-build
	libfuse3-dev fuse3 libcurl4-openssl-dev libjson-c-dev libglib2.0-dev libyaml-dev
	libhiredis-dev
	python3 python3-pytest python3-openstackclient python3-prometheus-client
	jq attr procps groff-base curl shellcheck
	clang libclang-rt-14-dev  # make fuzz: libFuzzer (libclang_rt.fuzzer) comes with the latter
	valgrind                  # make valgrind
	redis-server              # Redis L2 tests start their own redis-server
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
