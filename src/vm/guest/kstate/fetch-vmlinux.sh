#!/bin/sh
# Fetch a Debian kernel image package and extract its vmlinux (with .BTF),
# for the BTF tests:  fetch-vmlinux.sh 6.1.0-56-amd64 OUT
# Like the kernel's scripts/extract-vmlinux: find the compressed payload
# in the bzImage by its magic and decompress from there.
set -eu
kver=$1
out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

chmod 755 "$tmp"	# let apt's sandbox user write there
cd "$tmp"
apt-get download "linux-image-$kver" >/dev/null
dpkg-deb -x linux-image-*.deb root
img=root/boot/vmlinuz-$kver

try() { # try MAGIC DECOMPRESSOR: first offset of MAGIC, decompress to vmlinux
	off=$(LC_ALL=C grep -obUaP "$1" "$img" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || return 1
	# the payload is followed by more of the bzImage: ignore that error
	tail -c +$((off + 1)) "$img" | $2 > vmlinux 2>/dev/null || true
	[ "$(head -c 4 vmlinux | od -An -c | tr -d ' ')" = "177ELF" ]
}
try '\xfd7zXZ\x00' 'xz -dc' || try '\x28\xb5\x2f\xfd' 'zstd -dc' ||
	try '\x1f\x8b\x08' 'gzip -dc' || {
	echo "fetch-vmlinux: no vmlinux found in $img" >&2
	exit 1
}
mkdir -p "$(dirname "$out")"
mv vmlinux "$out.tmp"
mv "$out.tmp" "$out"
echo "fetch-vmlinux: $out"
