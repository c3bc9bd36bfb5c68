// SPDX-License-Identifier: MIT
/*
 * kstate_dump: print one piece of kernel state, for debugging in the guest.
 *
 *   kstate_dump --pfn N | --rwsem ADDR | --xa MAPPING INDEX |
 *               --mapping ADDR | --task ADDR | --translate VA |
 *               --read VA LEN | --layout
 *   [--btf PATH] [--kcore PATH] [--kallsyms PATH] [--no-iomem]
 *
 * Numbers take C syntax (0x... for hex).  Output is JSON-like text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstate.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: kstate_dump [--btf P] [--kcore P] [--kallsyms P] [--no-iomem]\n"
		"         --pfn N | --rwsem ADDR | --xa MAPPING INDEX | --mapping ADDR\n"
		"         | --task ADDR | --translate VA | --read VA LEN | --layout\n"
		"         | --callers FN[,FN...]   (calls, tail calls, address references)\n");
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "kstate_dump: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void print_field(const char *name, const struct kfield *f)
{
	if (!f->found) {
		printf("  \"%s\": null,\n", name);
		return;
	}
	printf("  \"%s\": {\"off\": %u, \"size\": %u", name, f->off, f->size);
	if (f->bit_size)
		printf(", \"bit_off\": %u, \"bit_size\": %u", f->bit_off,
		       f->bit_size);
	printf("},\n");
}

static void dump_layout(const struct kstate_layout *l)
{
	char flags[1024];

	printf("{\n  \"sizeof_page\": %u, \"sizeof_folio\": %u,\n",
	       l->page_size, l->folio_size);
	print_field("page.flags", &l->page_flags);
	print_field(l->compound_info ? "page.compound_info" :
		    "page.compound_head", &l->page_compound_head);
	print_field("page.mapping", &l->page_mapping);
	print_field("page.index", &l->page_index);
	print_field("page._mapcount", &l->page_mapcount);
	print_field("page._refcount", &l->page_refcount);
	print_field("page.pgmap", &l->page_pgmap);
	print_field("folio.order", &l->folio_order);
	print_field("folio.nr_pages", &l->folio_nr_pages);
	print_field("folio._pincount", &l->folio_pincount);
	print_field("folio.entire_mapcount", &l->folio_entire_mapcount);
	print_field("folio._large_mapcount", &l->folio_large_mapcount);
	print_field("dev_pagemap.type", &l->pgmap_type);
	print_field("rw_semaphore.count", &l->rwsem_count);
	print_field("rw_semaphore.owner", &l->rwsem_owner);
	print_field("rw_semaphore.wait_list", &l->rwsem_wait_list);
	print_field("rw_semaphore.first_waiter", &l->rwsem_first_waiter);
	print_field("rwsem_waiter.task", &l->waiter_task);
	print_field("rwsem_waiter.type", &l->waiter_type);
	print_field("task_struct.pid", &l->task_pid);
	print_field("task_struct.comm", &l->task_comm);
	print_field("address_space.i_pages", &l->as_i_pages);
	print_field("address_space.invalidate_lock", &l->as_invalidate_lock);
	print_field("xa_node.slots", &l->xa_node_slots);
	kstate_pageflags_str(l, (1ULL << l->nr_pageflags) - 1, flags,
			     sizeof(flags));
	printf("  \"MEMORY_DEVICE_FS_DAX\": %" PRId64
	       ", \"MEMORY_DEVICE_GENERIC\": %" PRId64 ",\n",
	       l->mt_fs_dax, l->mt_generic);
	printf("  \"xa_chunk_size\": %u, \"nr_pageflags\": %u,\n",
	       l->xa_chunk_size, l->nr_pageflags);
	printf("  \"pageflags\": \"%s\"\n}\n", flags);
}

static const char *const mapping_kinds[] = {
	"none", "file", "anon", "movable", "ksm", "dax_shared",
};
static const char *const dev_kinds[] = {
	"none", "fs_dax", "generic", "private", "coherent", "p2pdma", "other",
};

static int dump_page(struct kstate *ks, uint64_t pfn)
{
	struct kpage pg;
	char flags[512];
	int ret = kstate_page_read(ks, pfn, &pg);

	if (ret)
		return ret;
	kstate_pageflags_str(kstate_layout(ks), pg.flags, flags, sizeof(flags));
	printf("{\"pfn\": %" PRIu64 ", \"page\": \"%#" PRIx64 "\", "
	       "\"flags\": \"%#" PRIx64 "\", \"flag_names\": \"%s\",\n",
	       pg.pfn, pg.addr, pg.flags, flags);
	printf(" \"refcount\": %d, \"mapcount\": %d, \"mapping\": \"%#" PRIx64
	       "\", \"mapping_kind\": \"%s\", \"index\": %" PRIu64 ",\n",
	       pg.refcount, pg.mapcount, pg.mapping,
	       mapping_kinds[pg.mapping_kind], pg.index);
	printf(" \"tail\": %s, \"head_pfn\": %" PRIu64 ", \"head_refcount\": %d"
	       ", \"large\": %s, \"order\": %d",
	       pg.tail ? "true" : "false", pg.head_pfn, pg.head_refcount,
	       pg.large ? "true" : "false", pg.order);
	if (pg.have_pincount)
		printf(", \"pincount\": %d", pg.pincount);
	if (pg.have_entire_mapcount)
		printf(", \"entire_mapcount\": %d", pg.entire_mapcount);
	printf(",\n \"zone_device\": %s, \"dev_kind\": \"%s\", \"pgmap\": \"%#"
	       PRIx64 "\"}\n", pg.zone_device ? "true" : "false",
	       dev_kinds[pg.dev_kind], pg.pgmap);
	return 0;
}

static void print_task(const char *key, const struct ktask *t, bool ok)
{
	if (!ok) {
		printf("\"%s\": null", key);
		return;
	}
	printf("\"%s\": {\"addr\": \"%#" PRIx64 "\", \"pid\": %d, \"tgid\": %d,"
	       " \"comm\": \"%s\"", key, t->addr, t->pid, t->tgid, t->comm);
	if (t->have_state)
		printf(", \"state\": %u", t->state);
	printf("}");
}

static int dump_rwsem(struct kstate *ks, uint64_t addr)
{
	static const char *const types[] = { "write", "read", "other" };
	struct krwsem rw;
	unsigned int i;
	int ret = kstate_rwsem_read(ks, addr, &rw);

	if (ret)
		return ret;
	printf("{\"addr\": \"%#" PRIx64 "\", \"count\": \"%#" PRIx64 "\", "
	       "\"owner_raw\": \"%#" PRIx64 "\",\n", rw.addr,
	       (uint64_t)rw.count, rw.owner_raw);
	printf(" \"writer_locked\": %d, \"waiters\": %d, \"handoff\": %d, "
	       "\"readers\": %" PRIu64 ", \"reader_owned\": %d, ",
	       rw.writer_locked, rw.waiters, rw.handoff, rw.readers,
	       rw.reader_owned);
	print_task("owner", &rw.owner, rw.owner_ok);
	printf(",\n \"wait_list\": [");
	for (i = 0; i < rw.nr_waiters; i++) {
		printf("%s{\"type\": \"%s\", ", i ? ", " : "",
		       types[rw.waiter[i].type]);
		print_task("task", &rw.waiter[i].task, rw.waiter[i].task_ok);
		printf("}");
	}
	printf("], \"truncated\": %d, \"broken\": %d}\n", rw.waiters_truncated,
	       rw.wait_list_broken);
	return 0;
}

static int dump_dax(struct kstate *ks, uint64_t mapping, uint64_t index)
{
	static const char *const kinds[] = {
		"empty", "value", "pointer", "node", "sibling", "retry",
		"zero", "internal",
	};
	struct kdax_result r;
	int ret = kstate_dax_lookup(ks, mapping, index, &r);

	if (ret)
		return ret;
	printf("{\"index\": %" PRIu64 ", \"kind\": \"%s\", \"entry\": \"%#"
	       PRIx64 "\", \"first_index\": %" PRIu64 ", \"order\": %u, "
	       "\"node\": \"%#" PRIx64 "\", \"depth\": %u", index,
	       kinds[r.xa.entry.kind], r.xa.entry.raw, r.xa.first_index,
	       r.xa.order, r.xa.node, r.xa.depth);
	if (r.present)
		printf(",\n \"dax\": {\"locked\": %d, \"pmd\": %d, \"zero_page\": %d"
		       ", \"empty\": %d, \"pfn\": %" PRIu64 ", \"pfn_at_index\": %"
		       PRIu64 "}", r.dax.locked, r.dax.pmd, r.dax.zero_page,
		       r.dax.empty, r.dax.pfn, r.pfn);
	printf("}\n");
	return 0;
}

static int dump_mapping(struct kstate *ks, uint64_t addr)
{
	struct kmapping m;
	int ret = kstate_mapping_read(ks, addr, &m);

	if (ret)
		return ret;
	printf("{\"mapping\": \"%#" PRIx64 "\", \"host\": \"%#" PRIx64 "\", "
	       "\"i_ino\": %" PRIu64 ", \"nrpages\": %" PRIu64 ",\n"
	       " \"i_pages\": \"%#" PRIx64 "\", \"invalidate_lock\": \"%#" PRIx64
	       "\", \"i_mmap_rwsem\": \"%#" PRIx64 "\", \"i_rwsem\": \"%#" PRIx64
	       "\"}\n", m.addr, m.host, m.i_ino, m.nrpages, m.i_pages,
	       m.invalidate_lock, m.i_mmap_rwsem, m.i_rwsem);
	return 0;
}

static int dump_task(struct kstate *ks, uint64_t addr)
{
	struct ktask t;
	int ret = kstate_task_read(ks, addr, &t);

	if (ret)
		return ret;
	printf("{");
	print_task("task", &t, true);
	printf("}\n");
	return 0;
}

static int dump_translate(struct kstate *ks, uint64_t va)
{
	uint64_t pa;
	int ret = kstate_translate(ks, va, &pa);

	if (!ret)
		printf("{\"va\": \"%#" PRIx64 "\", \"pa\": \"%#" PRIx64 "\"}\n",
		       va, pa);
	return ret;
}

static int dump_read(struct kstate *ks, uint64_t va, uint64_t len)
{
	uint8_t buf[4096];
	uint64_t i;
	int ret;

	if (len > sizeof(buf))
		len = sizeof(buf);
	ret = kstate_read(ks, va, buf, len);
	if (ret)
		return ret;
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 16 ? " " : (i ? "\n" : ""), buf[i]);
	printf("\n");
	return 0;
}

static void use_iomem_ranges(struct kstate *ks)
{
	struct kstate_pfn_range r[16];
	int n = kstate_iomem_pmem_ranges(NULL, r, 16);

	if (n > 0)
		kstate_set_device_ranges(ks, r, n);
}

/* --callers fn,fn,...: who calls each, measured in kernel code and data */
static int dump_callers(struct kstate *ks, char *list)
{
	struct kcallers c[32];
	struct kcallers_scan how;
	unsigned int n = 0;
	int ret;

	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && n < 32; tok = strtok_r(NULL, ",", &save)) {
		memset(&c[n], 0, sizeof(c[n]));
		c[n++].fn = tok;
	}
	ret = kstate_callers(ks, c, n, &how);
	if (ret)
		return ret;
	printf("scanned: code %llu bytes, data %llu (rodata %s, data %s), %d module ranges %llu bytes, %.0f ms\n",
	       (unsigned long long)how.code_bytes, (unsigned long long)how.data_bytes, how.rodata ? "yes" : "no",
	       how.data ? "yes" : "no", how.modules, (unsigned long long)how.module_bytes, how.ms);
	for (unsigned int i = 0; i < n; i++) {
		if (!c[i].found) {
			printf("%s: no such function\n", c[i].fn);
			continue;
		}
		printf("%s at %#llx: calls %u, tail calls %u, address references %u\n", c[i].fn,
		       (unsigned long long)c[i].t.addr, c[i].t.calls, c[i].t.jumps, c[i].t.refs);
		for (unsigned int j = 0; j < c[i].t.nr_sites; j++)
			printf("  %#llx %s\n", (unsigned long long)c[i].t.site[j], c[i].site_name[j]);
	}
	return 0;
}

/*
 * --near FN START LEN: where call/jmp rel32 in [START, START+LEN) land
 * around FN (-64..+64), to see how this kernel's calls address a function
 * (its own address, the __pfx_ padding, past ENDBR...).
 */
static int dump_near(struct kstate *ks, const char *fn, uint64_t start, uint64_t len)
{
	static uint8_t buf[(1 << 20) + 8];
	unsigned int hist[2][129] = { { 0 } };
	uint64_t addr, va;
	int ret = kstate_symbol(ks, fn, &addr);

	if (ret)
		return ret;
	for (va = start; va < start + len; va += 1 << 20) {
		size_t n = start + len - va < (1 << 20) + 8 ? start + len - va : (1 << 20) + 8;

		if (kstate_read(ks, va, buf, n))
			memset(buf, 0, n);
		for (size_t p = 0; p + 5 <= n && p < (1 << 20); p++) {
			int32_t rel;
			int64_t d;

			if (buf[p] != 0xe8 && buf[p] != 0xe9)
				continue;
			memcpy(&rel, buf + p + 1, 4);
			d = (int64_t)(va + p + 5 + rel - addr);
			if (d >= -64 && d <= 64)
				hist[buf[p] == 0xe9][d + 64]++;
		}
	}
	printf("%s at %#llx\n", fn, (unsigned long long)addr);
	for (int d = 0; d < 129; d++)
		if (hist[0][d] || hist[1][d])
			printf("  %+d: call %u, jmp %u\n", d - 64, hist[0][d], hist[1][d]);
	return 0;
}

int main(int argc, char **argv)
{
	char *callers = NULL, *near = NULL;
	struct kstate_opts opts = { 0 };
	const char *cmd = NULL;
	uint64_t a = 0, b = 0;
	bool iomem = true;
	char err[256];
	struct kstate *ks;
	int i, ret = 0;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		bool two = !strcmp(o, "--xa") || !strcmp(o, "--read");
		bool one = two || !strcmp(o, "--pfn") || !strcmp(o, "--rwsem") ||
			   !strcmp(o, "--mapping") || !strcmp(o, "--task") ||
			   !strcmp(o, "--translate");

		if (!strcmp(o, "--btf") && i + 1 < argc) {
			opts.btf_path = argv[++i];
		} else if (!strcmp(o, "--kcore") && i + 1 < argc) {
			opts.kcore_path = argv[++i];
		} else if (!strcmp(o, "--kallsyms") && i + 1 < argc) {
			opts.kallsyms_path = argv[++i];
		} else if (!strcmp(o, "--near") && i + 3 < argc) {
			cmd = o;
			near = argv[++i];
			a = num(argv[++i]);
			b = num(argv[++i]);
		} else if (!strcmp(o, "--callers") && i + 1 < argc) {
			cmd = o;
			callers = argv[++i];
		} else if (!strcmp(o, "--no-iomem")) {
			iomem = false;
		} else if (!strcmp(o, "--layout")) {
			cmd = o;
			opts.btf_only = true;
		} else if (one && i + 1 + two < argc) {
			cmd = o;
			a = num(argv[++i]);
			if (two)
				b = num(argv[++i]);
		} else {
			usage();
		}
	}
	if (!cmd)
		usage();
	ks = kstate_open(&opts, err, sizeof(err));
	if (!ks) {
		fprintf(stderr, "kstate_dump: %s\n", err);
		return 1;
	}
	if (iomem && !opts.btf_only)
		use_iomem_ranges(ks);
	if (!strcmp(cmd, "--layout"))
		dump_layout(kstate_layout(ks));
	else if (!strcmp(cmd, "--pfn"))
		ret = dump_page(ks, a);
	else if (!strcmp(cmd, "--rwsem"))
		ret = dump_rwsem(ks, a);
	else if (!strcmp(cmd, "--xa"))
		ret = dump_dax(ks, a, b);
	else if (!strcmp(cmd, "--mapping"))
		ret = dump_mapping(ks, a);
	else if (!strcmp(cmd, "--read"))
		ret = dump_read(ks, a, b);
	else if (!strcmp(cmd, "--translate"))
		ret = dump_translate(ks, a);
	else if (!strcmp(cmd, "--task"))
		ret = dump_task(ks, a);
	else if (!strcmp(cmd, "--near"))
		ret = dump_near(ks, near, a, b);
	else if (!strcmp(cmd, "--callers"))
		ret = dump_callers(ks, callers);
	if (ret)
		fprintf(stderr, "kstate_dump: %s\n", kstate_errmsg(ks));
	kstate_close(ks);
	return ret ? 1 : 0;
}
