#!/usr/bin/env bash
# The v2 VM's assets, built once and cached: a kernel from Debian's
# `linux-image-amd64` (downloaded with apt-get download and unpacked with
# dpkg-deb -x, never installed) turned into a plain vmlinux that QEMU boots
# directly, and an initramfs of busybox-static + the 9p/overlay modules +
# init.sh. Also installs qemu-system-x86 and busybox-static (root + apt-get).
#
#   assets.sh          ensure everything; print the assets directory on stdout
#   assets.sh check    exit 0 when the VM can run here (possibly after
#                      installing), else print why not and exit 3
#
# Cache: $NS_ISOLATED_V2VM_CACHE, default /var/tmp/ns-isolated-v2vm. Outside
# the repository on purpose: CI runs in a clean clone, and the kernel is a
# 70 MB download; /var/tmp survives reboots, /tmp may not. Every worktree
# shares it: the assets directory is named after a hash of what goes into
# the initramfs, and a build takes a lock and lands with one rename.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NS_ISOLATED_V2VM_CACHE:-/var/tmp/ns-isolated-v2vm}
# The modules init.sh loads, in load order (dependencies first).
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  netfs fscache 9pnet 9pnet_virtio 9p overlay)
key=$( { cat "$here/init.sh"; echo "${modules[*]}"; } | sha256sum | cut -c1-12)
assets=$cache/$key

say() { printf 'v2vm: %s\n' "$*" >&2; }
ready() { [ -s "$assets/vmlinux" ] && [ -s "$assets/initramfs.cpio.gz" ]; }
static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }
have_tools() { command -v qemu-system-x86_64 >/dev/null && static_busybox; }
is_root() { [ "$(id -u)" = 0 ]; }

kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Why the VM cannot run here, or nothing.
why_not() {
  if [ "$(uname -m)" != x86_64 ]; then echo "the v2 VM is x86_64 only (this is $(uname -m))"; return; fi
  if ready && have_tools; then return; fi
  if ! is_root; then
    echo "not root: installing qemu-system-x86 and busybox-static and building the VM's kernel and initramfs need root (once; then the cache in $cache serves everyone)"
    return
  fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "no apt-get/dpkg-deb: the VM's packages (qemu-system-x86, busybox-static, linux-image-amd64) come from Debian's archive"
    return
  fi
  if ! ready && [ -z "$(kernel_package)" ] && ! { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1 && [ -n "$(kernel_package)" ]; }; then
    echo "apt knows no linux-image-amd64 (Debian's kernel package; the VM needs a Debian kernel)"
  fi
}

install_tools() {
  have_tools && return
  say "installing qemu-system-x86 and busybox-static (apt-get)"
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends qemu-system-x86 busybox-static >/dev/null
  static_busybox || { say "/bin/busybox is not the static one (busybox-static)"; exit 1; }
}

build() {
  local b=$1 pkg kver vmlinuz off m f
  pkg=$(kernel_package)
  [ -n "$pkg" ] || { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null; pkg=$(kernel_package); }
  [ -n "$pkg" ] || { say "apt knows no linux-image-amd64"; exit 1; }
  mkdir -p "$cache/debs" "$b/k" "$b/ir/lib/modules"
  if ! compgen -G "$cache/debs/${pkg}_*.deb" >/dev/null; then
    say "downloading $pkg (apt-get download)"
    (cd "$cache/debs" && apt-get -o DPkg::Lock::Timeout=600 download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
  fi
  dpkg-deb -x "$(compgen -G "$cache/debs/${pkg}_*.deb" | tail -1)" "$b/k"
  kver=$(ls "$b/k/lib/modules")
  vmlinuz=$b/k/boot/vmlinuz-$kver
  # QEMU boots an uncompressed ELF kernel directly (PVH), ~8x faster than a
  # bzImage through the BIOS: cut the bzImage at its xz payload and unpack it.
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1)
  [ -n "$off" ] || { say "$vmlinuz has no xz payload"; exit 1; }
  tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream >"$b/vmlinux" 2>/dev/null || true
  [ "$(head -c 4 "$b/vmlinux" | tail -c 3)" = ELF ] || { say "could not unpack $vmlinuz"; exit 1; }
  for m in "${modules[@]}"; do
    f=$(find "$b/k/lib/modules/$kver/kernel" -name "$m.ko" -o -name "$m.ko.xz" | head -1)
    [ -n "$f" ] || { say "module $m not in $pkg"; exit 1; }
    case $f in
      *.xz) xz -dc "$f" >"$b/ir/lib/modules/$m.ko" ;;
      *) cp "$f" "$b/ir/lib/modules/$m.ko" ;;
    esac
  done
  printf '%s\n' "${modules[@]}" >"$b/ir/modules.order"
  mkdir -p "$b/ir"/{bin,dev,proc,sys,mnt}
  cp /bin/busybox "$b/ir/bin/busybox"
  cp "$here/init.sh" "$b/ir/init"
  chmod 0755 "$b/ir/init"
  (cd "$b/ir" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$b/initramfs.cpio.gz"
  echo "$pkg" >"$b/kernel-package"
  rm -rf "$b/k" "$b/ir"
}

if [ "${1:-}" = check ]; then
  reason=$(why_not)
  [ -z "$reason" ] && exit 0
  echo "$reason"
  exit 3
fi

reason=$(why_not)
[ -z "$reason" ] || { say "$reason"; exit 3; }
if ! ready || ! have_tools; then
  install_tools
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  if ! ready; then
    say "building the VM's kernel and initramfs in $assets"
    tmp=$(mktemp -d "$cache/build.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    build "$tmp"
    rm -rf "$assets"
    chmod 0755 "$tmp"
    mv "$tmp" "$assets"
    trap - EXIT
    say "assets ready ($(cat "$assets/kernel-package"))"
  fi
fi
echo "$assets"
