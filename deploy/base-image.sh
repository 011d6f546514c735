#!/usr/bin/env bash
# A local stand-in for python:3.11-slim-bookworm, for machines that can pull no base image:
# Debian bookworm (minbase) with its own Python 3.11, debootstrapped from the Debian mirror apt
# already uses here (read from /etc/apt at run time), imported as localhost/python-base:bookworm.
#
# Cached: the image is kept in the container store, and the root file system's tarball in
# $BASE_CACHE_DIR, so a later run (or a wiped store) skips the ~2 min debootstrap.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/python-base:bookworm}
BASE_CACHE_DIR=${BASE_CACHE_DIR:-/var/cache/devicebulk-image}
TARBALL="$BASE_CACHE_DIR/python-base-bookworm.tar"

if podman image exists "$BASE_IMAGE"; then
  echo "base image $BASE_IMAGE is there"
  exit 0
fi

mirror() {
  # The first URI of a deb822 source (or a one-line source) that serves bookworm's main suite.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk '
      /^$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri = ""; suites = "" }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { $1 = ""; suites = $0 }
      END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }
    ' "$f"
  done | head -n 1
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" && $3 == "bookworm" { print $2 }' | head -n 1 || true
}

if [ ! -s "$TARBALL" ]; then
  MIRROR=$(mirror | head -n 1 || true)
  if [ -z "$MIRROR" ]; then
    echo "no Debian bookworm mirror found in /etc/apt" >&2
    exit 1
  fi
  ROOT=$(mktemp -d /var/tmp/python-base.XXXXXX)
  trap 'rm -rf "$ROOT"' EXIT
  echo "debootstrap bookworm from the mirror apt uses (about 2 minutes)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOT" "$MIRROR" >/dev/null
  # What the official slim image leaves out too: apt's lists and caches, docs.
  rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
    "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/*
  mkdir -p "$BASE_CACHE_DIR"
  tar -C "$ROOT" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
fi
podman import --quiet "$TARBALL" "$BASE_IMAGE" >/dev/null
echo "imported $BASE_IMAGE"
