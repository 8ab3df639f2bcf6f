#!/bin/sh
# /init of the kernel test guest: mount the basics, load the modules the
# host put in /lib/modules (in dependency order), mount the data disk, run
# the job (/job.sh: the checks, or the benchmark) and power off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
echo 1 > /proc/sys/kernel/panic_on_oops 2>/dev/null
while read -r m; do
	insmod "/lib/modules/$m" 2>/tmp/insmod || echo "@@PFS note init insmod $m: $(cat /tmp/insmod)"
done < /lib/modules/order
# The data disk: the host's images and expected listings.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 /dev/vda /data || echo "@@PFS note init cannot mount the data disk: $(ls /dev)"
# A subshell: whatever the job does, init goes on to power off.
( . /job.sh )
echo "@@PFS done"
sync
poweroff -f
