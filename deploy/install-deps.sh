#!/usr/bin/env bash
# install-deps.sh: installs every build and test dependency of the suite on Debian 12.
# Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libzmq3-dev liblmdb-dev libmsgpack-dev
  libprotobuf-c-dev protobuf-c-compiler
  libcriterion-dev
  libmicrohttpd-dev libjansson-dev
  libsodium-dev libcurl4-openssl-dev
  curl
  docker-compose python3-yaml
  clang libclang-rt-dev
  python3 python3-zmq python3-protobuf protobuf-compiler
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
