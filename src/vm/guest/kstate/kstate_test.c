// SPDX-License-Identifier: MIT
/*
 * kstate unit tests, run on the build host; this file is the runner, the
 * tests are one file per part of the reader:
 *  - test_decode.c: pure decoders: rwsem count/owner, xarray entries, DAX
 *    entries, page flags, compound heads, the split of references and
 *    pins, the page-table walk over fake tables;
 *  - test_btf.c: BTF lookups against the host's /sys/kernel/btf/vmlinux and
 *    the BTF of each kernel era's vmlinux (Debian 6.1, 6.12, 7.2), with
 *    fixed expected values (checked against pahole and bpftool's raw dump)
 *    and, when bpftool is installed, a live cross-check against its raw
 *    dump (its own test point, a counted SKIP without bpftool);
 *  - test_fake.c, test_e2e.c: the whole reader (kcore ELF, kallsyms, page
 *    walk, page/rwsem/xarray) against a fake /proc/kcore and /proc/kallsyms
 *    built here, with structs laid out from the BTF under test.
 *
 * Output is TAP, as the kernel's kselftests print it: one test point per
 * test, "# " diagnostics, a trailing plan and a "# Totals:" line.
 *
 *   kstate_test [--btf ERA=VMLINUX]...     ERA: 6.1, 6.12 or 7.2
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "kstate_test.h"

int passed, failed;		/* single checks */
static int tap_nr, tap_pass, tap_fail, tap_skip;	/* test points */

void check(bool ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("# FAIL %s:%d: %s\n", file, line, what);
}

/* One TAP test point: ok unless a check inside @fn failed. */
static void tap_run(const char *name, void (*fn)(const void *),
		    const void *arg)
{
	int before = failed;

	printf("# RUN %s\n", name);
	fn(arg);
	tap_nr++;
	if (failed == before) {
		tap_pass++;
		printf("ok %d %s\n", tap_nr, name);
	} else {
		tap_fail++;
		printf("not ok %d %s\n", tap_nr, name);
	}
	fflush(stdout);
}

static void tap_skip_test(const char *name, const char *why)
{
	tap_nr++;
	tap_skip++;
	printf("ok %d %s # SKIP %s\n", tap_nr, name, why);
}

/* ------------------------------------------------------------ runner */

struct era {
	const char *name;	/* "6.1" */
	void (*layout)(const struct kstate_layout *l);
	const char *path;	/* vmlinux with .BTF, from --btf */
};

static struct era eras[] = {
	{ "6.1", test_layout_61, NULL },
	{ "6.12", test_layout_612, NULL },
	{ "7.2", test_layout_72, NULL },
};

#define NR_ERAS (sizeof(eras) / sizeof(eras[0]))

/* ------------------------------------------------- who calls a function */

static void put_rel(uint8_t *code, size_t at, const uint8_t *op, size_t oplen,
		    uint64_t base, uint64_t target)
{
	size_t end = at + oplen + 4;
	int32_t rel = (int32_t)(int64_t)(target - (base + end));

	memcpy(code + at, op, oplen);
	memcpy(code + at + oplen, &rel, 4);
}

static void t_textscan(const void *arg)
{
	static const uint8_t call[] = { 0xe8 }, jmp[] = { 0xe9 }, jne[] = { 0x0f, 0x85 },
			     lea[] = { 0x48, 0x8d, 0x05 }, mov[] = { 0x48, 0xc7, 0xc7 };
	const uint64_t base = 0xffffffff81000000ULL;
	uint8_t code[16384], data[64];
	struct ktext_target t[2];
	uint64_t fn = base + 0x1000, other = base + 0x1800, w;

	(void)arg;
	/* int3 filler: no opcode of interest */
	memset(code, 0xcc, sizeof(code));
	memset(t, 0, sizeof(t));
	t[0].addr = fn;
	t[1].addr = other;
	put_rel(code, 0x10, call, 1, base, fn);		/* direct call */
	put_rel(code, 0x20, call, 1, base, fn - 16);	/* into __pfx_fn */
	put_rel(code, 0x30, call, 1, base, fn - 17);	/* before the prefix: not fn's */
	put_rel(code, 0x40, jmp, 1, base, fn);		/* tail call */
	put_rel(code, 0x50, jmp, 1, base, fn + 1);	/* a jump into it: not a call */
	put_rel(code, 0x60, jne, 2, base, fn);		/* conditional tail call */
	put_rel(code, 0x70, lea, 3, base, fn);		/* address taken */
	put_rel(code, 0x80, call, 1, base, other);
	/* an immediate that is not rel32: mov $imm32 with fn's low bits */
	memcpy(code + 0x90, mov, sizeof(mov));
	memcpy(code + 0x93, &fn, 4);
	/* a call straddling a chunk border at 0x1ffe */
	put_rel(code, 0x1ffe, call, 1, base, other);

	/* in two chunks, the first one's last 8 bytes only there to finish it */
	ktext_scan_code(code, 0x2000 + 8, 0x2000, base, t, 2);
	ktext_scan_code(code + 0x2000, sizeof(code) - 0x2000, sizeof(code) - 0x2000, base + 0x2000, t, 2);
	CHECK_EQ(t[0].calls, 2);
	CHECK_EQ(t[0].jumps, 2);
	CHECK_EQ(t[0].refs, 1);
	CHECK_EQ(t[0].nr_sites, 4);
	CHECK_EQ(t[0].site[0], base + 0x10);
	CHECK_EQ(t[0].site[1], base + 0x20);
	CHECK_EQ(t[0].site[2], base + 0x40);
	CHECK_EQ(t[0].site[3], base + 0x60);
	CHECK_EQ(t[1].calls, 2);
	CHECK_EQ(t[1].jumps + t[1].refs, 0);
	CHECK_EQ(t[1].site[1], base + 0x1ffe);

	/* the same text with the border call cut off at the end: not counted */
	memset(t, 0, sizeof(t));
	t[1].addr = other;
	ktext_scan_code(code, 0x2001, 0x2001, base, &t[1], 1);
	CHECK_EQ(t[1].calls, 1);

	/* a function kallsyms lacks (address 0) among the targets changes nothing */
	memset(t, 0, sizeof(t));
	t[0].addr = 0;
	t[1].addr = other;
	ktext_scan_code(code, sizeof(code), sizeof(code), base, t, 2);
	CHECK_EQ(t[1].calls, 2);
	CHECK_EQ(t[0].calls + t[0].jumps + t[0].refs, 0);

	/* data: an ops table with the address, and a user address that is not */
	memset(data, 0, sizeof(data));
	memset(t, 0, sizeof(t));
	t[0].addr = fn;
	memcpy(data + 8, &fn, 8);
	memcpy(data + 20, &fn, 8);		/* unaligned: not a pointer */
	w = fn & 0xffffffffffffULL;
	memcpy(data + 32, &w, 8);
	ktext_scan_data(data, sizeof(data), t, 1);
	CHECK_EQ(t[0].refs, 1);
	t[0].refs = 0;
	t[1].addr = 0;
	ktext_scan_data(data, sizeof(data), t, 2);
	CHECK_EQ(t[0].refs, 1);
	CHECK_EQ(t[0].calls + t[0].jumps, 0);
}

static void t_pure(const void *arg)
{
	(void)arg;
	test_rwsem_decode();
	test_xa_decode();
	test_dax_decode();
}

static void t_split_refs(const void *arg)
{
	(void)arg;
	test_split_refs();
}

static void t_compound_head(const void *arg)
{
	(void)arg;
	test_compound_head();
}

static void t_pt_walk(const void *arg)
{
	(void)arg;
	test_pt_walk();
	test_iomem();
}

static void t_errors(const void *arg)
{
	(void)arg;
	test_btf_errors();
	test_kcore_errors();
}

static void t_host_btf(const void *arg)
{
	(void)arg;
	test_host_btf();
}

static void t_e2e_host(const void *arg)
{
	test_e2e(NULL, *(const int *)arg);
}

static void t_era_btf(const void *arg)
{
	const struct era *e = arg;
	struct kstate *ks = open_btf(e->path);

	CHECK(ks != NULL);
	if (!ks)
		return;
	test_member_paths(kstate_btf(ks));
	test_enums(kstate_btf(ks));
	e->layout(kstate_layout(ks));
	if (e->layout == test_layout_61)
		test_bitfield_61(kstate_btf(ks));
	kstate_close(ks);
}

static void t_bpftool(const void *arg)
{
	test_against_bpftool(arg);
}

static void t_era_e2e5(const void *arg)
{
	test_e2e(((const struct era *)arg)->path, 5);
}

static void t_era_e2e4(const void *arg)
{
	test_e2e(((const struct era *)arg)->path, 4);
}

static int set_era(const char *spec)
{
	const char *eq = strchr(spec, '=');
	size_t i;

	for (i = 0; eq && i < NR_ERAS; i++) {
		if (strlen(eras[i].name) != (size_t)(eq - spec) ||
		    strncmp(eras[i].name, spec, eq - spec))
			continue;
		eras[i].path = eq + 1;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const int five = 5, four = 4;
	bool host = !access("/sys/kernel/btf/vmlinux", R_OK);
	bool bpftool = !system("bpftool version >/dev/null 2>&1");
	char name[128];
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--btf") && a + 1 < argc &&
		    !set_era(argv[a + 1])) {
			a++;
			continue;
		}
		fprintf(stderr, "usage: kstate_test [--btf ERA=VMLINUX]... "
			"(ERA: 6.1, 6.12, 7.2)\n");
		return 2;
	}
	printf("TAP version 13\n");
	tap_run("decoders: rwsem, xarray, DAX entries", t_pure, NULL);
	tap_run("references and pins by era", t_split_refs, NULL);
	tap_run("compound head: pointer and 7.x mask", t_compound_head, NULL);
	tap_run("page-table walk and iomem", t_pt_walk, NULL);
	tap_run("error messages", t_errors, NULL);
	tap_run("call sites and address references in code and data", t_textscan, NULL);
	if (host) {
		tap_run("host BTF", t_host_btf, NULL);
		tap_run("fake kcore, host BTF, 5-level", t_e2e_host, &five);
		tap_run("fake kcore, host BTF, 4-level", t_e2e_host, &four);
		if (bpftool)
			tap_run("host BTF: bpftool cross-check", t_bpftool, NULL);
		else
			tap_skip_test("host BTF: bpftool cross-check", "no bpftool");
	} else {
		tap_skip_test("host BTF", "no /sys/kernel/btf/vmlinux");
	}
	for (i = 0; i < NR_ERAS; i++) {
		const struct era *e = &eras[i];

		snprintf(name, sizeof(name), "%s BTF: layout", e->name);
		if (!e->path) {
			tap_skip_test(name, "no vmlinux given (--btf)");
			continue;
		}
		tap_run(name, t_era_btf, e);
		snprintf(name, sizeof(name), "%s BTF: bpftool cross-check", e->name);
		if (bpftool)
			tap_run(name, t_bpftool, e->path);
		else
			tap_skip_test(name, "no bpftool");
		snprintf(name, sizeof(name), "fake kcore, %s BTF, 5-level",
			 e->name);
		tap_run(name, t_era_e2e5, e);
		snprintf(name, sizeof(name), "fake kcore, %s BTF, 4-level",
			 e->name);
		tap_run(name, t_era_e2e4, e);
	}
	printf("1..%d\n", tap_nr);
	printf("# %d checks passed, %d failed\n", passed, failed);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       tap_pass, tap_fail, tap_skip);
	return tap_fail ? 1 : 0;
}
