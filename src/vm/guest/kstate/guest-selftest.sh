#!/bin/sh
# Boot the guest kernel under TCG with one fsdax NVDIMM and run
# kstate_selftest (and a few kstate_dump calls) against the live kernel.
#   guest-selftest.sh VMLINUZ BASE_CPIO [BUILD_DIR]
# BASE_CPIO is a daxlab guest image (busybox, modules, ndctl and mkfs.xfs
# in /usr/libexec/daxlab); a second cpio with our /init is appended to it.
set -eu
kernel=$1
base=$2
build=${3:-build}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

mkdir "$tmp/root"
cp "$build/kstate_selftest" "$build/kstate_dump" "$tmp/root/"
cat > "$tmp/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /mnt /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
for m in nfit nd_pmem crc32c_generic libcrc32c xfs; do modprobe $m; done
/usr/libexec/daxlab/ndctl create-namespace -f -e namespace0.0 -m fsdax -M mem >/dev/null
/usr/libexec/daxlab/mkfs.xfs -q -f -m reflink=0 /dev/pmem0
mount -t xfs -o dax /dev/pmem0 /mnt
/kstate_selftest /mnt
echo "selftest-exit: $?"
pfn=$(awk '/Persistent Memory$/ { split($1, a, "-"); print "0x" a[1]; exit }' /proc/iomem)
/kstate_dump --pfn $((pfn / 4096 + 0x218)) | head -3
/kstate_dump --translate 0x$(awk '$3 == "init_top_pgt" { print $1 }' /proc/kallsyms)
poweroff -f
INIT
chmod +x "$tmp/root/init"
(cd "$tmp/root" && find . -mindepth 1 | cpio -o -H newc 2>/dev/null) > "$tmp/mine.cpio"
cat "$base" "$tmp/mine.cpio" > "$tmp/lab.cpio"
truncate -s 1G "$tmp/pmem0.img"
timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 \
	-machine pc,nvdimm=on -m 2G,slots=2,maxmem=8G \
	-object memory-backend-file,id=mem1,share=on,mem-path="$tmp/pmem0.img",size=1G \
	-device nvdimm,id=nv1,memdev=mem1 \
	-kernel "$kernel" -initrd "$tmp/lab.cpio" \
	-append "console=ttyS0 quiet" -nographic -no-reboot > "$tmp/console.log" 2>&1 || true
sed -n '/kstate_open/,/reboot: Power down/p' "$tmp/console.log" | tr -d '\r'
grep -q 'selftest-exit: 0' "$tmp/console.log"
