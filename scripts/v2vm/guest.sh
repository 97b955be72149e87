#!/bin/bash
# Stage 2 of the v2 VM: PID 1 in the guest after switch_root, read from the
# host's tree. Sets the cgroups up as systemd would on a pure-v2 host, runs
# the command in its cgroup with the host's cwd and environment, sends its
# stdout/stderr out through the serial ports ttyS1/ttyS2 (as pipes: the
# command sees no terminal, as in CI), leaves the exit status in the control
# share, and powers off.
ctl=/run/v2vm
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
off() {
  sync
  exec 2>/dev/null # the host's tree goes away with the power
  echo o >/proc/sysrq-trigger # QEMU runs with -no-reboot: power-off ends it
  sleep 10
}
for t in ttyS1 ttyS2; do stty -F /dev/$t raw -echo 2>/dev/null; done
exec 2>/dev/ttyS2
hostname v2vm
ip link set lo up 2>/dev/null || busybox ip link set lo up
. $ctl/config # CGROUP, CONTROLLERS

# Controllers in the root's subtree_control, as systemd enables them at boot;
# then the command's cgroup: a leaf (like a service or a CI job's scope) below
# a slice, with every controller enabled down to the slice.
for c in $CONTROLLERS; do
  echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || echo "v2vm: could not enable the $c controller" >&2
done
cg=/sys/fs/cgroup
IFS=/ read -ra parts <<<"${CGROUP#/}"
for ((i = 0; i < ${#parts[@]}; i++)); do
  cg=$cg/${parts[i]}
  mkdir -p "$cg"
  if ((i < ${#parts[@]} - 1)); then
    for c in $(<"$cg/cgroup.controllers"); do echo "+$c" >"$cg/cgroup.subtree_control"; done
  fi
done

mapfile -d '' -t argv <$ctl/argv
. $ctl/env.sh
cd -- "$(<$ctl/cwd)" || { echo 126 >$ctl/rc; off; }
mkfifo /run/out /run/err
cat /run/out >/dev/ttyS1 & out=$!
cat /run/err >/dev/ttyS2 & err=$!
# Join the cgroup before exec: the command and all it starts are in it.
bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "${argv[@]}" </dev/null >/run/out 2>/run/err
rc=$?
# Whatever the command left running (it may hold the pipes open) goes now.
for d in /sys/fs/cgroup/*/; do [ -e "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill"; done
wait $out $err
echo $rc >$ctl/rc
off
