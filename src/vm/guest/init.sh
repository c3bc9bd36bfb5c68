#!/bin/busybox sh
# PID 1 of the daxlab guest: mount the pseudo filesystems, load the modules the image
# lists, then run the agent. The agent does the lab set-up on the host's request.
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
read init_start _ < /proc/uptime
echo "daxlab-init: start at ${init_start}s"

# busybox modprobe ignores softdeps: the host resolved them and wrote the load order, one
# module a line ("?name": a softdep, whose failure is not fatal).
while read -r module; do
	[ -n "$module" ] || continue
	modprobe "${module#\?}" || echo "daxlab-init: modprobe ${module#\?} failed"
done < /etc/daxlab/modules
read modules_done _ < /proc/uptime
echo "daxlab-init: modules loaded at ${modules_done}s"

/sbin/daxlab-agent --init-start "$init_start" --modules-done "$modules_done"
echo "daxlab-init: agent exited with status $?"
sync
poweroff -f
