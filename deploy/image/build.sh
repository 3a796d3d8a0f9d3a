#!/usr/bin/env bash
# Builds the image from the repository's Dockerfile with buildah (no Docker engine, no daemon),
# on a builder that cannot reach Docker Hub: the two base images the Dockerfile names are made
# here from Debian's mirror (debootstrap) and rustup, then the image is built and checked.
#
#   deploy/image/build.sh [TAG]          default TAG: localhost/nianbao:dev
#
# Needs root, `apt-get install buildah debootstrap`, and network to deb.debian.org,
# static.rust-lang.org and crates.io during the build. A builder behind a TLS-inspecting proxy
# sets EXTRA_CA_DIR to a folder of its CA certificates (*.crt): they go into the *build* base
# only, never into the runtime image. Where Docker Hub is reachable, `docker build .` (or
# `buildah bud .`) with the Dockerfile's default bases does the same.
#
# Checks after the build: every binary runs (`--version`/`--help`) as uid 10001 in the image,
# the image's user is 10001:10001, and its size is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-localhost/nianbao:dev}
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
work=${WORK:-/var/tmp/nianbao-image-bases}
runtime_base=localhost/nianbao-debian:bookworm-slim
rust_base=localhost/nianbao-rust:1.95-bookworm
step() { echo "== $*"; }

if ! buildah inspect --type image "$runtime_base" >/dev/null 2>&1; then
  step "runtime base $runtime_base (debootstrap --variant=minbase bookworm, docs and locales dropped as in debian:bookworm-slim)"
  rm -rf "$work/rootfs"; mkdir -p "$work"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/*.bin
  cat >"$work/rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
  find "$work/rootfs/usr/share/doc" -mindepth 2 ! -name copyright -type f -delete
  rm -rf "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/locale/* "$work"/rootfs/usr/share/info/*
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  cp -a "$work/rootfs/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  buildah commit -q "$ctr" "$runtime_base" >/dev/null
  buildah rm "$ctr" >/dev/null
fi

if ! buildah inspect --type image "$rust_base" >/dev/null 2>&1; then
  step "build base $rust_base (the runtime base with gcc, make, pkg-config, curl and rustup's 1.95.0, as rust:1.95-bookworm)"
  ctr=$(buildah from "$runtime_base")
  if [ -n "${EXTRA_CA_DIR:-}" ]; then
    buildah copy "$ctr" "$EXTRA_CA_DIR" /usr/local/share/ca-certificates/ >/dev/null
  fi
  buildah run "$ctr" -- sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc libc6-dev make pkg-config ca-certificates curl >/dev/null && rm -rf /var/lib/apt/lists/* && update-ca-certificates >/dev/null'
  buildah config --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
    --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  buildah run "$ctr" -- sh -c 'curl -sSf --proto =https https://static.rust-lang.org/rustup/dist/x86_64-unknown-linux-gnu/rustup-init -o /tmp/rustup-init && chmod +x /tmp/rustup-init && /tmp/rustup-init -q -y --no-modify-path --profile minimal --default-toolchain 1.95.0 && rm /tmp/rustup-init && chmod -R a+w /usr/local/rustup /usr/local/cargo'
  buildah commit -q "$ctr" "$rust_base" >/dev/null
  buildah rm "$ctr" >/dev/null
fi

step "the image $tag (buildah bud of ./Dockerfile)"
buildah bud --layers --build-arg RUST_IMAGE="$rust_base" --build-arg RUNTIME_IMAGE="$runtime_base" -t "$tag" .

step "checks"
user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
[ "$user" = "10001:10001" ] || { echo "image user is '$user', not 10001:10001"; exit 1; }
echo "user: $user"
ctr=$(buildah from "$tag")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
for b in nianbao-ingest nianbao-extraction nianbao-validation nianbao-notification nianbao-console nianbao-crawler; do
  # Each binary runs as 10001 and reaches its configuration loader (a missing file is its error).
  out=$(buildah run --user 10001:10001 "$ctr" -- "$b" --config /nonexistent.toml 2>&1 || true)
  case "$out" in
    *"loading the configuration"*) echo "$b: runs as 10001 (refuses a missing config file)" ;;
    *) echo "$b did not run as expected: $out"; exit 1 ;;
  esac
done
# One service started for real with its defaults (SQLite under /var/lib/nianbao, cleartext and no
# credentials on loopback, the broker awaited): the runtime, TLS provider and database work inside the image.
out=$(buildah run --user 10001:10001 "$ctr" -- sh -c \
  'NIANBAO_LISTEN=127.0.0.1:0 NIANBAO_TLS__PLAINTEXT=true NIANBAO_AUTH__DISABLED=true NIANBAO_BUS__URL=amqp://guest:guest@127.0.0.1:9/%2f timeout 5 nianbao-ingest; echo "exit $?"' 2>&1 || true)
case "$out" in
  *"nianbao-ingest starting"*"database ready"*"exit 124"*) echo "nianbao-ingest: started in the image, database ready, waiting for its broker" ;;
  *) echo "nianbao-ingest did not start in the image: $out"; exit 1 ;;
esac
buildah run --user 10001:10001 "$ctr" -- nianbao --version
buildah run --user 10001:10001 "$ctr" -- sh -c 'test ! -w /usr/local/bin && test -w /var/lib/nianbao && echo "binaries read-only for 10001; /var/lib/nianbao writable"'
echo "size: $(buildah images --format '{{.Size}}' "$tag")"
