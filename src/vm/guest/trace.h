/* SPDX-License-Identifier: MIT */
#ifndef DAXLAB_TRACE_H
#define DAXLAB_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* trace.c: tracefs events and kprobes, streamed as "event" messages. */
void trace_init(void);
/* Overruns of the kernel's trace buffers since tracing started. */
uint64_t trace_dropped(void);
/* The observer tells trace.c which lock addresses to name and filter on. */
void trace_set_locks(const uint64_t *addrs, const char *const *names, int n);

/* Place one kprobe (with a filter) now; its status goes into @status. 0 or -errno. */
struct json_object;
int trace_probe(struct json_object *status, const char *name, const char *fn, const char *args,
		const char *filter);
/* page._refcount's offset from the kernel's BTF, parsed once; 0 or -1 with @err set. */
int trace_page_refcount_off(unsigned int *off, char *err, size_t errlen);
void refwatch_init(void);

#endif
