// SPDX-License-Identifier: MIT
/*
 * The observer: snapshots of the watched pages, the locks of their files, the
 * actors' tasks and the leases, at the rate the host asks for. Pages are learned
 * from an actor's mapping through /proc/<pid>/pagemap and kept by pfn: a page
 * that is still referenced after munmap stays interesting. struct page, the
 * address_space and its rw_semaphores are read from /proc/kcore with every
 * offset taken from the running kernel's BTF (kstate/).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "actors.h"
#include "agent.h"
#include "kstate/kstate.h"
#include "observer.h"
#include "trace.h"

#define MAX_PAGES 256
#define MAX_FILES 8
#define MAX_TRACKED 32
#define STACK_FRAMES 24

struct watched_page {
	char file[64];
	uint64_t index;		/* page index in the actor's mapping */
	uint64_t pfn;		/* the page mapped there, or the last one seen */
	int mapped;		/* present in the actor's page table at the last sample */
	char actor[ACTOR_NAME_MAX];
	unsigned int gen;	/* the actor's mapping generation when learned */
	int wfile;		/* index into files[], -1 until a file page is seen */
	uint64_t file_index;	/* page offset in the file */
};

struct watched_file {
	char name[64];
	char path[256];
	uint64_t mapping;	/* struct address_space, learned from a page */
	struct kmapping m;
	unsigned int dev_major, dev_minor;
	uint64_t ino;
};

/* The refcount model of a page kind on this kernel. */
struct baseline {
	int known;
	int measured;		/* calibrated on this kernel, not a rule */
	int idle;		/* refcount of an unreferenced page */
	int mappings_hold_refs;	/* each mapping adds one to the refcount */
	int r1, m1, r2, m2;	/* calibration evidence */
	char error[128];
};

static struct kstate *ks;
static char ks_error[256];
static struct watched_page pages[MAX_PAGES];
static int nr_pages;
static struct watched_file files[MAX_FILES];
static int nr_files;
static struct baseline fsdax_base, anon_base = { 1, 0, 0, 1, 0, 0, 0, 0, "" },
		       pagecache_base = { 1, 0, 1, 1, 0, 0, 0, 0, "" };
static double interval, next_sample;
static uint64_t seq, skipped;

/* When each actor was first seen asleep during its current action. */
static struct {
	int pid;
	double since;
} asleep[MAX_TRACKED];

static void resolve_kernel_leases(void);

static int ensure_kstate(void)
{
	struct kstate_opts opts = { 0 };
	struct kstate_pfn_range ranges[8];
	int n;

	if (ks)
		return 0;
	ks = kstate_open(&opts, ks_error, sizeof(ks_error));
	if (!ks)
		return -1;
	n = kstate_iomem_pmem_ranges("/proc/iomem", ranges, 8);
	if (n > 0)
		kstate_set_device_ranges(ks, ranges, n);
	/* Now rather than at the first lease break: it measures HZ over 200 ms. */
	resolve_kernel_leases();
	return 0;
}

/* The sampler reads many pages of one actor in a row: keep its pagemap open. */
static int pagemap_fd(int pid)
{
	static int cached_pid = -1, fd = -1;
	char path[64];

	if (pid == cached_pid && fd >= 0)
		return fd;
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cached_pid = fd >= 0 ? pid : -1;
	return fd;
}

static int pagemap_pfn(int pid, uint64_t va, uint64_t *pfn)
{
	uint64_t entry;
	int fd = pagemap_fd(pid);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, &entry, sizeof(entry), (va / 4096) * sizeof(entry));
	if (n != sizeof(entry))
		return -EIO;
	/* bit 63: present; bits 0-54: pfn (zero without CAP_SYS_ADMIN) */
	if (!(entry >> 63))
		return -ENOENT;
	*pfn = entry & ((1ULL << 55) - 1);
	return *pfn ? 0 : -EPERM;
}

static int page_ref(const struct kpage *pg)
{
	return pg->large ? pg->head_refcount : pg->refcount;
}

/*
 * What is an idle fsdax page's refcount here, and do mappings count? Map a
 * fresh page of a probe file twice and read its struct page after each fault:
 * 6.1 shows 1 both times (DAX ptes are special, no rmap), v6.15+ shows the
 * mapping references on top of 0.
 */
static void calibrate_fsdax(void)
{
	char path[] = LAB_MOUNTPOINT "/.daxlab-idle-probe";
	struct kpage pg;
	uint64_t pfn;
	volatile char *a = MAP_FAILED, *b = MAP_FAILED;
	int fd;

	fsdax_base.known = 0;
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4096)) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "probe file: %s", strerror(errno));
		goto out;
	}
	a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "mmap: %s", strerror(errno));
		goto out;
	}
	a[0] = 1;
	if (pagemap_pfn(getpid(), (uintptr_t)a, &pfn) || kstate_page_read(ks, pfn, &pg)) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "reading the probe page failed");
		goto out;
	}
	if (!pg.zone_device) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "probe page pfn 0x%llx is not ZONE_DEVICE: mount not DAX?",
			 (unsigned long long)pfn);
		goto out;
	}
	fsdax_base.r1 = page_ref(&pg);
	fsdax_base.m1 = pg.mapcount;
	(void)b[0];
	if (kstate_page_read(ks, pfn, &pg))
		goto out;
	fsdax_base.r2 = page_ref(&pg);
	fsdax_base.m2 = pg.mapcount;
	fsdax_base.mappings_hold_refs = fsdax_base.m2 > fsdax_base.m1 &&
					fsdax_base.r2 - fsdax_base.r1 == fsdax_base.m2 - fsdax_base.m1;
	fsdax_base.idle = fsdax_base.r1 - (fsdax_base.mappings_hold_refs ? fsdax_base.m1 : 0);
	fsdax_base.known = 1;
	fsdax_base.measured = 1;
out:
	if (a != MAP_FAILED)
		munmap((void *)a, 4096);
	if (b != MAP_FAILED)
		munmap((void *)b, 4096);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static struct json_object *baseline_json(const struct baseline *b)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "known", json_object_new_boolean(b->known));
	if (!b->known) {
		json_object_object_add(o, "error", json_object_new_string(b->error));
		return o;
	}
	json_object_object_add(o, "idle", json_object_new_int(b->idle));
	json_object_object_add(o, "mappingsHoldRefs", json_object_new_boolean(b->mappings_hold_refs));
	json_object_object_add(o, "measured", json_object_new_boolean(b->measured));
	if (b->measured) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "refOneMapping", json_object_new_int(b->r1));
		json_object_object_add(e, "mapcountOneMapping", json_object_new_int(b->m1));
		json_object_object_add(e, "refTwoMappings", json_object_new_int(b->r2));
		json_object_object_add(e, "mapcountTwoMappings", json_object_new_int(b->m2));
		json_object_object_add(o, "evidence", e);
	}
	return o;
}

static const struct baseline *baseline_of(const struct kpage *pg)
{
	if (pg->zone_device)
		return &fsdax_base;
	return pg->mapping_kind == KPAGE_MAP_ANON ? &anon_base : &pagecache_base;
}

static int find_file(uint64_t mapping)
{
	for (int i = 0; i < nr_files; i++)
		if (files[i].mapping == mapping)
			return i;
	return -1;
}

static const char *const lock_kinds[] = { "invalidate_lock", "i_mmap_rwsem", "i_rwsem" };

static uint64_t lock_addr(const struct watched_file *f, int kind)
{
	return kind == 0 ? f->m.invalidate_lock : kind == 1 ? f->m.i_mmap_rwsem : f->m.i_rwsem;
}

static void update_trace_locks(void)
{
	static char names[MAX_FILES * 3][96];
	const char *name_ptrs[MAX_FILES * 3];
	uint64_t addrs[MAX_FILES * 3];
	int n = 0;

	for (int i = 0; i < nr_files; i++) {
		for (int k = 0; k < 3; k++) {
			snprintf(names[n], sizeof(names[n]), "%s of %.63s", lock_kinds[k], files[i].name);
			name_ptrs[n] = names[n];
			addrs[n++] = lock_addr(&files[i], k);
		}
	}
	trace_set_locks(addrs, name_ptrs, n);
}

static int add_file(uint64_t mapping, const char *name, const char *path)
{
	struct watched_file *f;
	struct stat st;
	int i = find_file(mapping);

	if (i >= 0 || nr_files == MAX_FILES)
		return i;
	f = &files[nr_files];
	memset(f, 0, sizeof(*f));
	if (kstate_mapping_read(ks, mapping, &f->m))
		return -1;
	f->mapping = mapping;
	snprintf(f->name, sizeof(f->name), "%.63s", name);
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (!stat(path, &st)) {
		f->dev_major = major(st.st_dev);
		f->dev_minor = minor(st.st_dev);
		f->ino = st.st_ino;
	}
	nr_files++;
	update_trace_locks();
	return nr_files - 1;
}

/* {"cmd":"watch-pages","actor":"holder","pages":[0,1],"label":"victim"} */
static void cmd_watch_pages(int id, struct json_object *req)
{
	struct json_object *v, *list, *out;
	const struct actor *a;
	const char *label = NULL;
	char err[300];

	if (ensure_kstate()) {
		send_error(id, "observer", ks_error, NULL);
		return;
	}
	if (!json_object_object_get_ex(req, "actor", &v) || !(a = actor_find(json_object_get_string(v)))) {
		send_error(id, "observer", "watch-pages: no such actor", NULL);
		return;
	}
	if (!a->map.mapped) {
		send_error(id, "observer", "watch-pages: the actor has no mapping now (mmap and touch first)", NULL);
		return;
	}
	if (json_object_object_get_ex(req, "label", &v))
		label = json_object_get_string(v);
	if (!label)
		label = !a->map.anonymous ? (strrchr(a->map.path, '/') ? strrchr(a->map.path, '/') + 1 : a->map.path) : "anon";
	if (!json_object_object_get_ex(req, "pages", &list)) {
		send_error(id, "observer", "watch-pages: pages missing", NULL);
		return;
	}
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		uint64_t index = json_object_get_int64(json_object_array_get_idx(list, i)), pfn;
		struct watched_page *w;
		struct kpage pg;
		int ret;

		if (index * 4096 >= a->map.length) {
			snprintf(err, sizeof(err), "page %llu is outside the %llu-byte mapping",
				 (unsigned long long)index, (unsigned long long)a->map.length);
			goto fail;
		}
		ret = pagemap_pfn(a->pid, a->map.addr + index * 4096, &pfn);
		if (ret) {
			snprintf(err, sizeof(err), "page %llu: %s", (unsigned long long)index,
				 ret == -ENOENT ? "not present in the page table (touch it first)" : strerror(-ret));
			goto fail;
		}
		if (kstate_page_read(ks, pfn, &pg)) {
			snprintf(err, sizeof(err), "struct page of pfn 0x%llx: %s", (unsigned long long)pfn, kstate_errmsg(ks));
			goto fail;
		}
		if (pg.zone_device && !fsdax_base.known)
			calibrate_fsdax();
		if (nr_pages == MAX_PAGES) {
			snprintf(err, sizeof(err), "at most %d watched pages", MAX_PAGES);
			goto fail;
		}
		w = &pages[nr_pages++];
		memset(w, 0, sizeof(*w));
		snprintf(w->file, sizeof(w->file), "%.63s", label);
		snprintf(w->actor, sizeof(w->actor), "%s", a->name);
		w->gen = a->map.gen;
		w->index = index;
		w->pfn = pfn;
		w->mapped = 1;
		/* A hole read maps the shared zero page: the file is learned at the first file page. */
		w->wfile = pg.mapping_kind == KPAGE_MAP_FILE ? add_file(pg.mapping, label, a->map.path) : -1;
		w->file_index = a->map.offset / 4096 + index;
		v = json_object_new_object();
		json_object_object_add(v, "index", json_object_new_int64(index));
		snprintf(err, sizeof(err), "0x%llx", (unsigned long long)pfn);
		json_object_object_add(v, "pfn", json_object_new_string(err));
		json_object_object_add(v, "zoneDevice", json_object_new_boolean(pg.zone_device));
		json_object_array_add(out, v);
	}
	v = json_object_new_object();
	json_object_object_add(v, "pages", out);
	json_object_object_add(v, "fsdaxBaseline", baseline_json(&fsdax_base));
	send_reply(id, v);
	return;
fail:
	json_object_put(out);
	send_error(id, "observer", err, NULL);
}

static const char *dax_entry_state(const struct watched_page *w, const struct kpage *pg, int *pmd)
{
	struct kdax_result r;

	*pmd = 0;
	if (w->wfile < 0 || !pg->zone_device)
		return "n/a";
	if (kstate_dax_lookup(ks, files[w->wfile].mapping, w->file_index, &r))
		return "n/a";
	if (!r.present)
		return "none";
	*pmd = r.dax.pmd;
	if (r.dax.locked)
		return "locked";
	if (r.dax.empty)
		return "empty";
	if (r.dax.zero_page)
		return "zero";
	return "unlocked";
}

/*
 * Follow the page table: a write fault replaces the zero page, a punch and a new
 * fault give another page. While the index is unmapped (munmap, truncate, the
 * actor gone) keep watching the last page seen: it may still be referenced.
 */
static void refresh_pfn(struct watched_page *w)
{
	const struct actor *a = actor_find(w->actor);
	uint64_t pfn;
	struct kpage pg;

	w->mapped = 0;
	if (!a || !a->alive || !a->map.mapped || a->map.gen != w->gen)
		return;
	if (pagemap_pfn(a->pid, a->map.addr + w->index * 4096, &pfn))
		return;
	w->mapped = 1;
	if (pfn == w->pfn)
		return;
	w->pfn = pfn;
	if (w->wfile < 0 && !kstate_page_read(ks, pfn, &pg) && pg.mapping_kind == KPAGE_MAP_FILE)
		w->wfile = add_file(pg.mapping, w->file, a->map.path);
}

static struct json_object *page_json(struct watched_page *w)
{
	struct json_object *o = json_object_new_object(), *flags = json_object_new_array();
	const struct baseline *b;
	struct kpage pg;
	char buf[1024];
	int ref, above, pins, pmd, batched;
	const char *mapping = NULL;

	refresh_pfn(w);
	json_object_object_add(o, "file", json_object_new_string(w->file));
	json_object_object_add(o, "index", json_object_new_int64(w->index));
	json_object_object_add(o, "mapped", json_object_new_boolean(w->mapped));
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)w->pfn);
	json_object_object_add(o, "pfn", json_object_new_string(buf));
	if (kstate_page_read(ks, w->pfn, &pg)) {
		json_object_object_add(o, "error", json_object_new_string(kstate_errmsg(ks)));
		memset(&pg, 0, sizeof(pg));
	}
	b = baseline_of(&pg);
	ref = page_ref(&pg);
	/*
	 * A newly faulted anon or page-cache folio waits in a per-CPU LRU batch,
	 * which holds a reference until it is drained onto the LRU (PG_lru then
	 * set). Count that reference apart: it is nobody's pin.
	 */
	batched = !pg.zone_device && pg.mapping_kind != KPAGE_MAP_NONE &&
		  !kstate_page_test(kstate_layout(ks), &pg, "PG_lru");
	above = ref - b->idle - (b->mappings_hold_refs ? pg.mapcount : 0) - batched;
	pins = pg.large && pg.have_pincount ? pg.pincount : above / KSTATE_GUP_PIN_COUNTING_BIAS;
	kstate_pageflags_str(kstate_layout(ks), pg.head_flags, buf, sizeof(buf));
	for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		json_object_array_add(flags, json_object_new_string(tok));
	if (pg.mapping_kind == KPAGE_MAP_ANON) {
		mapping = "anon";
	} else if (pg.mapping_kind == KPAGE_MAP_FILE) {
		int f = find_file(pg.mapping);

		mapping = f >= 0 ? files[f].name : "other file";
	}
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)pg.addr);
	json_object_object_add(o, "addr", json_object_new_string(buf));
	json_object_object_add(o, "zoneDevice", json_object_new_boolean(pg.zone_device));
	json_object_object_add(o, "ref", json_object_new_int(ref));
	json_object_object_add(o, "idle", json_object_new_int(b->idle));
	json_object_object_add(o, "aboveIdle", json_object_new_int(above));
	json_object_object_add(o, "pins", json_object_new_int(pins));
	json_object_object_add(o, "mapcount", json_object_new_int(pg.mapcount));
	json_object_object_add(o, "lruBatch", json_object_new_boolean(batched));
	json_object_object_add(o, "flags", flags);
	json_object_object_add(o, "mapping", mapping ? json_object_new_string(mapping) : NULL);
	json_object_object_add(o, "pageIndex", pg.mapping_kind == KPAGE_MAP_NONE ? NULL : json_object_new_int64(pg.index));
	json_object_object_add(o, "entry", json_object_new_string(dax_entry_state(w, &pg, &pmd)));
	json_object_object_add(o, "pmd", json_object_new_boolean(pmd));
	return o;
}

static struct json_object *lock_json(const struct watched_file *f, int kind)
{
	struct json_object *o = json_object_new_object(), *waiters = json_object_new_array();
	struct krwsem rw;
	char addr[32];
	uint64_t a = lock_addr(f, kind);

	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	json_object_object_add(o, "file", json_object_new_string(f->name));
	json_object_object_add(o, "lock", json_object_new_string(lock_kinds[kind]));
	json_object_object_add(o, "addr", json_object_new_string(addr));
	if (kstate_rwsem_read(ks, a, &rw)) {
		json_object_object_add(o, "state", json_object_new_string("free"));
		json_object_object_add(o, "readers", json_object_new_int(0));
		json_object_object_add(o, "owner", NULL);
		json_object_object_add(o, "waiters", waiters);
		json_object_object_add(o, "handoff", json_object_new_boolean(0));
		json_object_object_add(o, "error", json_object_new_string(kstate_errmsg(ks)));
		return o;
	}
	json_object_object_add(o, "state", json_object_new_string(rw.writer_locked ? "write" : rw.readers ? "read" : "free"));
	json_object_object_add(o, "readers", json_object_new_int64(rw.readers));
	if (rw.owner_ok && rw.writer_locked) {
		struct json_object *owner = json_object_new_object();

		json_object_object_add(owner, "pid", json_object_new_int(rw.owner.pid));
		json_object_object_add(owner, "comm", json_object_new_string(rw.owner.comm));
		json_object_object_add(o, "owner", owner);
	} else {
		json_object_object_add(o, "owner", NULL);
	}
	for (unsigned int i = 0; i < rw.nr_waiters && i < KRWSEM_MAX_WAITERS; i++) {
		struct json_object *w;

		if (!rw.waiter[i].task_ok)
			continue;
		w = json_object_new_object();
		json_object_object_add(w, "pid", json_object_new_int(rw.waiter[i].task.pid));
		json_object_object_add(w, "comm", json_object_new_string(rw.waiter[i].task.comm));
		json_object_object_add(w, "type", json_object_new_string(rw.waiter[i].type == KRWSEM_WAIT_READ ? "read" : "write"));
		json_object_array_add(waiters, w);
	}
	json_object_object_add(o, "waiters", waiters);
	json_object_object_add(o, "handoff", json_object_new_boolean(rw.handoff));
	return o;
}

static double *asleep_since(int pid)
{
	int free_slot = -1;

	for (int i = 0; i < MAX_TRACKED; i++) {
		if (asleep[i].pid == pid)
			return &asleep[i].since;
		if (!asleep[i].pid && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return NULL;
	asleep[free_slot].pid = pid;
	asleep[free_slot].since = 0;
	return &asleep[free_slot].since;
}

static struct json_object *actor_json(const struct actor *a, double now)
{
	struct json_object *o = json_object_new_object(), *stack = json_object_new_array();
	char path[64], *text, state[2] = "?";
	double *since = asleep_since(a->pid);

	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "pid", json_object_new_int(a->pid));
	snprintf(path, sizeof(path), "/proc/%d/stat", a->pid);
	text = read_text(path, 1024);
	/* The state follows the ")" that closes comm: comm may hold spaces. */
	if (text && strrchr(text, ')') && strrchr(text, ')')[1])
		state[0] = strrchr(text, ')')[2];
	free(text);
	json_object_object_add(o, "state", json_object_new_string(state));
	snprintf(path, sizeof(path), "/proc/%d/wchan", a->pid);
	text = read_text(path, 128);
	json_object_object_add(o, "wchan", json_object_new_string(text ? text : ""));
	free(text);
	/* Blocked: asleep while inside an action (an idle actor sleeps waiting for work). */
	if (since) {
		if (a->busy && (state[0] == 'S' || state[0] == 'D')) {
			if (!*since)
				*since = now;
		} else {
			*since = 0;
		}
	}
	json_object_object_add(o, "blockedMs", json_object_new_int64(since && *since ? (int64_t)((now - *since) * 1000) : 0));
	snprintf(path, sizeof(path), "/proc/%d/stack", a->pid);
	text = read_text(path, 8192);
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *frame = strchr(line, ']'), *slash;

		/* "[<0>] xfs_break_dax_layouts+0x8f/0x120 [xfs]" -> "xfs_break_dax_layouts+0x8f [xfs]" */
		if (!frame)
			continue;
		frame += 2;
		slash = strchr(frame, '/');
		if (slash) {
			char *mod = strchr(slash, ' ');

			memmove(slash, mod ? mod : slash + strlen(slash), strlen(mod ? mod : "") + 1);
		}
		if (json_object_array_length(stack) < STACK_FRAMES)
			json_object_array_add(stack, json_object_new_string(frame));
	}
	free(text);
	json_object_object_add(o, "stack", stack);
	return o;
}

/*
 * Reading /proc/locks takes file_rwsem for write (a percpu rwsem: an RCU grace
 * period each time), which is slow and disturbs every lock user in the guest.
 * Only read it when a watched inode has a lease: inode->i_flctx->flc_lease.
 */
static int any_leases(void)
{
	static struct kfield flctx, flc_lease;
	static int resolved;
	uint64_t ctx, next;

	if (!resolved) {
		resolved = kbtf_member(kstate_btf(ks), "inode.i_flctx", &flctx) ||
			   kbtf_member(kstate_btf(ks), "file_lock_context.flc_lease", &flc_lease) ? -1 : 1;
	}
	for (int i = 0; i < nr_files; i++) {
		if (resolved < 0)
			return 1;	/* cannot tell: read /proc/locks */
		if (kstate_read_u64(ks, files[i].m.host + flctx.off, &ctx))
			return 1;
		if (!ctx)
			continue;
		if (kstate_read_u64(ks, ctx + flc_lease.off, &next) || next != ctx + flc_lease.off)
			return 1;
	}
	return 0;
}

/*
 * The kernel's own deadline of a breaking lease: file_lock.fl_break_time (6.9+:
 * file_lease) against jiffies. HZ is not in BTF: count jiffies across a known
 * interval once and round to the nearest CONFIG_HZ choice.
 */
static struct {
	int state;		/* 0 unresolved, 1 ok, -1 unavailable */
	struct kfield list, link, pid, break_time, flctx, flc_lease;
	uint64_t jiffies;
	int hz;
} kl;

static void resolve_kernel_leases(void)
{
	const struct btf *btf = kstate_btf(ks);
	static const int hz_choices[] = { 100, 250, 300, 1000 };
	uint64_t j0, j1;
	double t0;
	int best = 0;

	kl.state = -1;
	if (kbtf_member(btf, "inode.i_flctx", &kl.flctx) ||
	    kbtf_member(btf, "file_lock_context.flc_lease", &kl.flc_lease))
		return;
	if (kbtf_member(btf, "file_lock.fl_list", &kl.link) ||
	    kbtf_member(btf, "file_lock.fl_pid", &kl.pid) ||
	    kbtf_member(btf, "file_lock.fl_break_time", &kl.break_time)) {
		/* v6.9+: leases are struct file_lease around a struct file_lock_core. */
		if (kbtf_member(btf, "file_lease.c.flc_list", &kl.link) ||
		    kbtf_member(btf, "file_lease.c.flc_pid", &kl.pid) ||
		    kbtf_member(btf, "file_lease.fl_break_time", &kl.break_time))
			return;
	}
	if (kstate_symbol(ks, "jiffies", &kl.jiffies) || kstate_read_u64(ks, kl.jiffies, &j0))
		return;
	t0 = mono_now();
	usleep(200 * 1000);
	if (kstate_read_u64(ks, kl.jiffies, &j1))
		return;
	for (int i = 1; i < 4; i++) {
		double rate = (j1 - j0) / (mono_now() - t0);

		if (fabs(rate - hz_choices[i]) < fabs(rate - hz_choices[best]))
			best = i;
	}
	kl.hz = hz_choices[best];
	kl.state = 1;
}

/* Milliseconds until the kernel times out the breaking lease of @pid on file @i; -1: unknown. */
static double kernel_break_left(int i, int pid)
{
	uint64_t ctx, head, pos, jiffies, deadline;
	uint32_t fl_pid;
	int guard = 0;

	if (!kl.state)
		resolve_kernel_leases();
	if (kl.state < 0 || kstate_read_u64(ks, files[i].m.host + kl.flctx.off, &ctx) || !ctx)
		return -1;
	head = ctx + kl.flc_lease.off;
	if (kstate_read_u64(ks, head, &pos) || kstate_read_u64(ks, kl.jiffies, &jiffies))
		return -1;
	while (pos != head && guard++ < 64) {
		uint64_t lease = pos - kl.link.off;

		if (kstate_read(ks, lease + kl.pid.off, &fl_pid, sizeof(fl_pid)) ||
		    kstate_read_u64(ks, lease + kl.break_time.off, &deadline))
			return -1;
		if ((int)fl_pid == pid && deadline)
			return (int64_t)(deadline - jiffies) * 1000.0 / kl.hz;
		if (kstate_read_u64(ks, pos, &pos))
			return -1;
	}
	return -1;
}

static struct json_object *leases_json(double now)
{
	struct json_object *list = json_object_new_array();
	static double break_seen[MAX_FILES];
	char line[512];
	FILE *f = any_leases() ? fopen("/proc/locks", "re") : NULL;
	char *text = f ? read_text("/proc/sys/fs/lease-break-time", 32) : NULL;
	int break_time = text ? atoi(text) : 45;
	int breaking[MAX_FILES] = { 0 };

	free(text);
	while (f && fgets(line, sizeof(line), f)) {
		char type[16], state[16], mode[16], devino[64];
		unsigned int maj, min;
		unsigned long long ino;
		int pid, n = 0;
		const char *p = line;

		line[strcspn(line, "\n")] = '\0';
		p = strchr(line, ':');
		if (!p)
			continue;
		p++;
		if (strstr(p, "->"))
			p = strstr(p, "->") + 2;
		if (sscanf(p, "%15s %15s %15s %d %63s%n", type, state, mode, &pid, devino, &n) < 5)
			continue;
		if (sscanf(devino, "%x:%x:%llu", &maj, &min, &ino) != 3)
			continue;
		for (int i = 0; i < nr_files; i++) {
			struct json_object *o;
			double left = -1;
			const char *source = NULL;

			if (files[i].ino != ino || files[i].dev_major != maj || files[i].dev_minor != min)
				continue;
			if (!strcmp(state, "BREAKING")) {
				breaking[i] = 1;
				if (!break_seen[i])
					break_seen[i] = now;
				left = kernel_break_left(i, pid);
				source = "kernel";
				if (left < 0) {
					/* Fallback: from the first sample that saw it breaking. */
					left = break_time * 1000.0 - (now - break_seen[i]) * 1000.0;
					source = "estimate";
				}
				if (left < 0)
					left = 0;
			}
			o = json_object_new_object();
			json_object_object_add(o, "file", json_object_new_string(files[i].name));
			json_object_object_add(o, "type", json_object_new_string(type));
			json_object_object_add(o, "state", json_object_new_string(strstr(line, "->") ? "BREAKER" : state));
			json_object_object_add(o, "mode", json_object_new_string(mode));
			json_object_object_add(o, "pid", json_object_new_int(pid));
			json_object_object_add(o, "breakLeftMs", left >= 0 ? json_object_new_int64((int64_t)left) : NULL);
			if (source)
				json_object_object_add(o, "breakSource", json_object_new_string(source));
			json_object_object_add(o, "raw", json_object_new_string(line));
			json_object_array_add(list, o);
		}
	}
	if (f)
		fclose(f);
	for (int i = 0; i < MAX_FILES; i++)
		if (!breaking[i])
			break_seen[i] = 0;
	return list;
}

static struct json_object *vmstat_json(void)
{
	struct json_object *o = json_object_new_object();
	char name[64];
	unsigned long long value;
	FILE *f = fopen("/proc/vmstat", "re");

	while (f && fscanf(f, "%63s %llu", name, &value) == 2)
		if (!strncmp(name, "nr_foll_pin_", 12))
			json_object_object_add(o, name, json_object_new_int64(value));
	if (f)
		fclose(f);
	return o;
}

/* Microseconds since *mark; moves the mark. */
static int64_t lap(double *mark)
{
	double now = mono_now();
	int64_t us = (int64_t)((now - *mark) * 1e6);

	*mark = now;
	return us;
}

static void send_snapshot(double now)
{
	struct json_object *msg = json_object_new_object(), *list, *dropped, *cost;
	double began = mono_now(), mark = began;

	cost = json_object_new_object();
	json_object_object_add(msg, "kind", json_object_new_string("snapshot"));
	json_object_object_add(msg, "seq", json_object_new_int64(seq++));
	list = json_object_new_array();
	for (int i = 0; i < nr_pages; i++)
		json_object_array_add(list, page_json(&pages[i]));
	json_object_object_add(msg, "pages", list);
	json_object_object_add(cost, "pages", json_object_new_int64(lap(&mark)));
	list = json_object_new_array();
	for (int i = 0; i < nr_files; i++)
		for (int k = 0; k < 3; k++)
			json_object_array_add(list, lock_json(&files[i], k));
	json_object_object_add(msg, "locks", list);
	json_object_object_add(cost, "locks", json_object_new_int64(lap(&mark)));
	list = json_object_new_array();
	for (int i = 0; i < actors_count(); i++) {
		const struct actor *a = actor_at(i);

		if (a->alive)
			json_object_array_add(list, actor_json(a, now));
	}
	json_object_object_add(msg, "actors", list);
	json_object_object_add(cost, "actors", json_object_new_int64(lap(&mark)));
	json_object_object_add(msg, "leases", leases_json(now));
	json_object_object_add(cost, "leases", json_object_new_int64(lap(&mark)));
	json_object_object_add(msg, "vmstat", vmstat_json());
	json_object_object_add(cost, "vmstat", json_object_new_int64(lap(&mark)));
	dropped = json_object_new_object();
	json_object_object_add(dropped, "events", json_object_new_int64(trace_dropped()));
	json_object_object_add(dropped, "snapshots", json_object_new_int64(skipped));
	json_object_object_add(msg, "dropped", dropped);
	json_object_object_add(cost, "dropped", json_object_new_int64(lap(&mark)));
	json_object_object_add(msg, "costUs", json_object_new_int64((int64_t)((mono_now() - began) * 1e6)));
	json_object_object_add(msg, "costByPartUs", cost);
	json_object_object_add(msg, "t", json_object_new_double(now));
	channel_send(msg);
}

static void on_tick(double now)
{
	if (!interval || !ks || now < next_sample)
		return;
	send_snapshot(now);
	next_sample += interval;
	if (now > next_sample) {
		/* We fell behind (a slow sample, a busy guest): count, never pile up. */
		skipped += (uint64_t)((now - next_sample) / interval) + 1;
		next_sample = now + interval;
	}
}

/* {"cmd":"observe","hz":10}; hz 0 stops. Replies with the baselines in force. */
static void cmd_observe(int id, struct json_object *req)
{
	struct json_object *v, *result;
	double hz = json_object_object_get_ex(req, "hz", &v) ? json_object_get_double(v) : 10;

	if (ensure_kstate()) {
		send_error(id, "observer", ks_error, NULL);
		return;
	}
	if (hz < 0 || hz > 50) {
		send_error(id, "observer", "hz must be between 0 and 50", NULL);
		return;
	}
	if (!fsdax_base.known)
		calibrate_fsdax();
	interval = hz ? 1.0 / hz : 0;
	next_sample = mono_now();
	result = json_object_new_object();
	json_object_object_add(result, "hz", json_object_new_double(hz));
	v = json_object_new_object();
	json_object_object_add(v, "fsdax", baseline_json(&fsdax_base));
	json_object_object_add(v, "anon", baseline_json(&anon_base));
	json_object_object_add(v, "pagecache", baseline_json(&pagecache_base));
	json_object_object_add(result, "baselines", v);
	send_reply(id, result);
}

/* One snapshot now, as the reply (tests and the self-test use it). */
static void cmd_sample(int id, struct json_object *req)
{
	(void)req;
	if (ensure_kstate()) {
		send_error(id, "observer", ks_error, NULL);
		return;
	}
	send_snapshot(mono_now());
	send_reply(id, NULL);
}

/* {"cmd":"unwatch"}: forget every watched page and file, so that the next scenario starts clean. */
static void cmd_unwatch(int id, struct json_object *req)
{
	struct json_object *result = json_object_new_object();

	(void)req;
	json_object_object_add(result, "pages", json_object_new_int(nr_pages));
	json_object_object_add(result, "files", json_object_new_int(nr_files));
	nr_pages = 0;
	nr_files = 0;
	update_trace_locks();
	send_reply(id, result);
}

void observer_init(void)
{
	agent_register_cmd("unwatch", cmd_unwatch);
	agent_register_cmd("watch-pages", cmd_watch_pages);
	agent_register_cmd("observe", cmd_observe);
	agent_register_cmd("sample", cmd_sample);
	agent_register_tick(on_tick);
}
