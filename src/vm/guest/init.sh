#!/bin/busybox sh
# PID 1 of the daxlab guest. The agent does the early work itself (--init: the pseudo
# filesystems, then the profile's modules with finit_module, in the background, in the
# order the host resolved; busybox's applet links come made in the image), and the lab
# set-up on the host's request. This shell only starts it and powers off after it.
/sbin/daxlab-agent --init
echo "daxlab-init: agent exited with status $?"
sync
/bin/busybox poweroff -f
