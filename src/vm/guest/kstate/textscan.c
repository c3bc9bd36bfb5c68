// SPDX-License-Identifier: MIT
/*
 * Who calls a function, measured in the running kernel's code: a scan of
 * text for x86-64 instructions whose rel32 operand lands on it, and of data
 * for its address.  A kprobe on a function every caller inlined attaches and
 * never fires; this tells such a function from one that is called.
 *
 * What counts (arch/x86, as the compiler and objtool emit it):
 *  - call rel32 (e8) to the function or into its 16-byte prefix
 *    (__pfx_<fn>, CALL_PADDING: call-depth thunks are called there);
 *  - jmp rel32 (e9) and jcc rel32 (0f 80..8f) to the function itself:
 *    tail calls;
 *  - lea rel32(%rip) (8d, mod 00 rm 101): its address taken in code;
 *  - an 8-byte aligned word equal to its address in the kernel's data and
 *    rodata: ops tables (not in modules' memory: see kstate_callers()).
 * Byte positions are not decoded into instructions, so an immediate that
 * happens to look like one of these can count; for one function among ~20
 * MiB of text that is a few in a billion per position and target.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define PFX_BYTES	16	/* CONFIG_FUNCTION_PADDING_BYTES on x86-64 */
#define KERNEL_HALF	0xffff800000000000ULL

static int32_t rel32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void note(struct ktext_target *t, uint64_t site, unsigned int *count)
{
	(*count)++;
	if (t->nr_sites < KTEXT_SITES)
		t->site[t->nr_sites++] = site;
}

#define PAGE_BITS	65536

static inline void page_mark(uint64_t *bits, uint64_t addr)
{
	uint64_t h = (addr >> 12) % PAGE_BITS;

	bits[h / 64] |= 1ULL << (h % 64);
}

static inline bool page_marked(const uint64_t *bits, uint64_t addr)
{
	uint64_t h = (addr >> 12) % PAGE_BITS;

	return bits[h / 64] >> (h % 64) & 1;
}

/*
 * The lowest and highest kernel address among @t (an address below the
 * kernel half, such as 0 for a function kallsyms lacks, is nobody's):
 * false when there is none.
 */
static bool target_bounds(const struct ktext_target *t, unsigned int n, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (t[i].addr < KERNEL_HALF)
			continue;
		if (t[i].addr < *lo)
			*lo = t[i].addr;
		if (t[i].addr > *hi)
			*hi = t[i].addr;
	}
	return *hi != 0;
}

/*
 * @code holds @len bytes at kernel address @base; instructions may start at
 * positions [0, @scan_len), and @len - @scan_len bytes past them are there
 * to finish the last ones (the next chunk starts at @scan_len).
 */
void ktext_scan_code(const uint8_t *code, size_t len, size_t scan_len, uint64_t base,
		     struct ktext_target *t, unsigned int n)
{
	uint64_t lo, hi, page_bits[PAGE_BITS / 64] = { 0 };

	/* a target outside [lo - prefix, hi] is nobody's: most positions stop there */
	if (!target_bounds(t, n, &lo, &hi))
		return;
	lo -= PFX_BYTES;
	/* and one whose 4 KiB page (hashed) holds no target: nearly all of the rest */
	for (unsigned int i = 0; i < n; i++) {
		if (t[i].addr < KERNEL_HALF)
			continue;
		page_mark(page_bits, t[i].addr);
		page_mark(page_bits, t[i].addr - PFX_BYTES);
	}
	for (size_t p = 0; p < scan_len && p + 5 <= len; p++) {
		uint8_t op = code[p];
		uint64_t target;
		unsigned int i;

		if (op == 0xe8 || op == 0xe9) {
			target = base + p + 5 + (int64_t)rel32(code + p + 1);
			if (target < lo || target > hi || !page_marked(page_bits, target))
				continue;
			for (i = 0; i < n; i++) {
				if (op == 0xe8 && target <= t[i].addr && target + PFX_BYTES >= t[i].addr)
					note(&t[i], base + p, &t[i].calls);
				else if (op == 0xe9 && target == t[i].addr)
					note(&t[i], base + p, &t[i].jumps);
			}
			continue;
		}
		if ((op != 0x0f && op != 0x8d) || p + 6 > len)
			continue;
		if (op == 0x0f && (code[p + 1] & 0xf0) == 0x80) {
			target = base + p + 6 + (int64_t)rel32(code + p + 2);
			if (target < lo || target > hi || !page_marked(page_bits, target))
				continue;
			for (i = 0; i < n; i++)
				if (target == t[i].addr)
					note(&t[i], base + p, &t[i].jumps);
		} else if (op == 0x8d && (code[p + 1] & 0xc7) == 0x05) {
			target = base + p + 6 + (int64_t)rel32(code + p + 2);
			if (target < lo || target > hi || !page_marked(page_bits, target))
				continue;
			for (i = 0; i < n; i++)
				if (target == t[i].addr)
					t[i].refs++;
		}
	}
}

void ktext_scan_data(const uint8_t *data, size_t len, struct ktext_target *t, unsigned int n)
{
	uint64_t lo, hi;

	if (!target_bounds(t, n, &lo, &hi))
		return;
	for (size_t p = 0; p + 8 <= len; p += 8) {
		uint64_t v;

		memcpy(&v, data + p, sizeof(v));
		if (v < lo || v > hi)
			continue;
		for (unsigned int i = 0; i < n; i++)
			if (v == t[i].addr)
				t[i].refs++;
	}
}

#define CHUNK	(1U << 20)

void (*kstate_progress)(void);

int kstate_scan_range(struct kstate *ks, uint64_t start, uint64_t end, bool code,
		      struct ktext_target *t, unsigned int n, uint64_t *unreadable)
{
	uint8_t *buf = malloc(CHUNK + 8);
	uint64_t va;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	/* chunks overlap by 8 bytes: each one finishes the instructions the last one began */
	start &= ~7ULL;
	for (va = start; va < end; va += CHUNK - 8) {
		size_t len = end - va < CHUNK ? end - va : CHUNK;

		if (kstate_progress)
			kstate_progress();
		ret = kstate_read(ks, va, buf, len);
		if (ret) {
			/* a hole (module memory is not one allocation): page by page, zeroes for what is unmapped */
			ret = 0;
			for (size_t off = 0; off < len; off += 4096 - ((va + off) & 4095)) {
				size_t piece = 4096 - ((va + off) & 4095);

				if (piece > len - off)
					piece = len - off;
				if (kstate_read(ks, va + off, buf + off, piece)) {
					memset(buf + off, 0, piece);
					*unreadable += piece;
				}
			}
		}
		if (ret)
			break;
		if (code)
			ktext_scan_code(buf, len, va + len >= end ? len : len - 8, va, t, n);
		else
			ktext_scan_data(buf, va + len >= end ? len : len - 8, t, n);
		if (va + len >= end)
			break;
	}
	free(buf);
	return ret;
}

/* ------------------------------------------------- the running kernel */

struct range {
	uint64_t start, end;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Module memory from /proc/modules ("name size refs deps state 0xaddr"), sorted, merged. */
static int module_ranges(const char *path, struct range *r, int max)
{
	char line[512];
	unsigned long long size, addr;
	FILE *f = fopen(path, "re");
	int n = 0, m = 0;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %llu %*s %*s %*s %llx", &size, &addr) != 2 || !addr)
			continue;
		r[n].start = addr;
		r[n].end = addr + size;
		n++;
	}
	fclose(f);
	qsort(r, n, sizeof(*r), range_cmp);
	for (int i = 0; i < n; i++) {
		if (m && r[i].start <= r[m - 1].end) {
			if (r[i].end > r[m - 1].end)
				r[m - 1].end = r[i].end;
			continue;
		}
		r[m++] = r[i];
	}
	return m;
}

enum { B_STEXT, B_ETEXT, B_RODATA, B_ERODATA, B_SDATA, B_EDATA, NR_BOUNDS };
static const char *const bounds[NR_BOUNDS] = {
	"_stext", "_etext", "__start_rodata", "__end_rodata", "_sdata", "_edata",
};

/*
 * "ffffffff81234560 t name\t[module]" without sscanf (kallsyms has ~200k
 * lines, read twice per measurement under TCG): 0 and the fields, or -1.
 */
static int ksym_parse(char *line, uint64_t *addr, char *type, char **name, char **mod)
{
	char *p = line, *end;

	*addr = strtoull(p, &end, 16);
	if (end == p || end[0] != ' ' || !end[1] || end[2] != ' ')
		return -1;
	*type = end[1];
	*name = end + 3;
	p = *name + strcspn(*name, " \t\n");
	*mod = NULL;
	if (*p == '\t' || *p == ' ') {
		char *m = strchr(p, '[');

		if (m) {
			*mod = m + 1;
			m[1 + strcspn(m + 1, "]\n")] = '\0';
		}
	}
	*p = '\0';
	return 0;
}

/* Name each site by the text symbol at or below it: "fn+0x4c [mod]". */
static void name_sites(const char *path, struct kcallers *c, unsigned int n)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	char line[512], *name, *mod, type;
	uint64_t addr;
	FILE *f;

	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = 0; j < c[i].t.nr_sites; j++) {
			if (c[i].t.site[j] < lo)
				lo = c[i].t.site[j];
			if (c[i].t.site[j] > hi)
				hi = c[i].t.site[j];
		}
	if (!hi)
		return;
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (ksym_parse(line, &addr, &type, &name, &mod) || addr > hi || (type != 't' && type != 'T'))
			continue;
		for (unsigned int i = 0; i < n; i++)
			for (unsigned int j = 0; j < c[i].t.nr_sites; j++) {
				uint64_t site = c[i].t.site[j];

				if (addr > site || addr <= c[i].site_sym[j])
					continue;
				c[i].site_sym[j] = addr;
				snprintf(c[i].site_name[j], sizeof(c[i].site_name[j]), "%.60s+0x%llx%s%.30s%s",
					 name, (unsigned long long)(site - addr), mod ? " [" : "", mod ? mod : "",
					 mod ? "]" : "");
			}
	}
	if (f)
		fclose(f);
}

int kstate_callers(struct kstate *ks, struct kcallers *c, unsigned int n, struct kcallers_scan *how)
{
	char line[512], *name, *mod, type;
	uint64_t a;
	uint64_t b[NR_BOUNDS] = { 0 };
	struct ktext_target *t;
	struct range mods[512];
	int nmods, ret = 0;
	unsigned int k;
	struct timespec t0, t1;
	FILE *f;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(how, 0, sizeof(*how));
	for (k = 0; k < n; k++) {
		memset(&c[k].t, 0, sizeof(c[k].t));
		memset(c[k].site_sym, 0, sizeof(c[k].site_sym));
		memset(c[k].site_name, 0, sizeof(c[k].site_name));
		c[k].found = false;
	}
	/* one pass over kallsyms: the functions (module ones too) and the kernel's bounds */
	f = fopen(ks->kallsyms_path, "re");
	if (!f)
		return kstate_fail(ks, -errno, "%s: %s", ks->kallsyms_path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (ksym_parse(line, &a, &type, &name, &mod))
			continue;
		for (int i = 0; i < NR_BOUNDS; i++)
			if (!b[i] && !strcmp(name, bounds[i]))
				b[i] = a;
		if (type != 't' && type != 'T')
			continue;
		for (k = 0; k < n; k++)
			if (!c[k].found && !strcmp(name, c[k].fn)) {
				c[k].t.addr = a;
				c[k].found = true;
			}
	}
	fclose(f);
	if (!b[B_STEXT] || b[B_ETEXT] <= b[B_STEXT])
		return kstate_fail(ks, -ENOENT, "no _stext/_etext in %s", ks->kallsyms_path);
	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		t[k].addr = c[k].found ? c[k].t.addr : 0;	/* 0: never a target */
	ret = kstate_scan_range(ks, b[B_STEXT], b[B_ETEXT], true, t, n, &how->unreadable);
	how->code_bytes = b[B_ETEXT] - b[B_STEXT];
	/* the kernel's data: its ops tables hold the functions called through pointers */
	if (!ret && b[B_RODATA] && b[B_ERODATA] > b[B_RODATA]) {
		ret = kstate_scan_range(ks, b[B_RODATA], b[B_ERODATA], false, t, n, &how->unreadable);
		how->data_bytes += b[B_ERODATA] - b[B_RODATA];
		how->rodata = true;
	}
	if (!ret && b[B_SDATA] && b[B_EDATA] > b[B_SDATA]) {
		ret = kstate_scan_range(ks, b[B_SDATA], b[B_EDATA], false, t, n, &how->unreadable);
		how->data_bytes += b[B_EDATA] - b[B_SDATA];
		how->data = true;
	}
	/*
	 * Each module's memory, as code only. As data it would count every one
	 * of its functions once: the module keeps its ELF symbol table (st_value
	 * is the address) for kallsyms, which no kprobe cares about. So a module
	 * function called only through its own ops tables reads "not called":
	 * the safe side (its probe is then not attached and a check on it does
	 * not apply), never a probe waited on that cannot fire.
	 */
	nmods = module_ranges(ks->modules_path, mods, 512);
	for (int i = 0; !ret && i < nmods; i++) {
		ret = kstate_scan_range(ks, mods[i].start, mods[i].end, true, t, n, &how->module_holes);
		how->module_bytes += mods[i].end - mods[i].start;
	}
	how->modules = nmods;
	for (k = 0; k < n; k++) {
		uint64_t addr = c[k].t.addr;

		c[k].t = t[k];
		c[k].t.addr = c[k].found ? addr : 0;
	}
	free(t);
	if (ret)
		return ret;
	name_sites(ks->kallsyms_path, c, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	how->ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	how->complete = how->rodata && how->data && !how->unreadable;
	return 0;
}
