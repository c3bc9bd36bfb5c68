// SPDX-License-Identifier: MIT
/* Ops for fsx-style data checks: pattern_write, pattern_check. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/*
 * Data patterns for fsx-style checks. Page data written with tag T (1..2^32-1) is
 * the 64-bit words w[i] = (T << 32 | T) ^ (i * golden ratio): word 0 names the tag,
 * every other word confirms it, and a page of another tag, a shifted page or a torn
 * write does not pass for it.
 */
#define PATTERN_MUL 0x9e3779b97f4a7c15ULL
#define PATTERN_ZERO 0
#define PATTERN_GARBAGE -1
#define PATTERN_SIGBUS -2
#define PATTERN_SHORT -3
#define PATTERN_TORN (1LL << 32)

static uint64_t pattern_word(uint32_t tag, size_t i)
{
	return ((uint64_t)tag << 32 | tag) ^ (i * PATTERN_MUL);
}

static void pattern_fill(volatile uint64_t *w, size_t words, uint32_t tag)
{
	for (size_t i = 0; i < words; i++)
		w[i] = pattern_word(tag, i);
}

/*
 * The tag a page holds, PATTERN_ZERO for a zero page, PATTERN_TORN + tag for a page
 * that is part that tag's pattern and part zeros (read while a hole punch replaced it),
 * PATTERN_GARBAGE for anything else.
 */
static long long pattern_scan(const volatile uint64_t *w, size_t words)
{
	size_t i, zeros = 0, first = words;
	uint64_t key;
	uint32_t tag;

	for (i = 0; i < words && first == words; i++)
		if (w[i])
			first = i;
	if (first == words)
		return PATTERN_ZERO;
	key = w[first] ^ (first * PATTERN_MUL);
	tag = (uint32_t)key;
	if (key >> 32 != tag || !tag)
		return PATTERN_GARBAGE;
	for (i = 0; i < words; i++) {
		uint64_t v = w[i];

		if (!v)
			zeros++;
		else if (v != pattern_word(tag, i))
			return PATTERN_GARBAGE;
	}
	return zeros ? PATTERN_TORN + (long long)tag : tag;
}

/* One page through the mapping, a SIGBUS/SIGSEGV caught: 0, or minus the signal. */
static int guarded_page(char *page, int write, uint32_t tag, long long *found)
{
	size_t words = actor_self.page_size / sizeof(uint64_t);
	int sig = sigsetjmp(touch_env, 1);

	if (sig)
		return -sig;
	touch_armed = 1;
	if (write)
		pattern_fill((volatile uint64_t *)page, words, tag);
	else
		*found = pattern_scan((const volatile uint64_t *)page, words);
	touch_armed = 0;
	return 0;
}

/* Page indices (no mapping needed): for reads through the file. */
static int get_indices(struct json_object *req, struct outcome *o, long *pages, int max)
{
	struct json_object *arr;
	int n;

	if (!json_object_object_get_ex(req, "pages", &arr) || !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) < 1 || n > max) {
		refuse(o, "pages must be a non-empty array of page indices");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		pages[i] = json_object_get_int64(json_object_array_get_idx(arr, i));
		if (pages[i] < 0) {
			refuse(o, "page indices are >= 0");
			return -1;
		}
	}
	return n;
}

/* {"op":"pattern_write","pages":[0,3],"tags":[17,18]}: store each page's pattern through the mapping. */
long long op_pattern_write(struct json_object *req, struct outcome *o)
{
	int n = actor_get_pages(req, o, actor_pages, ACTOR_PAGES_MAX), written = 0;
	struct json_object *tags, *faults;

	if (n < 0)
		return -1;
	if (!json_object_object_get_ex(req, "tags", &tags) || !json_object_is_type(tags, json_type_array) ||
	    (int)json_object_array_length(tags) != n)
		return refuse(o, "tags must be an array as long as pages");
	faults = json_object_new_array();
	for (int i = 0; i < n; i++) {
		long long tag = json_object_get_int64(json_object_array_get_idx(tags, i));
		int ret;

		if (tag < 1 || tag > UINT32_MAX) {
			json_object_put(faults);
			return refuse(o, "tags are integers in [1, 2^32)");
		}
		ret = guarded_page(actor_self.map + actor_pages[i] * actor_self.page_size, 1, (uint32_t)tag, NULL);
		if (ret) {
			struct json_object *f = json_object_new_object();

			jset(f, "page", json_object_new_int64(actor_pages[i]));
			jset(f, "signal", json_object_new_string(actor_signal_name(-ret)));
			json_object_array_add(faults, f);
			continue;
		}
		written++;
	}
	jset(o->result, "written", json_object_new_int(written));
	jset(o->result, "faults", faults);
	return written;
}

/*
 * {"op":"pattern_check","pages":[0,1],"via":"mmap"|"read"}: what each page holds,
 * in request order: its tag, 0 (zeros), 2^32 + tag (torn: that tag and zeros), -1
 * (neither), -2 (SIGBUS on the mapping), -3 (read(2) came back short: beyond EOF). Through the mapping, pages index the
 * mapping; through read(2), the file.
 */
long long op_pattern_check(struct json_object *req, struct outcome *o)
{
	const char *via = jstr(req, "via", "mmap");
	int by_read = !strcmp(via, "read");
	int n = by_read ? get_indices(req, o, actor_pages, ACTOR_PAGES_MAX) : actor_get_pages(req, o, actor_pages, ACTOR_PAGES_MAX);
	struct json_object *out;
	char *buf = NULL;

	if (n < 0)
		return -1;
	if (strcmp(via, "mmap") && !by_read)
		return refuse(o, "via is mmap or read");
	if (by_read && actor_self.fd < 0)
		return refuse(o, "no open file");
	if (by_read && posix_memalign((void **)&buf, actor_self.page_size, actor_self.page_size))
		return refuse(o, "out of memory");
	out = json_object_new_array();
	for (int i = 0; i < n; i++) {
		long long found = PATTERN_GARBAGE;

		if (by_read) {
			ssize_t r = pread(actor_self.fd, buf, actor_self.page_size, (off_t)actor_pages[i] * actor_self.page_size);

			if (r < 0) {
				o->err = errno;
				json_object_put(out);
				free(buf);
				return -1;
			}
			found = r == actor_self.page_size ? pattern_scan((const uint64_t *)buf, actor_self.page_size / 8) : PATTERN_SHORT;
		} else if (guarded_page(actor_self.map + actor_pages[i] * actor_self.page_size, 0, 0, &found)) {
			found = PATTERN_SIGBUS;
		}
		json_object_array_add(out, json_object_new_int64(found));
	}
	free(buf);
	jset(o->result, "tags", out);
	return n;
}
