// SPDX-License-Identifier: MIT
/* Ops on the actor's current mapping: mmap, munmap, touch (faults caught and reported). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ops.h"

static const struct {
	const char *name;
	unsigned long value;
} map_flag_names[] = {
	{ "MAP_SHARED", MAP_SHARED },
	{ "MAP_PRIVATE", MAP_PRIVATE },
	{ "MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE },
	{ "MAP_SYNC", MAP_SYNC },
	{ "MAP_POPULATE", MAP_POPULATE },
	{ "MAP_ANONYMOUS", MAP_ANONYMOUS },
	{ "MAP_ANON", MAP_ANONYMOUS },
	{ "MAP_NORESERVE", MAP_NORESERVE },
	{ "MAP_LOCKED", MAP_LOCKED },
	{ "MAP_HUGETLB", MAP_HUGETLB },
	{ "MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE },
	{ "PROT_READ", PROT_READ },
	{ "PROT_WRITE", PROT_WRITE },
	{ "PROT_EXEC", PROT_EXEC },
	{ "PROT_NONE", PROT_NONE },
	{ NULL, 0 },
};

/* Names (with or without the prefix) or raw numbers ("0x80000") OR'ed together. */
static int parse_flags(struct json_object *arr, const char *prefix, unsigned long *out, const char **bad)
{
	size_t plen = strlen(prefix);
	int n = json_object_array_length(arr);

	*out = 0;
	for (int i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		const char *s = json_object_get_string(v);
		char *end;
		int found = 0;

		if (json_object_is_type(v, json_type_int)) {
			*out |= (unsigned long)json_object_get_int64(v);
			continue;
		}
		*bad = s;
		if (!s || !*s)
			return -1;
		if (s[0] >= '0' && s[0] <= '9') {
			unsigned long value = strtoul(s, &end, 0);

			if (*end)
				return -1;
			*out |= value;
			continue;
		}
		for (int j = 0; map_flag_names[j].name; j++) {
			const char *name = map_flag_names[j].name;

			if (strncmp(name, prefix, plen))
				continue;
			if (!strcasecmp(s, name) || !strcasecmp(s, name + plen)) {
				*out |= map_flag_names[j].value;
				found = 1;
				break;
			}
		}
		if (!found)
			return -1;
	}
	*bad = NULL;
	return 0;
}

long long op_mmap(struct json_object *req, struct outcome *o)
{
	long long length = jint(req, "length", -1), offset = jint(req, "offset", 0);
	int anonymous = jbool(req, "anonymous", 0);
	struct json_object *v;
	unsigned long flags, prot;
	const char *bad;
	void *addr;

	if (length <= 0)
		return refuse(o, "mmap needs a length > 0");
	if (!anonymous && actor_self.fd < 0)
		return refuse(o, "no open file (open first, or anonymous: true)");
	if (json_object_object_get_ex(req, "flags", &v) && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0) {
		if (parse_flags(v, "MAP_", &flags, &bad))
			return refuse(o, "unknown mmap flag (use MAP_* names or a number such as \"0x80000\")");
	} else {
		flags = anonymous ? MAP_PRIVATE : MAP_SHARED;
	}
	if (json_object_object_get_ex(req, "prot", &v) && json_object_is_type(v, json_type_array)) {
		if (parse_flags(v, "PROT_", &prot, &bad))
			return refuse(o, "unknown prot (use PROT_READ, PROT_WRITE, PROT_EXEC, PROT_NONE)");
	} else {
		prot = PROT_READ | PROT_WRITE;
	}
	if (anonymous)
		flags |= MAP_ANONYMOUS;
	addr = mmap(NULL, length, prot, flags, anonymous ? -1 : actor_self.fd, anonymous ? 0 : offset);
	if (addr == MAP_FAILED)
		return fail(o, -1);
	/* One current mapping per actor: a new one replaces the previous one. */
	if (actor_self.map) {
		jset(o->result, "unmapped", jhex((unsigned long)actor_self.map));
		munmap(actor_self.map, actor_self.map_len);
	}
	actor_self.map = addr;
	actor_self.map_len = length;
	jset(o->result, "addr", jhex((unsigned long)addr));
	jset(o->result, "length", json_object_new_int64(length));
	jset(o->result, "flags", jhex(flags));
	jset(o->result, "anonymous", json_object_new_boolean(anonymous));
	if (!anonymous) {
		jset(o->result, "path", json_object_new_string(actor_self.path));
		jset(o->result, "offset", json_object_new_int64(offset));
	}
	return 0;
}

long long op_munmap(struct json_object *req, struct outcome *o)
{
	(void)req;
	if (!actor_self.map)
		return refuse(o, "no mapping");
	if (munmap(actor_self.map, actor_self.map_len))
		return fail(o, -1);
	actor_self.map = NULL;
	actor_self.map_len = 0;
	return 0;
}

/* The page indices of a request, checked against the mapping. */
int actor_get_pages(struct json_object *req, struct outcome *o, long *pages, int max)
{
	struct json_object *arr;
	int n;

	if (!actor_self.map) {
		refuse(o, "no mapping (mmap first)");
		return -1;
	}
	if (!json_object_object_get_ex(req, "pages", &arr) || !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) < 1) {
		refuse(o, "pages must be a non-empty array of page indices");
		return -1;
	}
	if (n > max) {
		refuse(o, "too many pages");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		pages[i] = json_object_get_int64(json_object_array_get_idx(arr, i));
		if (pages[i] < 0 || (size_t)(pages[i] + 1) * actor_self.page_size > actor_self.map_len) {
			refuse(o, "page index outside the mapping");
			return -1;
		}
	}
	return n;
}

long actor_pages[ACTOR_PAGES_MAX];

long long op_touch(struct json_object *req, struct outcome *o)
{
	int n = actor_get_pages(req, o, actor_pages, ACTOR_PAGES_MAX), write = jbool(req, "write", 0);
	unsigned char byte = jint(req, "byte", 0x5a);
	volatile int done = 0;
	unsigned long sum = 0;
	int sig;

	if (n < 0)
		return -1;
	sig = sigsetjmp(touch_env, 1);
	if (sig) {
		o->sig = sig;
		jset(o->result, "touched", json_object_new_int(done));
		jset(o->result, "page", json_object_new_int64(actor_pages[done]));
		jset(o->result, "faultAddr", jhex((unsigned long)fault_addr));
		return -1;
	}
	touch_armed = 1;
	for (; done < n; done++) {
		volatile unsigned char *p = (unsigned char *)actor_self.map + actor_pages[done] * actor_self.page_size;

		if (write)
			*p = byte;
		else
			sum += *p;
	}
	touch_armed = 0;
	(void)sum;
	jset(o->result, "touched", json_object_new_int(done));
	return 0;
}
