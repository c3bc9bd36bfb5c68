/* SPDX-License-Identifier: MIT */
#ifndef DAXLAB_TRACE_INTERNAL_H
#define DAXLAB_TRACE_INTERNAL_H

/* Between trace.c (tracefs, the pipe) and probes.c (the lab's kprobes). */
#include <json-c/json.h>

#define TRACEFS "/sys/kernel/tracing"

/* trace.c */
int tracefs_write(const char *rel, const char *text, int append);
/* Learn the event names of tracefs system @sys ("daxlab" for the kprobes). */
void learn_names(const char *sys);

/* probes.c */
/* Where probe points are looked up: available_filter_functions, or kallsyms without it. */
const char *symbol_source(void);
/* @cache: the host's earlier results ("callScanCache"), used when one is for this kernel and module set. */
void probes_place(struct json_object *sets, struct json_object *cache, int uncalled, struct json_object *ok,
		  struct json_object *failed, struct json_object *status);
struct json_object *probes_scan_json(void);
void probes_init(void);

#endif
