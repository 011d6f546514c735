#!/usr/bin/env bash
# Build the devicebulk image (and its thingspace-sim target) from this checkout.
#
# 1. A wheelhouse in .build/wheelhouse, made with this machine's own pip and its own index
#    configuration, pinned by constraints.txt: the build itself needs no package index.
# 2. buildah (chroot isolation: no container engine needed), or docker/podman build.
#
# BASE: the base image (default the official python:3.11-slim-bookworm). BASE=localhost/python-base:bookworm
# builds on the debootstrapped stand-in (deploy/base-image.sh makes it when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-python:3.11-slim-bookworm}
IMAGE=${IMAGE:-devicebulk:dev}
SIM_IMAGE=${SIM_IMAGE:-devicebulk-thingspace-sim:dev}
PIP=${PIP:-.venv/bin/pip}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

if [ "$BASE" = localhost/python-base:bookworm ]; then
  BASE_IMAGE=$BASE deploy/base-image.sh
fi

echo "wheelhouse (pinned by constraints.txt)"
rm -rf .build/wheelhouse
mkdir -p .build/wheelhouse
# setuptools builds in each package's build/ folder and reuses it: a module deleted since the
# last build would otherwise still be in the wheel.
clean_builds() { rm -rf libs/*/build services/*/build tools/*/build; }
clean_builds
trap clean_builds EXIT
"$PIP" wheel -q --disable-pip-version-check -c constraints.txt -w .build/wheelhouse \
  libs/common services/intake-api services/bulk-worker services/callback-receiver \
  services/notifier tools/admin tools/thingspace-sim

args=(--build-arg "BASE=$BASE" --build-arg "VERSION=$VERSION"
      --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED" -f Containerfile)
if command -v buildah >/dev/null; then
  build=(buildah bud --isolation chroot --layers)
elif command -v podman >/dev/null; then
  build=(podman build)
else
  build=(docker build)
fi
echo "building $IMAGE on $BASE"
"${build[@]}" "${args[@]}" -t "$IMAGE" .
echo "building $SIM_IMAGE"
"${build[@]}" "${args[@]}" --target thingspace-sim -t "$SIM_IMAGE" .
