// SPDX-License-Identifier: MIT
/*
 * The lab's kprobes: which probe points exist on this kernel, whether each
 * is called (measured: kstate_callers() scans the kernel's and the modules'
 * code and the kernel's data for calls to it and references to its address),
 * their definitions with BTF offsets in the fetch arguments, and how often
 * each fired (kprobe_profile). trace.c sets tracefs up and reads the pipe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "agent.h"
#include "kstate/kstate.h"
#include "observer_internal.h"
#include "trace.h"
#include "trace_internal.h"
#include "util.h"

/*
 * Where probe points are looked up. available_filter_functions lists what
 * ftrace can trace, but exists only with CONFIG_FUNCTION_TRACER; a kprobe
 * needs only CONFIG_KPROBE_EVENTS and the symbol in kallsyms, so a kernel
 * built without the function tracer is asked through /proc/kallsyms.
 */
const char *symbol_source(void)
{
	return access(TRACEFS "/available_filter_functions", R_OK) ? "/proc/kallsyms" :
								     TRACEFS "/available_filter_functions";
}

/* Is @fn a function of this kernel or of a loaded module? */
static int function_exists_scan(const char *fn);

/*
 * The probe points' answers from one pass over the symbol source, made once
 * per trace command (available_filter_functions has ~60k lines: read once per
 * probe it took tens of seconds under TCG on a loaded host).
 */
static struct {
	const char *fn;
	int found;
} known[64];
static int nr_known = -1;

static void learn_functions(const char *const *fns, int n)
{
	const char *src = symbol_source();
	int kallsyms = !strcmp(src, "/proc/kallsyms");
	char line[512], name[256], type;
	FILE *f = fopen(src, "re");

	nr_known = 0;
	for (int i = 0; i < n && nr_known < 64; i++) {
		int dup = 0;

		for (int j = 0; j < nr_known; j++)
			dup |= !strcmp(known[j].fn, fns[i]);
		if (!dup) {
			known[nr_known].fn = fns[i];
			known[nr_known++].found = 0;
		}
	}
	while (f && fgets(line, sizeof(line), f)) {
		const char *sym = line;
		size_t len;

		if (kallsyms) {
			/* "ffffffff81234560 t fn\t[module]": text symbols only */
			if (sscanf(line, "%*s %c %255s", &type, name) != 2 || (type != 't' && type != 'T'))
				continue;
			sym = name;
		}
		/* "fn" or "fn [module]" */
		len = strcspn(sym, " \t\n");
		for (int j = 0; j < nr_known; j++)
			if (!known[j].found && strlen(known[j].fn) == len && !strncmp(sym, known[j].fn, len))
				known[j].found = 1;
	}
	if (f)
		fclose(f);
}

static int function_exists(const char *fn)
{
	for (int j = 0; j < nr_known; j++)
		if (!strcmp(known[j].fn, fn))
			return known[j].found;
	return function_exists_scan(fn);
}

static int function_exists_scan(const char *fn)
{
	const char *src = symbol_source();
	int kallsyms = !strcmp(src, "/proc/kallsyms");
	char line[512], name[256], type;
	FILE *f = fopen(src, "re");
	int found = 0;

	if (!f)
		return 0;
	for (unsigned long n = 0; !found && fgets(line, sizeof(line), f); n++) {
		/* Tens of thousands of lines, slow under TCG: the agent still beats. */
		if (!(n & 1023))
			agent_beat();
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
 * Who calls each probe point, measured once per set of loaded modules
 * (kstate_callers(): the kernel's text, data and rodata, and every module's
 * memory, scanned through /proc/kcore for calls and tail calls to the
 * function and references to its address).
 */
static struct kcallers calls[NR_DEFS];
static struct kcallers_scan calls_how;
static unsigned int nr_calls;
static char calls_error[320];	/* why there is no measurement */
static char calls_key[4096];	/* /proc/modules as it was measured with */

static void modules_key(char *buf, size_t len)
{
	FILE *f = fopen("/proc/modules", "re");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/*
 * What a measurement depends on, as a short key: the kernel build (uname
 * release and version) and the modules loaded (names and sizes: their
 * addresses move with KASLR, the counts do not). The host keeps results
 * by it, so a kernel is scanned once, not at every boot.
 */
#define SCAN_VERSION "textscan 1: calls into fn and its __pfx_, jmp/jcc to fn, lea, kernel data words; modules as code"
static char scan_key[32];
static int scan_cached;

static void make_scan_key(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char line[512], name[128];
	unsigned long long size;
	struct utsname u;
	FILE *f;

#define MIX(str)                                       \
	for (const char *c_ = (str); *c_; c_++) {      \
		h ^= (unsigned char)*c_;               \
		h *= 0x100000001b3ULL;                 \
	}
	/* what is counted, and how: a new way of counting must not reuse old answers */
	MIX(SCAN_VERSION);
	if (!uname(&u)) {
		MIX(u.release);
		MIX(u.version);
	}
	f = fopen("/proc/modules", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char one[160];

		if (sscanf(line, "%127s %llu", name, &size) != 2)
			continue;
		snprintf(one, sizeof(one), "|%s:%llu", name, size);
		MIX(one);
	}
	if (f)
		fclose(f);
#undef MIX
	snprintf(scan_key, sizeof(scan_key), "%016llx", (unsigned long long)h);
}

/* The host's result for this key (trace command "callScanCache"), if it has one. */
static int load_cached(struct json_object *cache)
{
	for (size_t i = 0; cache && i < json_object_array_length(cache); i++) {
		struct json_object *e = json_object_array_get_idx(cache, i), *v, *results;

		if (!json_object_object_get_ex(e, "key", &v) || strcmp(json_object_get_string(v), scan_key) ||
		    !json_object_object_get_ex(e, "results", &results) || !json_object_is_type(results, json_type_array))
			continue;
		for (unsigned int k = 0; k < nr_calls; k++) {
			struct kcallers *c = &calls[k];

			for (size_t r = 0; r < json_object_array_length(results); r++) {
				struct json_object *o = json_object_array_get_idx(results, r), *x;

				if (!json_object_object_get_ex(o, "fn", &x) || strcmp(json_object_get_string(x), c->fn))
					continue;
				c->found = json_object_object_get_ex(o, "found", &x) && json_object_get_boolean(x);
				c->t.calls = json_object_object_get_ex(o, "calls", &x) ? json_object_get_int(x) : 0;
				c->t.jumps = json_object_object_get_ex(o, "jumps", &x) ? json_object_get_int(x) : 0;
				c->t.refs = json_object_object_get_ex(o, "refs", &x) ? json_object_get_int(x) : 0;
				if (json_object_object_get_ex(o, "callers", &x) && json_object_get_string(x)[0]) {
					snprintf(c->site_name[0], sizeof(c->site_name[0]), "%s", json_object_get_string(x));
					c->t.nr_sites = 1;
				}
			}
		}
		memset(&calls_how, 0, sizeof(calls_how));
		calls_how.complete = true;
		return 1;
	}
	return 0;
}

static void measure_calls(struct json_object *cache)
{
	char key[sizeof(calls_key)];
	const char *kerr;
	int ret;

	modules_key(key, sizeof(key));
	if (nr_calls && !calls_error[0] && !strcmp(key, calls_key))
		return;
	memcpy(calls_key, key, sizeof(key));
	nr_calls = 0;
	calls_error[0] = '\0';
	scan_cached = 0;
	for (size_t i = 0; i < NR_DEFS; i++) {
		int seen = 0;

		for (unsigned int j = 0; j < nr_calls; j++)
			seen |= !strcmp(calls[j].fn, kprobe_defs[i].fn);
		if (!seen) {
			memset(&calls[nr_calls], 0, sizeof(calls[0]));
			calls[nr_calls++].fn = kprobe_defs[i].fn;
		}
	}
	make_scan_key();
	if (load_cached(cache)) {
		scan_cached = 1;
		return;
	}
	if ((kerr = observer_open_kstate())) {
		snprintf(calls_error, sizeof(calls_error), "kernel memory unreadable: %.120s", kerr);
		return;
	}
	ret = kstate_callers(obs_ks, calls, nr_calls, &calls_how);
	if (ret)
		snprintf(calls_error, sizeof(calls_error), "scanning the kernel's code failed: %.120s", kstate_errmsg(obs_ks));
	else if (!calls_how.complete)
		snprintf(calls_error, sizeof(calls_error),
			 "the kernel's data was not all scanned (%s), so a function called only through a pointer cannot be "
			 "told from an inlined one", calls_how.unreadable ? "part of it unreadable through kcore" :
			 "no __start_rodata/__end_rodata or _sdata/_edata in kallsyms: CONFIG_KALLSYMS_ALL?");
}

static const struct kcallers *calls_of(const char *fn)
{
	for (unsigned int i = 0; i < nr_calls; i++)
		if (!strcmp(calls[i].fn, fn))
			return &calls[i];
	return NULL;
}

/* "xfs_break_layouts+0x4c [xfs], ..." */
static void callers_text(const struct kcallers *c, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int j = 0; j < c->t.nr_sites && n < len - 1; j++)
		n += snprintf(buf + n, len - n, "%s%s", j ? ", " : "", c->site_name[j][0] ? c->site_name[j] : "?");
}

/* One line of the reply's kprobeStatus: what became of a probe and why, with who calls it. */
static void probe_status(struct json_object *status, const char *name, const char *fn,
			 const char *state, const char *why, int attached)
{
	struct json_object *o = json_object_new_object();
	const struct kcallers *c = calls_of(fn);
	char callers[1024];

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "function", json_object_new_string(fn));
	json_object_object_add(o, "status", json_object_new_string(state));
	json_object_object_add(o, "attached", json_object_new_boolean(attached));
	if (why)
		json_object_object_add(o, "why", json_object_new_string(why));
	if (c && c->found && (!calls_error[0] || calls_how.ms > 0)) {
		json_object_object_add(o, "callSites", json_object_new_int(c->t.calls + c->t.jumps));
		json_object_object_add(o, "addressRefs", json_object_new_int(c->t.refs));
		callers_text(c, callers, sizeof(callers));
		if (callers[0])
			json_object_object_add(o, "callers", json_object_new_string(callers));
	}
	if (c && c->found && calls_error[0]) {
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
	char def[512], ref[16] = "52", err[256], why[512];
	unsigned int ref_off;
	int have_ref = !trace_page_refcount_off(&ref_off, err, sizeof(err));
	int ret;

	if (have_ref)
		snprintf(ref, sizeof(ref), "%u", ref_off);
	for (size_t i = 0; i < NR_DEFS; i++) {
		const struct kprobe_def *k = &kprobe_defs[i];
		const struct kcallers *c = calls_of(k->fn);
		char args[256], *p, name[96], callers[1024];
		int not_called;

		if (strcmp(k->set, set))
			continue;
		snprintf(name, sizeof(name), "%s%s", k->fn, k->ret ? "__return" : "");
		observer_sample_if_due();
		if (!have_ref && strstr(k->args, "%REF%")) {
			json_object_array_add(failed, json_object_new_string(name));
			probe_status(status, name, k->fn, "unavailable", err, 0);
			continue;
		}
		/* kallsyms, or available_filter_functions where it exists */
		if (!function_exists(k->fn)) {
			json_object_array_add(failed, json_object_new_string(name));
			snprintf(why, sizeof(why), "no function %s in %s", k->fn, symbol_source());
			probe_status(status, name, k->fn, "unavailable", why, 0);
			continue;
		}
		/* Measured: no call, no jump, no reference to its address anywhere. */
		not_called = c && c->found && !calls_error[0] && !c->t.calls && !c->t.jumps && !c->t.refs;
		if (c)
			callers_text(c, callers, sizeof(callers));
		if (not_called)
			snprintf(why, sizeof(why),
				 "exists but is not called: no call or jump to it and no reference to its address in the "
				 "kernel's or the loaded modules' code and data (inlined into its callers)");
		else if (c && c->found && !calls_error[0] && !c->t.calls && !c->t.jumps)
			snprintf(why, sizeof(why), "no direct caller; its address is taken %u time%s (called through a pointer)",
				 c->t.refs, c->t.refs == 1 ? "" : "s");
		else if (c && c->found && !calls_error[0])
			snprintf(why, sizeof(why), "%u direct call site%s: %.400s", c->t.calls + c->t.jumps,
				 c->t.calls + c->t.jumps == 1 ? "" : "s", callers);
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

int trace_page_refcount_off(unsigned int *off, char *err, size_t errlen)
{
	static int known;	/* 0: not asked yet, 1: found, -1: not */
	static unsigned int cached;
	static char why[256];

	if (!known) {
		struct btf *btf = kbtf_open(NULL, why, sizeof(why));
		struct kfield f;

		known = -1;
		if (btf && !kbtf_member(btf, "page._refcount", &f)) {
			cached = f.off;
			known = 1;
		} else if (btf) {
			snprintf(why, sizeof(why), "no member page._refcount in the kernel's BTF");
		}
		if (btf)
			btf__free(btf);
	}
	if (known < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	*off = cached;
	return 0;
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

	observer_sample_if_due();
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


/* The kprobes of the sets asked for ("gup", "layouts", "pipe"), after kprobe_events was cleared. */
void probes_place(struct json_object *sets, struct json_object *cache, int uncalled, struct json_object *ok,
		  struct json_object *failed, struct json_object *status)
{
	const char *fns[NR_DEFS];

	for (size_t i = 0; i < NR_DEFS; i++)
		fns[i] = kprobe_defs[i].fn;
	learn_functions(fns, NR_DEFS);
	/* after the clear: an optimized kprobe rewrites the probed function's first bytes */
	measure_calls(cache);
	for (size_t i = 0; i < json_object_array_length(sets); i++)
		add_kprobes(json_object_get_string(json_object_array_get_idx(sets, i)), uncalled, ok, failed, status);
}

/* How "is called" was measured, and what it cost: the trace reply's callScan. */
struct json_object *probes_scan_json(void)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "measured", json_object_new_boolean(!calls_error[0]));
	if (calls_error[0])
		json_object_object_add(m, "error", json_object_new_string(calls_error));
	json_object_object_add(m, "ms", json_object_new_double(calls_how.ms));
	json_object_object_add(m, "codeBytes", json_object_new_int64(calls_how.code_bytes));
	json_object_object_add(m, "dataBytes", json_object_new_int64(calls_how.data_bytes));
	json_object_object_add(m, "moduleBytes", json_object_new_int64(calls_how.module_bytes));
	json_object_object_add(m, "modules", json_object_new_int(calls_how.modules));
	/* The results by key, for the host to keep: the next boot of this kernel skips the scan. */
	json_object_object_add(m, "key", json_object_new_string(scan_key));
	json_object_object_add(m, "cached", json_object_new_boolean(scan_cached));
	if (!calls_error[0]) {
		struct json_object *results = json_object_new_array();

		for (unsigned int i = 0; i < nr_calls; i++) {
			struct json_object *o = json_object_new_object();
			char callers[1024];

			callers_text(&calls[i], callers, sizeof(callers));
			json_object_object_add(o, "fn", json_object_new_string(calls[i].fn));
			json_object_object_add(o, "found", json_object_new_boolean(calls[i].found));
			json_object_object_add(o, "calls", json_object_new_int(calls[i].t.calls));
			json_object_object_add(o, "jumps", json_object_new_int(calls[i].t.jumps));
			json_object_object_add(o, "refs", json_object_new_int(calls[i].t.refs));
			json_object_object_add(o, "callers", json_object_new_string(callers));
			json_object_array_add(results, o);
		}
		json_object_object_add(m, "results", results);
	}
	return m;
}

void probes_init(void)
{
	agent_register_cmd("probe-hits", cmd_probe_hits);
}
