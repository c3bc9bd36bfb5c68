// SPDX-License-Identifier: MIT
/*
 * Tracepoints and kprobes through tracefs, read from trace_pipe without ever
 * blocking, each line turned into an "event" message. The trace clock is set
 * to "mono" so event times and agent times are on one clock.
 *
 * The kprobes, and whether each probe point is called, are probes.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "kstate/kstate.h"
#include "observer_internal.h"
#include "trace.h"
#include "trace_internal.h"
#include "util.h"

#define MAX_NAMES 256
#define MAX_LOCKS 32

static int pipe_fd = -1;
static char pending[65536];
static size_t pending_len;
static uint64_t overrun_base;

/* event name -> system, learned from the directories of the enabled systems */
static struct {
	char name[64];
	char sys[32];
} names[MAX_NAMES];
static int nr_names;

static struct {
	uint64_t addr;
	char name[96];
} locks[MAX_LOCKS];
static int nr_locks;

int tracefs_write(const char *rel, const char *text, int append)
{
	char path[512];
	int fd, ret = 0;

	snprintf(path, sizeof(path), TRACEFS "/%s", rel);
	fd = open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC));
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	/* Enabling events patches kernel text: under TCG a write can take a second. */
	agent_beat();
	return ret;
}

void learn_names(const char *sys)
{
	char path[256], line[256];
	FILE *f;

	/* available_events lists "sys:event" for every event the kernel has. */
	f = fopen(TRACEFS "/available_events", "re");
	if (!f)
		return;
	snprintf(path, sizeof(path), "%s:", sys);
	while (fgets(line, sizeof(line), f) && nr_names < MAX_NAMES) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, path, strlen(path)))
			continue;
		snprintf(names[nr_names].sys, sizeof(names[0].sys), "%s", sys);
		snprintf(names[nr_names].name, sizeof(names[0].name), "%s", line + strlen(path));
		nr_names++;
	}
	fclose(f);
}

static const char *sys_of(const char *event)
{
	for (int i = 0; i < nr_names; i++)
		if (!strcmp(names[i].name, event))
			return names[i].sys;
	return "unknown";
}

/* The "sys:event" tracepoints @spec ("fs_dax" or "lock/contention_begin") enabled. */
static void list_tracepoints(const char *spec, struct json_object *out)
{
	const char *slash = strchr(spec, '/');
	char one[128];

	if (slash) {
		snprintf(one, sizeof(one), "%.*s:%s", (int)(slash - spec), spec, slash + 1);
		json_object_array_add(out, json_object_new_string(one));
		return;
	}
	for (int i = 0; i < nr_names; i++) {
		if (strcmp(names[i].sys, spec))
			continue;
		snprintf(one, sizeof(one), "%s:%s", names[i].sys, names[i].name);
		json_object_array_add(out, json_object_new_string(one));
	}
}

void trace_set_locks(const uint64_t *addrs, const char *const *lock_names, int n)
{
	char filter[2048] = "";
	size_t len = 0;

	nr_locks = 0;
	for (int i = 0; i < n && i < MAX_LOCKS; i++) {
		locks[i].addr = addrs[i];
		snprintf(locks[i].name, sizeof(locks[i].name), "%s", lock_names[i]);
		nr_locks++;
		len += snprintf(filter + len, sizeof(filter) - len, "%slock_addr == 0x%llx", i ? " || " : "",
				(unsigned long long)addrs[i]);
	}
	/*
	 * Only contention on the watched locks: all others would flood the pipe. The
	 * field is lock_addr (6.1); with nothing watched, match no lock at all ("0"
	 * alone is not a filter: it would let every event through).
	 */
	if (!nr_locks)
		snprintf(filter, sizeof(filter), "lock_addr == 0");
	tracefs_write("events/lock/contention_begin/filter", filter, 0);
	tracefs_write("events/lock/contention_end/filter", filter, 0);
}

static const char *lock_name(uint64_t addr)
{
	for (int i = 0; i < nr_locks; i++)
		if (locks[i].addr == addr)
			return locks[i].name;
	return NULL;
}

/* "  comm-123   [001] d..1.  1234.567890: event: a=1 b=2" */
static void parse_line(char *line)
{
	char *cpu = strstr(line, "] "), *bracket, *ts_end, *name, *fields, *dash;
	struct json_object *msg, *fobj;
	double t;

	bracket = strchr(line, '[');
	if (!cpu || !bracket || bracket > cpu)
		return;
	*bracket = '\0';
	while (bracket > line && bracket[-1] == ' ')
		*--bracket = '\0';
	while (*line == ' ')
		line++;
	dash = strrchr(line, '-');
	ts_end = strstr(cpu, ": ");
	if (!dash || !ts_end)
		return;
	*dash = '\0';
	/* The timestamp is the last token before ": ". */
	*ts_end = '\0';
	t = strtod(strrchr(cpu, ' ') ? strrchr(cpu, ' ') + 1 : cpu, NULL);
	name = ts_end + 2;
	fields = strstr(name, ": ");
	if (fields) {
		*fields = '\0';
		fields += 2;
	} else {
		name[strcspn(name, ":")] = '\0';
	}
	msg = json_object_new_object();
	fobj = json_object_new_object();
	json_object_object_add(msg, "t", json_object_new_double(t));
	json_object_object_add(msg, "kind", json_object_new_string("event"));
	json_object_object_add(msg, "src", json_object_new_string(sys_of(name)));
	json_object_object_add(msg, "name", json_object_new_string(name));
	json_object_object_add(msg, "pid", json_object_new_int(atoi(dash + 1)));
	json_object_object_add(msg, "comm", json_object_new_string(line));
	for (char *save = NULL, *tok = fields ? strtok_r(fields, " ", &save) : NULL; tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		/*
		 * lock:contention_* print the lock's address first, bare and without "0x"
		 * ("%p": "ffff888007d66938 (flags=READ)"; raw with trace_options nohash-ptr).
		 */
		if (!eq && tok == fields && strspn(tok + (strncmp(tok, "0x", 2) ? 0 : 2), "0123456789abcdef") >= 8 &&
		    !strcmp(sys_of(name), "lock")) {
			const char *ln = lock_name(strtoull(tok, NULL, 16));

			json_object_object_add(fobj, "lock_addr", json_object_new_string(tok));
			if (ln)
				json_object_object_add(msg, "lock", json_object_new_string(ln));
			continue;
		}
		if (*tok == '(')
			tok++;
		if (*tok && tok[strlen(tok) - 1] == ')')
			tok[strlen(tok) - 1] = '\0';
		if (!eq)
			continue;
		*eq = '\0';
		json_object_object_add(fobj, tok, json_object_new_string(eq + 1));
		if (!strcmp(tok, "lock")) {
			const char *ln = lock_name(strtoull(eq + 1, NULL, 16));

			if (ln)
				json_object_object_add(msg, "lock", json_object_new_string(ln));
		}
	}
	json_object_object_add(msg, "fields", fobj);
	channel_send(msg);
}

static void on_pipe(int fd, short revents, void *ctx)
{
	ssize_t n;
	char *nl, *start;

	(void)revents;
	(void)ctx;
	n = read(fd, pending + pending_len, sizeof(pending) - 1 - pending_len);
	if (n <= 0)
		return;
	pending_len += n;
	pending[pending_len] = '\0';
	start = pending;
	while ((nl = strchr(start, '\n'))) {
		*nl = '\0';
		parse_line(start);
		start = nl + 1;
	}
	pending_len -= start - pending;
	memmove(pending, start, pending_len);
	if (pending_len == sizeof(pending) - 1)
		pending_len = 0;	/* a line longer than the buffer: not a trace line */
}

static uint64_t read_overruns(void)
{
	uint64_t total = 0;

	for (int cpu = 0; cpu < 256; cpu++) {
		char path[128], line[128];
		FILE *f;

		snprintf(path, sizeof(path), TRACEFS "/per_cpu/cpu%d/stats", cpu);
		f = fopen(path, "re");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "overrun: ", 9))
				total += strtoull(line + 9, NULL, 10);
		fclose(f);
	}
	return total;
}

uint64_t trace_dropped(void)
{
	return pipe_fd < 0 ? 0 : read_overruns() - overrun_base;
}

/* {"cmd":"trace","events":["fs_dax","filelock","lock/contention_begin"],"kprobes":["gup","layouts","pipe"]} */
/* ms since *lap under @name; the clock, not the TSC stopwatch: a part sleeps and moves CPUs */
static void setup_part(struct json_object *parts, const char *name, double *lap)
{
	double now = mono_now();

	json_object_object_add(parts, name, json_object_new_double((now - *lap) * 1000));
	*lap = now;
}

static void cmd_trace(int id, struct json_object *req)
{
	struct json_object *events, *kprobes, *v, *result, *enabled, *failed, *kp_ok, *kp_failed, *kp_status,
		*tracepoints;

	double t0 = mono_now(), lap = t0;
	struct json_object *parts;

	if (access(TRACEFS "/trace_pipe", R_OK)) {
		send_error(id, "trace", "tracefs is not mounted at " TRACEFS " (CONFIG_FTRACE?)", NULL);
		return;
	}
	/* what each part of the set-up cost, for the reply */
	parts = json_object_new_object();
	result = json_object_new_object();
	enabled = json_object_new_array();
	failed = json_object_new_array();
	kp_ok = json_object_new_array();
	kp_failed = json_object_new_array();
	kp_status = json_object_new_array();
	tracepoints = json_object_new_array();
	tracefs_write("tracing_on", "0", 0);
	tracefs_write("trace_clock", "mono", 0);
	/* Real addresses for "%p" (lock:contention_*): the lab maps them to the watched locks. */
	tracefs_write("trace_options", "nohash-ptr", 0);
	tracefs_write("trace", "", 0);
	setup_part(parts, "reset", &lap);
	if (json_object_object_get_ex(req, "events", &events)) {
		for (size_t i = 0; i < json_object_array_length(events); i++) {
			const char *spec = json_object_get_string(json_object_array_get_idx(events, i));
			char path[256], sys[64];

			observer_sample_if_due();
			snprintf(sys, sizeof(sys), "%.*s", (int)strcspn(spec, "/"), spec);
			learn_names(sys);
			snprintf(path, sizeof(path), "events/%s/enable", spec);
			if (!strcmp(sys, "lock"))
				trace_set_locks(NULL, NULL, 0);
			if (tracefs_write(path, "1", 0)) {
				json_object_array_add(failed, json_object_new_string(spec));
				continue;
			}
			json_object_array_add(enabled, json_object_new_string(spec));
			list_tracepoints(spec, tracepoints);
		}
	}
	setup_part(parts, "events", &lap);
	if (json_object_object_get_ex(req, "kprobes", &kprobes)) {
		/*
		 * kprobe_events cannot be cleared while one of its events is enabled (EBUSY):
		 * a second run in the same guest then failed every definition with EEXIST.
		 */
		int uncalled = json_object_object_get_ex(req, "attachUncalled", &v) && json_object_get_boolean(v);

		struct json_object *cache = NULL;

		tracefs_write("events/daxlab/enable", "0", 0);
		tracefs_write("kprobe_events", "", 0);
		setup_part(parts, "kprobesCleared", &lap);
		if (json_object_object_get_ex(req, "callScanCache", &cache) && !json_object_is_type(cache, json_type_array))
			cache = NULL;
		probes_place(kprobes, cache, uncalled, kp_ok, kp_failed, kp_status);
		learn_names("daxlab");
		setup_part(parts, "kprobesPlaced", &lap);
	}
	overrun_base = read_overruns();
	tracefs_write("tracing_on", "1", 0);
	if (pipe_fd < 0) {
		pipe_fd = open(TRACEFS "/trace_pipe", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (pipe_fd >= 0)
			agent_watch_fd(pipe_fd, POLLIN, on_pipe, NULL);
	}
	(void)v;
	json_object_object_add(result, "events", enabled);
	json_object_object_add(result, "eventsFailed", failed);
	json_object_object_add(result, "kprobes", kp_ok);
	json_object_object_add(result, "kprobesFailed", kp_failed);
	/* Which probes were chosen on this kernel, and why the others were not. */
	json_object_object_add(result, "kprobeStatus", kp_status);
	json_object_object_add(result, "symbols", json_object_new_string(symbol_source()));
	/* How "is called" was measured, and what it cost. */
	if (json_object_object_get_ex(req, "kprobes", &kprobes))
		json_object_object_add(result, "callScan", probes_scan_json());
	/* The tracepoints this kernel has of what was asked ("fs_dax:dax_pmd_fault", ...). */
	json_object_object_add(result, "tracepoints", tracepoints);
	/* What setting all this up cost, in the guest (the call scan included). */
	json_object_object_add(result, "setupMs", json_object_new_double((mono_now() - t0) * 1000));
	json_object_object_add(result, "setupParts", parts);
	send_reply(id, result);
}

void trace_init(void)
{
	agent_register_cmd("trace", cmd_trace);
	probes_init();
}
