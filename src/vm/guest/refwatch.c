// SPDX-License-Identifier: MIT
/*
 * Who writes a watched page's refcount: a hardware write watchpoint on the
 * struct page's _refcount (perf_event_open, PERF_TYPE_BREAKPOINT, one event
 * per CPU), each hit sent as an event with the instruction, the kernel stack
 * (symbolized through /proc/kallsyms) and the refcount read right after it.
 *
 * And whether the era's wake-up ran for that page: kprobes on wake_up_var()
 * (filtered on &page->_refcount and on the page itself, the two addresses the
 * 6.x and 7.x waiters sleep on) and on the fsdax put helper of the era
 * (__put_devmap_managed_page_refs 6.1, __put_devmap_managed_folio_refs 6.12,
 * free_zone_device_folio 7.x), filtered on the page, with the refcount the
 * kernel read before its own decrement.
 *
 * x86 data breakpoints trap after the write: the reported ip is the
 * instruction after the one that wrote, which is in the same function.
 *
 * {"cmd":"refwatch","pages":[{"label":"victim","index":0}]}; "pages":[] disarms.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "observer_internal.h"
#include "trace.h"

#define MAX_CPUS 64
#define MAX_REFWATCH 4		/* x86 has four debug address registers */
#define RING_PAGES 8
#define MAX_FRAMES 24

struct bp {
	int fd;
	void *ring;
	size_t ring_len;
	int slot;		/* index into watches[] */
	int cpu;
};

static struct {
	char page[80];		/* "victim#0" */
	uint64_t pfn;
	uint64_t page_addr;
	uint64_t ref_addr;
	int hits;
	int lost;
} watches[MAX_REFWATCH];
static int nr_watches;

static struct bp bps[MAX_CPUS * MAX_REFWATCH];
static int nr_bps;

/* /proc/kallsyms text symbols, sorted by address */
static struct sym {
	uint64_t addr;
	const char *name;
} *syms;
static size_t nr_syms;
static char *sym_pool;

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int load_kallsyms(void)
{
	size_t cap = 0, pool_cap = 0, pool_len = 0;
	char line[512], name[256], mod[128], type;
	unsigned long long addr;
	FILE *f;

	if (syms)
		return 0;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	for (unsigned long lines = 0; fgets(line, sizeof(line), f); lines++) {
		int n;
		size_t len;

		/* ~150,000 lines: a second or more under TCG */
		if (!(lines % 512))
			observer_sample_if_due();
		mod[0] = '\0';
		n = sscanf(line, "%llx %c %255s %127s", &addr, &type, name, mod);
		if (n < 3 || !addr || (type != 't' && type != 'T'))
			continue;
		if (nr_syms == cap) {
			cap = cap ? cap * 2 : 65536;
			syms = realloc(syms, cap * sizeof(*syms));
			if (!syms)
				return -ENOMEM;
		}
		len = strlen(name) + (n == 4 ? strlen(mod) + 1 : 0) + 1;
		if (pool_len + len > pool_cap) {
			/* names are stored as offsets first, pointers after the pool stops moving */
			pool_cap = pool_cap ? pool_cap * 2 : (1 << 22);
			sym_pool = realloc(sym_pool, pool_cap);
			if (!sym_pool)
				return -ENOMEM;
		}
		snprintf(sym_pool + pool_len, len, "%s%s%s", name, n == 4 ? " " : "", n == 4 ? mod : "");
		syms[nr_syms].addr = addr;
		syms[nr_syms].name = (const char *)(uintptr_t)pool_len;
		nr_syms++;
		pool_len += len;
	}
	fclose(f);
	for (size_t i = 0; i < nr_syms; i++)
		syms[i].name = sym_pool + (uintptr_t)syms[i].name;
	qsort(syms, nr_syms, sizeof(*syms), sym_cmp);
	return nr_syms ? 0 : -ENOENT;
}

/* "fn+0x1a" for @ip (a return address: looked up at ip - 1); "0x..." if unknown. */
static void symbolize(uint64_t ip, char *out, size_t len)
{
	size_t lo = 0, hi = nr_syms;
	uint64_t key = ip - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (syms[mid].addr <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo) {
		snprintf(out, len, "0x%llx", (unsigned long long)ip);
		return;
	}
	snprintf(out, len, "%s+0x%llx", syms[lo - 1].name, (unsigned long long)(ip - syms[lo - 1].addr));
}

static void disarm(void)
{
	for (int i = 0; i < nr_bps; i++) {
		agent_unwatch_fd(bps[i].fd);
		if (bps[i].ring)
			munmap(bps[i].ring, bps[i].ring_len);
		close(bps[i].fd);
	}
	nr_bps = 0;
	nr_watches = 0;
}

static void send_hit(int slot, int cpu, uint64_t ip, uint32_t pid, uint32_t tid, uint64_t time_ns,
		     const uint64_t *ips, uint64_t nr)
{
	struct json_object *msg = json_object_new_object(), *fields = json_object_new_object();
	char stack[2048] = "", frame[160], hex[32];
	size_t len = 0;
	int32_t ref = 0;
	int rret, frames = 0;
	double read_at;

	/* kcore reads are not cached (only translations are): this is the value now */
	rret = kstate_read(obs_ks, watches[slot].ref_addr, &ref, sizeof(ref));
	read_at = mono_now();
	for (uint64_t i = 0; i < nr && frames < MAX_FRAMES; i++) {
		if (ips[i] >= (uint64_t)-4095)	/* PERF_CONTEXT_KERNEL and friends */
			continue;
		symbolize(ips[i], frame, sizeof(frame));
		len += snprintf(stack + len, sizeof(stack) - len, "%s%s", frames ? "," : "", frame);
		if (len >= sizeof(stack))
			break;
		frames++;
	}
	symbolize(ip, frame, sizeof(frame));
	json_object_object_add(msg, "t", json_object_new_double(time_ns / 1e9));
	json_object_object_add(msg, "kind", json_object_new_string("event"));
	json_object_object_add(msg, "src", json_object_new_string("hwbp"));
	json_object_object_add(msg, "name", json_object_new_string("refcount_write"));
	json_object_object_add(msg, "pid", json_object_new_int(tid));
	json_object_object_add(fields, "page", json_object_new_string(watches[slot].page));
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)watches[slot].pfn);
	json_object_object_add(fields, "pfn", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)watches[slot].ref_addr);
	json_object_object_add(fields, "refAddr", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)ip);
	json_object_object_add(fields, "ip", json_object_new_string(hex));
	json_object_object_add(fields, "fn", json_object_new_string(frame));
	json_object_object_add(fields, "stack", json_object_new_string(stack));
	json_object_object_add(fields, "cpu", json_object_new_int(cpu));
	json_object_object_add(fields, "tgid", json_object_new_int(pid));
	if (!rret) {
		json_object_object_add(fields, "refAfter", json_object_new_int(ref));
		/* how long after the write the refcount was read (the hit's time is the kernel's) */
		json_object_object_add(fields, "readLagUs",
				       json_object_new_int((int)((read_at - time_ns / 1e9) * 1e6)));
	} else {
		json_object_object_add(fields, "readError", json_object_new_string(kstate_errmsg(obs_ks)));
	}
	json_object_object_add(msg, "fields", fields);
	channel_send(msg);
	watches[slot].hits++;
}

/* Parse one PERF_RECORD_SAMPLE: ip, pid/tid, time, cpu/res, callchain (sample_type order). */
static void on_sample(struct bp *b, const uint64_t *p, size_t words)
{
	uint64_t ip, time_ns, nr;
	uint32_t pid, tid, cpu;

	if (words < 5)
		return;
	ip = p[0];
	pid = (uint32_t)p[1];
	tid = (uint32_t)(p[1] >> 32);
	time_ns = p[2];
	cpu = (uint32_t)p[3];
	nr = p[4];
	if (5 + nr > words)
		nr = words - 5;
	send_hit(b->slot, cpu, ip, pid, tid, time_ns, p + 5, nr);
}

static void on_ring(int fd, short revents, void *ctx)
{
	struct bp *b = ctx;
	struct perf_event_mmap_page *meta = b->ring;
	char *data = (char *)b->ring + meta->data_offset;
	uint64_t size = meta->data_size, head, tail;
	static uint64_t buf[4096];

	(void)fd;
	(void)revents;
	head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	tail = meta->data_tail;
	while (tail < head) {
		struct perf_event_header h;
		size_t off = tail % size, first;

		memcpy(&h, data + off, sizeof(h) <= size - off ? sizeof(h) : size - off);
		if (sizeof(h) > size - off)
			memcpy((char *)&h + (size - off), data, sizeof(h) - (size - off));
		if (!h.size || h.size > sizeof(buf))
			break;
		first = h.size <= size - off ? h.size : size - off;
		memcpy(buf, data + off, first);
		if (first < h.size)
			memcpy((char *)buf + first, data, h.size - first);
		if (h.type == PERF_RECORD_SAMPLE)
			on_sample(b, buf + 1, (h.size - sizeof(h)) / 8);
		else if (h.type == PERF_RECORD_LOST)
			watches[b->slot].lost += (int)buf[2];
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

static int arm_one(int slot, int cpu, char *err, size_t errlen)
{
	struct perf_event_attr attr;
	struct bp *b = &bps[nr_bps];
	long page = sysconf(_SC_PAGESIZE);

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_BREAKPOINT;
	attr.size = sizeof(attr);
	attr.bp_type = HW_BREAKPOINT_W;
	attr.bp_addr = watches[slot].ref_addr;
	attr.bp_len = HW_BREAKPOINT_LEN_4;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			   PERF_SAMPLE_CALLCHAIN;
	attr.exclude_callchain_user = 1;
	attr.wakeup_events = 1;
	attr.use_clockid = 1;
	attr.clockid = CLOCK_MONOTONIC;
	b->fd = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (b->fd < 0) {
		snprintf(err, errlen, "perf_event_open(PERF_TYPE_BREAKPOINT, W, 0x%llx, cpu %d): %s",
			 (unsigned long long)watches[slot].ref_addr, cpu, strerror(errno));
		return -1;
	}
	b->ring_len = (1 + RING_PAGES) * page;
	b->ring = mmap(NULL, b->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->ring == MAP_FAILED) {
		snprintf(err, errlen, "mmap of the perf ring: %s", strerror(errno));
		close(b->fd);
		return -1;
	}
	b->slot = slot;
	b->cpu = cpu;
	nr_bps++;
	agent_watch_fd(b->fd, POLLIN, on_ring, b);
	return 0;
}

/* The wake-up side: which of these this kernel has is reported per probe. */
static void add_wake_probes(struct json_object *status)
{
	char filter[512], args[128], ref[16] = "52", err[256];
	unsigned int ref_off;
	size_t len = 0;
	static const char *const puts[] = { "__put_devmap_managed_page_refs", "__put_devmap_managed_folio_refs",
					    "free_zone_device_folio", "free_zone_device_page" };

	if (!trace_page_refcount_off(&ref_off, err, sizeof(err)))
		snprintf(ref, sizeof(ref), "%u", ref_off);
	for (int i = 0; i < nr_watches; i++)
		len += snprintf(filter + len, sizeof(filter) - len, "%svar == 0x%llx || var == 0x%llx", i ? " || " : "",
				(unsigned long long)watches[i].ref_addr, (unsigned long long)watches[i].page_addr);
	/* where wake_up_var() is inline, the wake-up is __wake_up_bit(wq, var, -1) */
	if (trace_probe(status, "wake_up_var", "wake_up_var", "var=%di:x64", filter))
		trace_probe(status, "__wake_up_bit", "__wake_up_bit", "var=%si:x64 bit=%dx:s32", filter);
	len = 0;
	for (int i = 0; i < nr_watches; i++)
		len += snprintf(filter + len, sizeof(filter) - len, "%spage == 0x%llx", i ? " || " : "",
				(unsigned long long)watches[i].page_addr);
	snprintf(args, sizeof(args), "page=%%di:x64 refs=%%si:s32 ref=+%s(%%di):s32", ref);
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++)
		trace_probe(status, puts[i], puts[i], args, filter);
}

static void cmd_refwatch(int id, struct json_object *req)
{
	struct json_object *list, *out, *v, *status;
	char err[300] = "", berr[256];
	unsigned int ref_off;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const char *kerr;
	int ret;

	disarm();
	if (!json_object_object_get_ex(req, "pages", &list) || !json_object_array_length(list)) {
		v = json_object_new_object();
		json_object_object_add(v, "armed", json_object_new_array());
		send_reply(id, v);
		return;
	}
	if ((kerr = observer_open_kstate())) {
		send_error(id, "kernel-unreadable", kerr, NULL);
		return;
	}
	if (trace_page_refcount_off(&ref_off, berr, sizeof(berr))) {
		send_error(id, "refwatch", "no offset of page._refcount in the kernel's BTF", berr);
		return;
	}
	ret = load_kallsyms();
	if (ret) {
		snprintf(err, sizeof(err), "/proc/kallsyms has no text symbols with addresses (%s; kptr_restrict?)",
			 strerror(-ret));
		send_error(id, "refwatch", err, NULL);
		return;
	}
	if (ncpu > MAX_CPUS)
		ncpu = MAX_CPUS;
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(list) && nr_watches < MAX_REFWATCH; i++) {
		struct json_object *p = json_object_array_get_idx(list, i), *lv, *iv;
		const char *label;
		int64_t index;
		struct kpage pg;
		int slot = -1;

		if (!json_object_object_get_ex(p, "label", &lv) || !json_object_object_get_ex(p, "index", &iv))
			continue;
		label = json_object_get_string(lv);
		index = json_object_get_int64(iv);
		for (int w = 0; w < nr_watched_pages; w++)
			if (!strcmp(watched_pages[w].file, label) && (int64_t)watched_pages[w].index == index)
				slot = w;
		if (slot < 0) {
			snprintf(err, sizeof(err), "%s#%lld is not a watched page", label, (long long)index);
			goto fail;
		}
		if (kstate_page_read(obs_ks, watched_pages[slot].pfn, &pg)) {
			snprintf(err, sizeof(err), "struct page of %s#%lld: %s", label, (long long)index,
				 kstate_errmsg(obs_ks));
			goto fail;
		}
		snprintf(watches[nr_watches].page, sizeof(watches[0].page), "%.63s#%lld", label, (long long)index);
		watches[nr_watches].pfn = watched_pages[slot].pfn;
		/* a tail page's own _refcount is 0: the folio's count lives in the head */
		watches[nr_watches].page_addr = pg.large ? pg.head_addr : pg.addr;
		watches[nr_watches].ref_addr = watches[nr_watches].page_addr + ref_off;
		watches[nr_watches].hits = 0;
		watches[nr_watches].lost = 0;
		nr_watches++;
		/* the same struct page under another label: one breakpoint serves both (x86
		 * reports one of two equal watchpoints); the host matches hits by refAddr */
		for (int w = 0; w < nr_watches - 1 && ncpu; w++)
			if (watches[w].ref_addr == watches[nr_watches - 1].ref_addr)
				goto armed;
		for (int cpu = 0; cpu < ncpu; cpu++)
			if (arm_one(nr_watches - 1, cpu, err, sizeof(err)))
				goto fail;
armed:
		v = json_object_new_object();
		json_object_object_add(v, "page", json_object_new_string(watches[nr_watches - 1].page));
		json_object_object_add(v, "pfn", jhex(watches[nr_watches - 1].pfn));
		json_object_object_add(v, "structPage", jhex(watches[nr_watches - 1].page_addr));
		json_object_object_add(v, "refAddr", jhex(watches[nr_watches - 1].ref_addr));
		json_object_object_add(v, "refNow", json_object_new_int(page_ref(&pg)));
		json_object_object_add(v, "cpus", json_object_new_int(ncpu));
		json_object_array_add(out, v);
	}
	status = json_object_new_array();
	add_wake_probes(status);
	v = json_object_new_object();
	json_object_object_add(v, "armed", out);
	json_object_object_add(v, "probes", status);
	json_object_object_add(v, "symbols", json_object_new_int64(nr_syms));
	send_reply(id, v);
	return;
fail:
	json_object_put(out);
	disarm();
	send_error(id, "refwatch", err, NULL);
}

void refwatch_init(void)
{
	agent_register_cmd("refwatch", cmd_refwatch);
}
