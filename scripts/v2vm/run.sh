#!/usr/bin/env bash
# scripts/v2vm/run.sh [--share DIR] [--] CMD [ARGS...]
#
# Runs CMD as root on a real pure cgroup v2 kernel: a throwaway QEMU VM
# (Debian's kernel, TCG emulation) whose root filesystem is this host's /,
# shared read-only over virtio-9p under a tmpfs overlay (writes vanish with
# the VM). Same cwd, same exported environment; CMD's stdout and stderr are
# streamed back separately; the exit status is CMD's. CMD's stdin is
# /dev/null. See docs/cgroups.md.
#
# In the guest: cgroup2 (nsdelegate) at /sys/fs/cgroup, the controllers in
# the root's subtree_control, and CMD in a leaf cgroup below a slice with the
# controllers enabled down to it, as on a systemd host.
#
#   --share DIR     DIR (absolute) is shared read-write at the same path: results come back through it
# Environment:
#   NS_ISOLATED_V2VM_CGROUP    CMD's cgroup (default /test.slice/runner.scope)
#   NS_ISOLATED_V2VM_MEM       guest memory (default 2G)
#   NS_ISOLATED_V2VM_SMP       vCPUs (default 1: under TCG one is faster than two on a 2-core host)
#   NS_ISOLATED_V2VM_ACCEL     QEMU's -accel (default tcg: emulation works everywhere; kvm where a stock kernel runs under it)
#   NS_ISOLATED_V2VM_TIMEOUT   seconds before the VM is killed (default 2400: a hang guard; the run
#                              takes ~4 min alone, ~15 min with two other full runs beside it)
#   NS_ISOLATED_V2VM_VERBOSE=1 print the guest's console and QEMU's log afterwards
#   NS_ISOLATED_V2VM_CACHE     where the assets are kept (see assets.sh)
# Exit status: CMD's; 124 timed out; 125 the VM could not run CMD; 126 no such cwd in the guest.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
share=
while [ $# -gt 0 ]; do
  case $1 in
    --share) share=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { sed -n '2,3p' "$0" >&2; exit 2; }
if [ -n "$share" ]; then
  share=$(realpath -e -- "$share") || { echo "v2vm: --share: no such directory" >&2; exit 2; }
  case $share in *,*) echo "v2vm: --share may not contain ','" >&2; exit 2 ;; esac
fi
assets=$(bash "$here/assets.sh") || exit 125

ctl=$(mktemp -d "${TMPDIR:-/tmp}/ns-isolated-v2vm.XXXXXX")
qpid= opid= epid=
cleanup() {
  for p in $qpid $opid $epid; do kill "$p" 2>/dev/null; done
  rm -rf -- "$ctl"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What the guest reads from the control share.
{
  printf 'GUEST=%q\nSHARE=%q\n' "$here/guest.sh" "$share"
  printf 'CGROUP=%q\n' "${NS_ISOLATED_V2VM_CGROUP:-/test.slice/runner.scope}"
  printf 'CONTROLLERS=%q\n' 'cpu memory pids io'
} >"$ctl/config"
printf '%s\0' "$@" >"$ctl/argv"
printf '%s' "$PWD" >"$ctl/cwd"
export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_)=' >"$ctl/env.sh"

# The guest's ttyS1/ttyS2 -> our stdout/stderr.
mkfifo "$ctl/out" "$ctl/err"
cat "$ctl/out" & opid=$!
cat "$ctl/err" >&2 & epid=$!

fs() { echo "-fsdev local,id=$1,path=$2,security_model=none${3:-} -device virtio-9p-pci,fsdev=$1,mount_tag=$1"; }
# shellcheck disable=SC2046 # word splitting of fs's output is meant
timeout -k 5 "${NS_ISOLATED_V2VM_TIMEOUT:-2400}" qemu-system-x86_64 \
  -accel "${NS_ISOLATED_V2VM_ACCEL:-tcg,thread=multi,tb-size=1024}" -cpu max -smp "${NS_ISOLATED_V2VM_SMP:-1}" -m "${NS_ISOLATED_V2VM_MEM:-2G}" \
  -nodefaults -no-user-config -display none -vga none -no-reboot \
  -kernel "$assets/vmlinux" -initrd "$assets/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init tsc=reliable mitigations=off cryptomgr.notests i8042.noaux i8042.nokbd i8042.nopnp no_timer_check" \
  -serial "file:$ctl/console.log" -serial "file:$ctl/out" -serial "file:$ctl/err" \
  $(fs hostroot / ,readonly=on,multidevs=remap) $(fs v2ctl "$ctl") ${share:+$(fs v2share "$share")} \
  </dev/null >"$ctl/qemu.log" 2>&1 &
qpid=$!
wait $qpid
qrc=$?
qpid=
# The readers end when QEMU closes the FIFOs; if it never opened them (an
# early failure) they would wait in open() forever: give them 5 s.
for _ in $(seq 50); do
  kill -0 $opid 2>/dev/null || kill -0 $epid 2>/dev/null || break
  sleep 0.1
done
kill $opid $epid 2>/dev/null
wait $opid $epid 2>/dev/null
opid= epid=

if [ -n "${NS_ISOLATED_V2VM_VERBOSE:-}" ]; then
  echo "---- v2vm: guest console" >&2; cat "$ctl/console.log" >&2
  echo "---- v2vm: qemu log" >&2; cat "$ctl/qemu.log" >&2
fi
[ -s "$ctl/rc" ] && exit "$(<"$ctl/rc")"
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
  echo "v2vm: timed out after ${NS_ISOLATED_V2VM_TIMEOUT:-2400} s (NS_ISOLATED_V2VM_TIMEOUT)" >&2
  exit 124
fi
echo "v2vm: the VM ended without an exit status (qemu exit $qrc); its console:" >&2
tail -n 25 "$ctl/console.log" >&2
cat "$ctl/qemu.log" >&2
exit 125
