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
 *  - an 8-byte aligned word equal to its address in data: ops tables.
 * Byte positions are not decoded into instructions, so an immediate that
 * happens to look like one of these can count; for one function among ~20
 * MiB of text that is a few in a billion per position and target.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PFX_BYTES	16	/* CONFIG_FUNCTION_PADDING_BYTES on x86-64 */

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

/*
 * @code holds @len bytes at kernel address @base; instructions may start at
 * positions [0, @scan_len), and @len - @scan_len bytes past them are there
 * to finish the last ones (the next chunk starts at @scan_len).
 */
void ktext_scan_code(const uint8_t *code, size_t len, size_t scan_len, uint64_t base,
		     struct ktext_target *t, unsigned int n)
{
	for (size_t p = 0; p < scan_len && p + 5 <= len; p++) {
		uint8_t op = code[p];
		uint64_t target;
		unsigned int i;

		if (op == 0xe8 || op == 0xe9) {
			target = base + p + 5 + (int64_t)rel32(code + p + 1);
			for (i = 0; i < n; i++) {
				if (op == 0xe8 && target <= t[i].addr && target + PFX_BYTES >= t[i].addr)
					note(&t[i], base + p, &t[i].calls);
				else if (op == 0xe9 && target == t[i].addr)
					note(&t[i], base + p, &t[i].jumps);
			}
			continue;
		}
		if (p + 6 > len)
			continue;
		if (op == 0x0f && (code[p + 1] & 0xf0) == 0x80) {
			target = base + p + 6 + (int64_t)rel32(code + p + 2);
			for (i = 0; i < n; i++)
				if (target == t[i].addr)
					note(&t[i], base + p, &t[i].jumps);
		} else if (op == 0x8d && (code[p + 1] & 0xc7) == 0x05) {
			target = base + p + 6 + (int64_t)rel32(code + p + 2);
			for (i = 0; i < n; i++)
				if (target == t[i].addr)
					t[i].refs++;
		}
	}
}

void ktext_scan_data(const uint8_t *data, size_t len, struct ktext_target *t, unsigned int n)
{
	for (size_t p = 0; p + 8 <= len; p += 8) {
		uint64_t v;

		memcpy(&v, data + p, sizeof(v));
		if (v >> 48 != 0xffff)
			continue;
		for (unsigned int i = 0; i < n; i++)
			if (v == t[i].addr)
				t[i].refs++;
	}
}

#define CHUNK	(1U << 20)

int kstate_scan_range(struct kstate *ks, uint64_t start, uint64_t end, bool code,
		      struct ktext_target *t, unsigned int n)
{
	uint8_t *buf = malloc(CHUNK + 8);
	uint64_t va;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	start &= ~7ULL;
	for (va = start; va < end; va += CHUNK - 8) {
		size_t len = end - va < CHUNK ? end - va : CHUNK;

		ret = kstate_read(ks, va, buf, len);
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
