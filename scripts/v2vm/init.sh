#!/bin/busybox sh
# /init of the v2 VM's initramfs (PID 1, busybox). Generic: what it runs next
# (scripts/v2vm/guest.sh, from the host's tree) is named by the control share.
#   host /  (9p, read-only) + a tmpfs overlay  ->  the new root
#   a pure cgroup2 at /sys/fs/cgroup (nsdelegate, as systemd mounts it)
#   the control share at /run/v2vm, the results share at its host path
/bin/busybox --install -s /bin
export PATH=/bin
die() {
  echo "v2vm init: $*" >/dev/console
  echo o >/proc/sysrq-trigger
  sleep 5
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod "/lib/modules/$m.ko" || die "insmod $m"; done
O=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /mnt/ctl /mnt/lower /mnt/upper /newroot
mount -t 9p -o $O,cache=none v2ctl /mnt/ctl || die "mount the control share"
. /mnt/ctl/config # GUEST (the stage-2 script), SHARE (may be empty)
# The host's tree does not change during a run: cache it (file opens are the slow part).
mount -t 9p -o $O,cache=loose,ro hostroot /mnt/lower || die "mount the host root"
mount -t tmpfs -o mode=0755 tmpfs /mnt/upper || die "tmpfs"
mkdir -p /mnt/upper/u /mnt/upper/w
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/upper/u,workdir=/mnt/upper/w overlay /newroot || die "overlay"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || die "mount cgroup2"
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t mqueue mqueue $R/dev/mqueue 2>/dev/null
mount -t tmpfs -o mode=0755 tmpfs $R/run
mkdir -p $R/run/v2vm
mount --move /mnt/ctl $R/run/v2vm
if [ -n "$SHARE" ]; then
  mkdir -p "$R$SHARE"
  mount -t 9p -o $O,cache=none v2share "$R$SHARE" || die "mount the results share"
fi
exec switch_root $R /bin/bash "$GUEST"
