// SPDX-License-Identifier: MIT
/*
 * Tracepoints and kprobes through tracefs, read from trace_pipe without ever
 * blocking, each line turned into an "event" message. The trace clock is set
 * to "mono" so event times and agent times are on one clock.
 *
 * The kprobes are defined here, not by the host: their fetch arguments need
 * struct offsets, and those come from the running kernel's BTF.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "agent.h"
#include "kstate/kstate.h"
#include "observer_internal.h"
#include "trace.h"
#include "util.h"

#define TRACEFS "/sys/kernel/tracing"
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

static int tracefs_write(const char *rel, const char *text, int append)
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
	return ret;
}

static void learn_names(const char *sys)
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

/*
 * Where probe points are looked up. available_filter_functions lists what
 * ftrace can trace, but exists only with CONFIG_FUNCTION_TRACER; a kprobe
 * needs only CONFIG_KPROBE_EVENTS and the symbol in kallsyms, so a kernel
 * built without the function tracer is asked through /proc/kallsyms.
 */
static const char *symbol_source(void)
{
	return access(TRACEFS "/available_filter_functions", R_OK) ? "/proc/kallsyms" :
								     TRACEFS "/available_filter_functions";
}

/* Is @fn a function of this kernel or of a loaded module? */
static int function_exists(const char *fn)
{
	const char *src = symbol_source();
	int kallsyms = !strcmp(src, "/proc/kallsyms");
	char line[512], name[256], type;
	FILE *f = fopen(src, "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (!kallsyms) {
			/* "fn" or "fn [module]" */
			size_t len = strlen(fn);

			found = !strncmp(line, fn, len) && (line[len] == '\n' || line[len] == ' ');
			continue;
		}
		/* "ffffffff81234560 t fn\t[module]": text symbols only */
		if (sscanf(line, "%*s %c %255s", &type, name) == 2 &&
		    (type == 't' || type == 'T') && !strcmp(name, fn))
			found = 1;
	}
	fclose(f);
	return found;
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

struct kprobe_def {
	const char *set;	/* what the host asks for */
	const char *fn;
	int ret;		/* kretprobe */
	const char *args;	/* fetch args; %REF% becomes page._refcount's offset */
};

/*
 * x86_64 calling convention: arguments in di, si, dx, cx, r8, r9.
 * Signatures as in 6.1, 6.12 and 7.2 (mm/gup.c, fs/xfs/xfs_inode.c,
 * fs/ext4/inode.c, fs/dax.c, fs/pipe.c); a function the kernel lacks is
 * skipped and reported, with the reason, and so is one it has but never
 * calls (measured: see calls_of()). 7.x's xfs_break_dax_layouts() is the
 * known case: its callers inlined it, and it waits in dax_break_layout().
 */
static const struct kprobe_def kprobe_defs[] = {
	{ "gup", "pin_user_pages_fast", 0, "start=%di:x64 nr=%si:u64 gup_flags=%dx:x32" },
	{ "gup", "get_user_pages_fast", 0, "start=%di:x64 nr=%si:u64 gup_flags=%dx:x32" },
	{ "gup", "pin_user_pages", 0, "start=%di:x64 nr=%si:u64 gup_flags=%dx:x32" },
	{ "gup", "get_user_pages", 0, "start=%di:x64 nr=%si:u64 gup_flags=%dx:x32" },
	{ "gup", "iov_iter_get_pages2", 0, "maxsize=%dx:u64" },
	{ "gup", "iov_iter_extract_pages", 0, "maxsize=%dx:u64" },
	{ "gup", "unpin_user_page", 0, "page=%di:x64" },
	{ "gup", "unpin_user_pages", 0, "pages=%di:x64 npages=%si:u64" },
	{ "layouts", "xfs_break_dax_layouts", 0, "inode=%di:x64" },
	{ "layouts", "xfs_break_dax_layouts", 1, "ret=$retval:s32" },
	{ "layouts", "dax_break_layout", 0, "inode=%di:x64 start=%si:s64 end=%dx:s64" },
	{ "layouts", "dax_break_layout", 1, "ret=$retval:s32" },
	{ "layouts", "xfs_break_layouts", 0, "inode=%di:x64" },
	{ "layouts", "xfs_break_layouts", 1, "ret=$retval:s32" },
	{ "layouts", "ext4_break_layouts", 0, "inode=%di:x64" },
	{ "layouts", "ext4_break_layouts", 1, "ret=$retval:s32" },
	/* The page truncate finds busy, and the refcount the kernel itself read. */
	{ "layouts", "dax_layout_busy_page_range", 1, "page=$retval:x64 ref=+%REF%($retval):s32" },
	/* A pipe buffer's page as it is released (drain): pointer and refcount. */
	{ "pipe", "generic_pipe_buf_release", 0, "page=+0(%si):x64 ref=+%REF%(+0(%si)):s32" },
	{ "pipe", "page_cache_pipe_buf_release", 0, "page=+0(%si):x64 ref=+%REF%(+0(%si)):s32" },
};

#define NR_DEFS (sizeof(kprobe_defs) / sizeof(kprobe_defs[0]))

/*
 * Who calls each probe point, measured once per set of loaded modules: the
 * kernel's text (_stext.._etext) and every module's memory scanned through
 * /proc/kcore for call/jmp rel32 to the function, lea of its address, and
 * its address in the kernel's data (ops tables). kstate/textscan.c.
 */
static struct calls {
	const char *fn;
	int exists;
	struct ktext_target t;
	char callers[256];	/* "xfs_break_layouts+0x4c [xfs], ..." */
} calls[NR_DEFS];
static int nr_calls;
static char calls_error[160];	/* why there is no measurement */
static long long calls_key = -1;	/* the module set it was measured with */
static double calls_ms;

struct range {
	uint64_t start, end;
	char what[64];
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Module memory from /proc/modules ("name size refs deps state 0xaddr"), sorted and merged. */
static int module_ranges(struct range *r, int max, long long *key)
{
	char line[512], name[64];
	unsigned long long size, addr;
	FILE *f = fopen("/proc/modules", "re");
	int n = 0, m = 0;

	*key = 0;
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %llu %*s %*s %*s %llx", name, &size, &addr) != 3 || !addr)
			continue;
		r[n].start = addr;
		r[n].end = addr + size;
		snprintf(r[n].what, sizeof(r[n].what), "%s", name);
		*key = *key * 31 + (long long)(addr ^ size);
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

/* Name each call site by the kallsyms symbol at or below it: "fn+0x4c [mod]". */
static void name_callers(void)
{
	struct best {
		uint64_t addr;
		char name[96];
	} best[NR_DEFS][KTEXT_SITES];
	char line[512], name[96], mod[64], type;
	unsigned long long addr;
	FILE *f = fopen("/proc/kallsyms", "re");

	memset(best, 0, sizeof(best));
	while (f && fgets(line, sizeof(line), f)) {
		mod[0] = '\0';
		if (sscanf(line, "%llx %c %95s [%63[^]]]", &addr, &type, name, mod) < 3 ||
		    (type != 't' && type != 'T'))
			continue;
		for (int i = 0; i < nr_calls; i++)
			for (unsigned int j = 0; j < calls[i].t.nr_sites; j++)
				if (addr <= calls[i].t.site[j] && addr > best[i][j].addr) {
					best[i][j].addr = addr;
					snprintf(best[i][j].name, sizeof(best[i][j].name), "%.60s%s%.30s%s", name,
						 mod[0] ? " [" : "", mod, mod[0] ? "]" : "");
				}
	}
	if (f)
		fclose(f);
	for (int i = 0; i < nr_calls; i++) {
		size_t len = 0;

		calls[i].callers[0] = '\0';
		for (unsigned int j = 0; j < calls[i].t.nr_sites && len < sizeof(calls[i].callers) - 1; j++) {
			char *sp = strchr(best[i][j].name, ' ');
			int base = sp ? (int)(sp - best[i][j].name) : (int)strlen(best[i][j].name);

			len += snprintf(calls[i].callers + len, sizeof(calls[i].callers) - len, "%s%.*s+0x%llx%s",
					j ? ", " : "", base, best[i][j].name,
					(unsigned long long)(calls[i].t.site[j] - best[i][j].addr), sp ? sp : "");
		}
	}
}

/* kallsyms: a text symbol's address (module ones too), 0 if none. */
static void kallsyms_lookup(const char *const *want, uint64_t *addr, int n)
{
	char line[512], name[128], type;
	unsigned long long a;
	FILE *f = fopen("/proc/kallsyms", "re");

	for (int i = 0; i < n; i++)
		addr[i] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %127s", &a, &type, name) != 3)
			continue;
		for (int i = 0; i < n; i++)
			if (!addr[i] && !strcmp(name, want[i]))
				addr[i] = a;
	}
	if (f)
		fclose(f);
}

static void measure_calls(void)
{
	static const char *const bounds[] = { "_stext", "_etext", "__start_rodata", "__end_rodata", "_sdata", "_edata" };
	const char *want[NR_DEFS + 6];
	uint64_t addr[NR_DEFS + 6];
	struct ktext_target t[NR_DEFS];
	struct range mods[256];
	long long key;
	int nmods = module_ranges(mods, 256, &key), n = 0, ret;
	const char *kerr;
	double t0 = mono_now();

	if (calls_key == key && !calls_error[0])
		return;
	calls_key = key;
	nr_calls = 0;
	calls_error[0] = '\0';
	for (size_t i = 0; i < NR_DEFS; i++) {
		int seen = 0;

		for (int j = 0; j < nr_calls; j++)
			seen |= !strcmp(calls[j].fn, kprobe_defs[i].fn);
		if (seen)
			continue;
		memset(&calls[nr_calls], 0, sizeof(calls[0]));
		calls[nr_calls].fn = kprobe_defs[i].fn;
		calls[nr_calls].exists = function_exists(kprobe_defs[i].fn);
		nr_calls++;
	}
	if ((kerr = observer_open_kstate())) {
		snprintf(calls_error, sizeof(calls_error), "kernel memory unreadable: %.120s", kerr);
		return;
	}
	for (int i = 0; i < 6; i++)
		want[i] = bounds[i];
	for (int i = 0; i < nr_calls; i++)
		want[6 + i] = calls[i].fn;
	kallsyms_lookup(want, addr, 6 + nr_calls);
	if (!addr[0] || !addr[1] || addr[1] <= addr[0]) {
		snprintf(calls_error, sizeof(calls_error), "no _stext/_etext in /proc/kallsyms");
		return;
	}
	/* only the functions that exist; t[k] <-> calls[idx[k]] */
	int idx[NR_DEFS];

	for (int i = 0; i < nr_calls; i++) {
		if (!calls[i].exists || !addr[6 + i])
			continue;
		memset(&t[n], 0, sizeof(t[n]));
		t[n].addr = addr[6 + i];
		idx[n++] = i;
	}
	ret = kstate_scan_range(obs_ks, addr[0], addr[1], true, t, n);
	if (!ret && addr[2] && addr[3] > addr[2])
		ret = kstate_scan_range(obs_ks, addr[2], addr[3], false, t, n);
	if (!ret && addr[4] && addr[5] > addr[4])
		ret = kstate_scan_range(obs_ks, addr[4], addr[5], false, t, n);
	/* module memory: text and data alike (its parts are not told apart here) */
	for (int i = 0; !ret && i < nmods; i++) {
		ret = kstate_scan_range(obs_ks, mods[i].start, mods[i].end, true, t, n);
		if (!ret)
			ret = kstate_scan_range(obs_ks, mods[i].start, mods[i].end, false, t, n);
	}
	if (ret) {
		snprintf(calls_error, sizeof(calls_error), "scanning kernel memory failed: %.120s", kstate_errmsg(obs_ks));
		return;
	}
	for (int k = 0; k < n; k++)
		calls[idx[k]].t = t[k];
	name_callers();
	calls_ms = (mono_now() - t0) * 1000;
}

static const struct calls *calls_of(const char *fn)
{
	for (int i = 0; i < nr_calls; i++)
		if (!strcmp(calls[i].fn, fn))
			return &calls[i];
	return NULL;
}

/* One line of the reply's kprobeStatus: what became of a probe and why, with who calls it. */
static void probe_status(struct json_object *status, const char *name, const char *fn,
			 const char *state, const char *why, int attached)
{
	struct json_object *o = json_object_new_object();
	const struct calls *c = calls_of(fn);

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "function", json_object_new_string(fn));
	json_object_object_add(o, "status", json_object_new_string(state));
	json_object_object_add(o, "attached", json_object_new_boolean(attached));
	if (why)
		json_object_object_add(o, "why", json_object_new_string(why));
	if (c && c->exists && !calls_error[0]) {
		json_object_object_add(o, "callSites", json_object_new_int(c->t.calls + c->t.jumps));
		json_object_object_add(o, "addressRefs", json_object_new_int(c->t.refs));
		if (c->callers[0])
			json_object_object_add(o, "callers", json_object_new_string(c->callers));
	} else if (c && c->exists) {
		json_object_object_add(o, "callsMeasured", json_object_new_string(calls_error));
	}
	json_object_array_add(status, o);
}

/*
 * @uncalled: attach even what is measured as never called (the self-test
 * does, to see it never fire); it stays out of @ok, listed as "not called".
 */
static void add_kprobes(const char *set, int uncalled, struct json_object *ok, struct json_object *failed,
			struct json_object *status)
{
	char def[512], ref[16] = "52", err[128], why[512];
	struct kfield f;
	struct btf *btf = kbtf_open(NULL, err, sizeof(err));
	int ret;

	if (btf && !kbtf_member(btf, "page._refcount", &f))
		snprintf(ref, sizeof(ref), "%u", f.off);
	if (btf)
		btf__free(btf);
	for (size_t i = 0; i < NR_DEFS; i++) {
		const struct kprobe_def *k = &kprobe_defs[i];
		const struct calls *c = calls_of(k->fn);
		char args[256], *p, name[96];
		int not_called;

		if (strcmp(k->set, set))
			continue;
		snprintf(name, sizeof(name), "%s%s", k->fn, k->ret ? "__return" : "");
		if (!btf && strstr(k->args, "%REF%")) {
			json_object_array_add(failed, json_object_new_string(name));
			probe_status(status, name, k->fn, "unavailable", err, 0);
			continue;
		}
		if (!c || !c->exists) {
			json_object_array_add(failed, json_object_new_string(name));
			snprintf(why, sizeof(why), "no function %s in %s", k->fn, symbol_source());
			probe_status(status, name, k->fn, "unavailable", why, 0);
			continue;
		}
		/* Measured: no call, no jump, no reference to its address anywhere. */
		not_called = !calls_error[0] && !c->t.calls && !c->t.jumps && !c->t.refs;
		if (not_called)
			snprintf(why, sizeof(why),
				 "exists but is not called: no call or jump to it and no reference to its address in the "
				 "kernel's or the loaded modules' code and data (inlined into its callers)");
		else if (!calls_error[0] && !c->t.calls && !c->t.jumps)
			snprintf(why, sizeof(why), "no direct caller; its address is taken %u time%s (called through a pointer)",
				 c->t.refs, c->t.refs == 1 ? "" : "s");
		else if (!calls_error[0])
			snprintf(why, sizeof(why), "%u direct call site%s: %s", c->t.calls + c->t.jumps,
				 c->t.calls + c->t.jumps == 1 ? "" : "s", c->callers);
		else
			snprintf(why, sizeof(why), "whether it is called was not measured: %s", calls_error);
		if (not_called && !uncalled) {
			json_object_array_add(failed, json_object_new_string(name));
			probe_status(status, name, k->fn, "not called", why, 0);
			continue;
		}
		snprintf(args, sizeof(args), "%s", k->args);
		p = strstr(args, "%REF%");
		if (p) {
			char rest[256];

			snprintf(rest, sizeof(rest), "%s", p + 5);
			snprintf(p, sizeof(args) - (p - args), "%s%s", ref, rest);
		}
		snprintf(def, sizeof(def), "%c:daxlab/%s %s %s\n", k->ret ? 'r' : 'p', name, k->fn, args);
		ret = tracefs_write("kprobe_events", def, 1);
		if (ret) {
			json_object_array_add(failed, json_object_new_string(name));
			snprintf(why, sizeof(why), "kprobe_events refused it: %s (kprobe blacklist, notrace?)",
				 strerror(-ret));
			probe_status(status, name, k->fn, "unavailable", why, 0);
			continue;
		}
		snprintf(def, sizeof(def), "events/daxlab/%s/enable", name);
		tracefs_write(def, "1", 0);
		if (not_called) {
			json_object_array_add(failed, json_object_new_string(name));
			probe_status(status, name, k->fn, "not called", why, 1);
			continue;
		}
		json_object_array_add(ok, json_object_new_string(name));
		probe_status(status, name, k->fn, "attached", why, 1);
	}
}

/*
 * One kprobe placed on request, after the trace command (refwatch.c: the wake-up
 * helpers, filtered on a page's addresses). Reported into @status like the others.
 */
int trace_probe(struct json_object *status, const char *name, const char *fn, const char *args,
		const char *filter)
{
	char def[512], why[256], path[256];
	int ret;

	if (!function_exists(fn)) {
		snprintf(why, sizeof(why), "no function %s in %s", fn, symbol_source());
		probe_status(status, name, fn, "unavailable", why, 0);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "events/daxlab/%s/enable", name);
	tracefs_write(path, "0", 0);
	snprintf(def, sizeof(def), "-:daxlab/%s\n", name);
	tracefs_write("kprobe_events", def, 1);
	snprintf(def, sizeof(def), "p:daxlab/%s %s %s\n", name, fn, args);
	ret = tracefs_write("kprobe_events", def, 1);
	if (ret) {
		snprintf(why, sizeof(why), "kprobe_events refused it: %s", strerror(-ret));
		probe_status(status, name, fn, "unavailable", why, 0);
		return ret;
	}
	snprintf(path, sizeof(path), "events/daxlab/%s/filter", name);
	if (filter && (ret = tracefs_write(path, filter, 0))) {
		snprintf(why, sizeof(why), "its filter was refused: %s", strerror(-ret));
		probe_status(status, name, fn, "unavailable", why, 0);
		return ret;
	}
	snprintf(path, sizeof(path), "events/daxlab/%s/enable", name);
	tracefs_write(path, "1", 0);
	learn_names("daxlab");
	probe_status(status, name, fn, "attached", NULL, 1);
	return 0;
}

/*
 * {"cmd":"probe-hits"}: how often each of the lab's kprobes fired
 * (kprobe_profile: "  name  hits  missed"), the evidence that a probe
 * point is called on this kernel.
 */
static void cmd_probe_hits(int id, struct json_object *req)
{
	struct json_object *result = json_object_new_object(), *hits = json_object_new_array();
	char line[512], name[128];
	unsigned long long nhit, nmiss;
	FILE *f = fopen(TRACEFS "/kprobe_profile", "re");

	(void)req;
	if (!f) {
		json_object_put(result);
		json_object_put(hits);
		send_error(id, "trace", "no " TRACEFS "/kprobe_profile (CONFIG_KPROBE_EVENTS?)", NULL);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o;

		if (sscanf(line, "%127s %llu %llu", name, &nhit, &nmiss) != 3)
			continue;
		o = json_object_new_object();
		/* "daxlab/name" on kernels that print the group */
		json_object_object_add(o, "name", json_object_new_string(strchr(name, '/') ? strchr(name, '/') + 1 : name));
		json_object_object_add(o, "hits", json_object_new_int64(nhit));
		json_object_object_add(o, "missed", json_object_new_int64(nmiss));
		json_object_array_add(hits, o);
	}
	fclose(f);
	json_object_object_add(result, "probes", hits);
	send_reply(id, result);
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
static void cmd_trace(int id, struct json_object *req)
{
	struct json_object *events, *kprobes, *v, *result, *enabled, *failed, *kp_ok, *kp_failed, *kp_status,
		*tracepoints;

	if (access(TRACEFS "/trace_pipe", R_OK)) {
		send_error(id, "trace", "tracefs is not mounted at " TRACEFS " (CONFIG_FTRACE?)", NULL);
		return;
	}
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
	if (json_object_object_get_ex(req, "events", &events)) {
		for (size_t i = 0; i < json_object_array_length(events); i++) {
			const char *spec = json_object_get_string(json_object_array_get_idx(events, i));
			char path[256], sys[64];

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
	if (json_object_object_get_ex(req, "kprobes", &kprobes)) {
		/*
		 * kprobe_events cannot be cleared while one of its events is enabled (EBUSY):
		 * a second run in the same guest then failed every definition with EEXIST.
		 */
		int uncalled = json_object_object_get_ex(req, "attachUncalled", &v) && json_object_get_boolean(v);

		tracefs_write("events/daxlab/enable", "0", 0);
		tracefs_write("kprobe_events", "", 0);
		/* after the clear: an optimized kprobe rewrites the probed function's first bytes */
		measure_calls();
		for (size_t i = 0; i < json_object_array_length(kprobes); i++)
			add_kprobes(json_object_get_string(json_object_array_get_idx(kprobes, i)), uncalled, kp_ok,
				    kp_failed, kp_status);
		learn_names("daxlab");
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
	if (json_object_object_get_ex(req, "kprobes", &kprobes)) {
		struct json_object *m = json_object_new_object();

		json_object_object_add(m, "measured", json_object_new_boolean(!calls_error[0]));
		if (calls_error[0])
			json_object_object_add(m, "error", json_object_new_string(calls_error));
		else
			json_object_object_add(m, "ms", json_object_new_double(calls_ms));
		json_object_object_add(result, "callScan", m);
	}
	/* The tracepoints this kernel has of what was asked ("fs_dax:dax_pmd_fault", ...). */
	json_object_object_add(result, "tracepoints", tracepoints);
	send_reply(id, result);
}

void trace_init(void)
{
	agent_register_cmd("trace", cmd_trace);
	agent_register_cmd("probe-hits", cmd_probe_hits);
}
