#!/usr/bin/env bash
# An emulated Raspberry Pi (arm64 Debian bookworm root under qemu-user) for the SDK's device-side leg.
# Recipe and traps: ../shared/TOOLCHAIN.md, "ARM64 (Raspberry Pi OS bookworm) under emulation".
#
#   scripts/arm64_root.sh build                  debootstrap the root (once), /opt/venv with the edge-ocr-sdk wheel [onnx,openvino]
#   scripts/arm64_root.sh run rpi4|rpi5 -- CMD   run CMD in /sdk inside the root as that board
#   scripts/arm64_root.sh clean                  unmount leftovers, delete the root (the pip cache stays)
#
# Everything lives in <checkout>/.arm64 (root, pip cache, lock), which ignores itself for git.
# Needs root (debootstrap, mount, chroot); installs qemu-user-static binfmt-support debootstrap if missing.
# Environment:
#   ARM64_ROOT       the root (default <checkout>/.arm64/root)
#   ARM64_PIP_CACHE  bound on /root/.cache/pip inside (default <checkout>/.arm64/pip-cache)
#   ARM64_MIRROR     Debian mirror (default http://deb.debian.org/debian)
#   ARM64_SDK_RO=1   bind the checkout read-only on /sdk in `run` (tests must then write only to /tmp)
#   SHARED           the shared dir with arm64/cpuinfo-<board> (default <checkout>/../shared), bound
#                    read-only on /shared
#   EDGE_SDK_*       passed through to `run`; values under the checkout or $SHARED are rewritten to
#                    /sdk/... and /shared/...
# Inside `run`: env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 QEMU_CPU=<board's core>,
# PYTHONDONTWRITEBYTECODE=1 and PYTEST_ADDOPTS="-p no:cacheprovider ..." so Python and pytest leave no
# caches in /sdk. Mounts are undone in reverse order on exit, failure or Ctrl-C; a run killed with
# SIGKILL leaves them, and the next build/run/clean removes them first.
set -euo pipefail

SDK=$(cd "$(dirname "$0")/.." && pwd)
STATE=$SDK/.arm64
R=${ARM64_ROOT:-$STATE/root}
PIP_CACHE=${ARM64_PIP_CACHE:-$STATE/pip-cache}
MIRROR=${ARM64_MIRROR:-http://deb.debian.org/debian}
SHARED=${SHARED:-$SDK/../shared}
[ ! -d "$SHARED" ] || SHARED=$(cd "$SHARED" && pwd)
SUITE=bookworm
# The aarch64 wheels of numpy, opencv-python-headless, onnxruntime and openvino bundle every library
# they link beyond minbase's libc6/libstdc++6/libgcc-s1/zlib1g (no libgomp1 etc. needed); `build`
# checks this with ldd. fonts-wqy-microhei: the CJK font save_to_img uses (edge_sdk/fonts.py).
DEB_PACKAGES=python3-venv,fonts-wqy-microhei
EXTRAS=onnx,openvino
PIP_EXTRA=pytest

log() { echo "arm64_root: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount, chroot)"
case "$R" in /*) ;; *) R=$PWD/$R ;; esac
R=${R%/}
[ -n "$R" ] && [ "$R" != / ] || die "ARM64_ROOT must not be /"
case "$PIP_CACHE" in /*) ;; *) PIP_CACHE=$PWD/$PIP_CACHE ;; esac

mkdir -p "$STATE"
[ -f "$STATE/.gitignore" ] || echo '*' > "$STATE/.gitignore"

# One user of the root at a time: two runs would stack binds on the same targets and undo each other's.
exec 9>"$STATE/lock"
flock -w 3600 9 || die "another arm64_root.sh holds $STATE/lock"

# --- mounts ----------------------------------------------------------------------------------------
# Mount points under the root, in mount order (/proc/self/mountinfo order), rbind children included.
mounts_under_root() {
  findmnt -rn -o TARGET | awk -v r="$R" 'index($0, r "/") == 1 || $0 == r'
}

unmount_all() {
  local t
  # reverse mount order: children before parents, the cpuinfo bind before /proc
  while read -r t; do
    [ -n "$t" ] || continue
    umount "$t" 2>/dev/null || umount -l "$t" || log "could not unmount $t"
    MOUNTED_LOG+=("umount $t")
  done < <(mounts_under_root | tac)
  if [ -n "$(mounts_under_root)" ]; then
    log "mounts left under $R:"; mounts_under_root >&2
    return 1
  fi
}

MOUNTED_LOG=()
mnt() {  # mnt <mount args...> ; the last argument is the target
  mount "$@"
  MOUNTED_LOG+=("mount $*")
}

# mount_root BOARD RW|RO : the mounts every chroot here needs
mount_root() {
  local board=$1 sdk_mode=$2 cpuinfo=$SHARED/arm64/cpuinfo-$1
  [ -f "$cpuinfo" ] || die "no $cpuinfo (set SHARED to the shared dir)"
  mkdir -p "$R/sdk" "$R/shared" "$R/root/.cache/pip" "$PIP_CACHE"
  mnt -t proc proc "$R/proc"
  mnt --rbind /sys "$R/sys"; mnt --make-rslave "$R/sys"   # rslave: unmounting never reaches the host's
  mnt --rbind /dev "$R/dev"; mnt --make-rslave "$R/dev"
  # qemu 7.2 shows the host's x86 /proc/cpuinfo and onnxruntime's CPU detection segfaults on it
  mnt --bind "$cpuinfo" "$R/proc/cpuinfo"; mnt -o remount,bind,ro "$R/proc/cpuinfo"
  # a fresh /tmp per run: pytest's basetemps and JIT perf-*.map files must not pile up in the root
  mnt -t tmpfs -o mode=1777 tmpfs "$R/tmp"
  mnt --bind "$SDK" "$R/sdk"
  [ "$sdk_mode" = RW ] || mnt -o remount,bind,ro "$R/sdk"
  mnt --bind "$SHARED" "$R/shared"; mnt -o remount,bind,ro "$R/shared"
  mnt --bind "$PIP_CACHE" "$R/root/.cache/pip"
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  unmount_all || rc=1
  [ -z "${ARM64_VERBOSE:-}" ] || printf 'arm64_root:   %s\n' "${MOUNTED_LOG[@]}" >&2
  exit "$rc"
}
with_mounts() {
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

qemu_cpu() {
  case "$1" in
    rpi4) echo cortex-a72 ;;
    rpi5) echo cortex-a76 ;;
    *) die "board must be rpi4 or rpi5, not '$1'" ;;
  esac
}

# in_root BOARD CMD... : CMD inside the (already mounted) root, clean environment, cwd /sdk
in_root() {
  local board=$1; shift
  local -a envv=(PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "QEMU_CPU=$(qemu_cpu "$board")"
                 PYTHONDONTWRITEBYTECODE=1 "PYTEST_ADDOPTS=-p no:cacheprovider${PYTEST_ADDOPTS:+ $PYTEST_ADDOPTS}")
  local name val sdk_real shared_real
  sdk_real=$(readlink -f "$SDK"); shared_real=$(readlink -f "$SHARED")
  while IFS= read -r name; do
    val=${!name}
    case "$val" in
      "$SDK"/*) val=/sdk/${val#"$SDK"/} ;;
      "$sdk_real"/*) val=/sdk/${val#"$sdk_real"/} ;;
      "$SHARED"/*) val=/shared/${val#"$SHARED"/} ;;
      "$shared_real"/*) val=/shared/${val#"$shared_real"/} ;;
    esac
    envv+=("$name=$val")
  done < <(compgen -e | grep '^EDGE_SDK_' || true)
  chroot "$R" /usr/bin/env -i "${envv[@]}" /bin/sh -c 'cd /sdk && exec "$@"' sh "$@"
}

# --- build steps -----------------------------------------------------------------------------------
step() {  # step NAME FUNC : time one build step
  local t0=$SECONDS
  "$2"
  log "step $1: $(( SECONDS - t0 )) s"
}

host_packages() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ -x /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
  command -v update-binfmts >/dev/null || missing+=(binfmt-support)
  if [ ${#missing[@]} = 0 ]; then log "host packages present"; return; fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

binfmt() {
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  local f=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if ! { [ -f "$f" ] && grep -qx enabled "$f"; }; then
    update-binfmts --enable qemu-aarch64
  fi
  # F (fix binary): the kernel holds qemu open, so chroot works without copying qemu into the root
  grep -q '^flags: .*F' "$f" || die "binfmt qemu-aarch64 lacks the F flag: $(grep flags "$f")"
}

root_key() { echo "suite=$SUITE variant=minbase include=$DEB_PACKAGES mirror=$MIRROR"; }

rootfs() {
  local stamp=$R/.arm64-root-stamp
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(root_key)" ]; then log "root up to date"; return; fi
  if [ -e "$R" ]; then
    log "removing incomplete or outdated root"
    remove_root
  fi
  mkdir -p "$R"
  nice -n 10 debootstrap --arch=arm64 --variant=minbase --include="$DEB_PACKAGES" \
    "$SUITE" "$R" "$MIRROR" > "$STATE/debootstrap.log" 2>&1 \
    || { tail -20 "$STATE/debootstrap.log" >&2; die "debootstrap failed (log: $STATE/debootstrap.log)"; }
  rm -rf "$R/var/cache/apt/archives/"*.deb
  root_key > "$stamp"
}

config() {  # cheap, every build: the host's network settings and CA bundle may have changed
  cp -L /etc/resolv.conf "$R/etc/resolv.conf"
  mkdir -p "$R/etc/ssl/certs"
  # the host CA bundle, or pip fails TLS; minbase has no ca-certificates
  cp -L /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$R/etc/pip.conf"
}

# The device install is the README's own line ("On a Raspberry Pi"), run as written in the folder that
# holds the wheel scripts/arm64_leg.sh built on x86 (a wheel file, so it cannot resolve to PyPI's
# unrelated "edge-sdk"). PIP_CONSTRAINT pins the same versions as the x86 leg without changing the line.
WHEEL_DIR=$STATE/handoff/dist
readme_install() {
  grep -E '^pip install "\./edge_ocr_sdk-[^"]+\.whl\[[a-z,]+\]"' "$SDK/README.md" | head -1 | sed 's/[[:space:]]*#.*$//'
}

venv_key() {
  { echo "extras=$EXTRAS extra=$PIP_EXTRA wheel"; readme_install; cat "$SDK/pyproject.toml" "$SDK/constraints.txt";
    sha256sum "$WHEEL_DIR"/*.whl 2>/dev/null; } | sha256sum | cut -d' ' -f1
}

venv() {
  local stamp=$R/opt/venv/.edge-sdk-stamp
  if [ -x "$R/opt/venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(venv_key)" ]; then
    log "venv up to date"; return
  fi
  local install
  install=$(readme_install)
  [ -n "$install" ] || die "README.md has no 'pip install \"./edge_ocr_sdk-...whl[...]\"' line (On a Raspberry Pi)"
  ls "$WHEEL_DIR"/*.whl >/dev/null 2>&1 || die "no wheel in $WHEEL_DIR: scripts/arm64_leg.sh builds it (pip wheel .)"
  mount_root rpi4 RW
  local t0=$SECONDS
  if [ ! -x "$R/opt/venv/bin/python" ]; then
    nice -n 10 chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 QEMU_CPU=cortex-a72 \
      python3 -m venv /opt/venv
    log "step venv-create: $(( SECONDS - t0 )) s"; t0=$SECONDS
  fi
  rm -f "$stamp"
  log "device install, as README.md writes it: $install"
  nice -n 10 chroot "$R" /usr/bin/env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    QEMU_CPU=cortex-a72 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PIP_CONSTRAINT=/sdk/constraints.txt \
    /bin/sh -c "cd /sdk/.arm64/handoff/dist && pip uninstall -q -y edge-ocr-sdk >/dev/null 2>&1; $install && pip install -q $PIP_EXTRA"
  log "step pip-install: $(( SECONDS - t0 )) s"; t0=$SECONDS
  # the SDK must come from the wheel, not from the checkout bound on /sdk
  chroot "$R" /usr/bin/env -i PATH=/opt/venv/bin:/usr/bin:/bin QEMU_CPU=cortex-a72 /bin/sh -c \
    'cd /tmp && python -c "import edge_sdk; assert edge_sdk.__file__.startswith(\"/opt/venv/\"), edge_sdk.__file__"' \
    || die "edge_sdk in the root does not come from the installed wheel"
  # every shared library in the venv must resolve inside the root (a missing Debian package shows here)
  local missing
  missing=$(chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin QEMU_CPU=cortex-a72 /bin/sh -c \
    'find /opt/venv -name "*.so*" -type f | while read -r f; do ldd "$f" 2>/dev/null | grep "not found" | sed "s|^|$f: |"; done' || true)
  [ -z "$missing" ] || { echo "$missing" >&2; die "shared libraries missing in the root (add Debian packages to DEB_PACKAGES)"; }
  in_root rpi4 python -c 'import onnxruntime, openvino, cv2, numpy, edge_sdk'
  log "step check-libs-and-imports: $(( SECONDS - t0 )) s"
  unmount_all
  venv_key > "$stamp"
}

remove_root() {
  unmount_all || die "refusing to delete $R while something is mounted under it"
  [ -d "$R" ] || return 0
  # only delete what looks like our root: a debootstrap target or an empty dir
  if [ -n "$(ls -A "$R")" ] && [ ! -e "$R/debootstrap" ] && [ ! -f "$R/.arm64-root-stamp" ] \
     && [ ! -f "$R/etc/debian_version" ]; then
    die "$R does not look like an arm64 root; not deleting it"
  fi
  rm -rf --one-file-system "$R"
}

cmd_build() {
  local t0=$SECONDS
  with_mounts
  unmount_all
  step host-packages host_packages
  step binfmt binfmt
  step debootstrap rootfs
  step config config
  step venv venv
  log "build: $(( SECONDS - t0 )) s total; root $(du -sh --one-file-system "$R" | cut -f1) at $R"
}

cmd_run() {
  [ $# -ge 1 ] || usage
  local board=$1; shift
  qemu_cpu "$board" >/dev/null
  [ "${1:-}" != -- ] || shift
  [ $# -ge 1 ] || set -- bash
  [ -x "$R/opt/venv/bin/python" ] && [ -f "$R/opt/venv/.edge-sdk-stamp" ] || die "no root at $R: run '$0 build' first"
  with_mounts
  unmount_all
  binfmt
  if [ "${ARM64_SDK_RO:-}" = 1 ]; then mount_root "$board" RO; else mount_root "$board" RW; fi
  local rc=0
  in_root "$board" "$@" || rc=$?
  exit "$rc"
}

cmd_clean() {
  with_mounts
  remove_root
  log "removed $R (pip cache kept at $PIP_CACHE)"
}

case "${1:-}" in
  build) shift; [ $# = 0 ] || usage; cmd_build ;;
  run) shift; cmd_run "$@" ;;
  clean) shift; [ $# = 0 ] || usage; cmd_clean ;;
  *) usage ;;
esac
