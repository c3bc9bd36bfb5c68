// SPDX-License-Identifier: MIT
/*
 * The watch list: pages learned from an actor's mapping through /proc/<pid>/pagemap
 * and kept by pfn (a page still referenced after munmap stays interesting), and the
 * files they belong to, with their address_space and rw_semaphores. Each sample
 * follows the page tables again: read from kernel memory (actor_kernel.c), checked
 * against pagemap for every page when it starts to be watched, or pagemap itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent.h"
#include "observer_internal.h"
#include "trace.h"

struct watched_page watched_pages[MAX_PAGES];
int nr_watched_pages;
struct watched_file watched_files[MAX_FILES];
int nr_watched_files;
unsigned int watch_gen;

/*
 * The sampler reads the pages of a few actors each sample: keep their pagemaps
 * open, by pid, until the actor is reaped (a pid can be reused after that).
 */
#define PAGEMAP_FDS 8
static struct {
	int pid;
	int fd;
} pagemaps[PAGEMAP_FDS];
static unsigned int pagemap_next;

static int pagemap_fd(int pid)
{
	char path[64];
	int fd;

	for (int i = 0; i < PAGEMAP_FDS; i++)
		if (pagemaps[i].pid == pid && pagemaps[i].fd > 0)
			return pagemaps[i].fd;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!obs_opts.batch_pagemap) {
		/* legacy: one open file, for the last pid read */
		for (int i = 0; i < PAGEMAP_FDS; i++)
			if (pagemaps[i].fd > 0) {
				close(pagemaps[i].fd);
				pagemaps[i].fd = 0;
			}
	}
	pagemap_next %= PAGEMAP_FDS;
	if (pagemaps[pagemap_next].fd > 0)
		close(pagemaps[pagemap_next].fd);
	pagemaps[pagemap_next].pid = pid;
	pagemaps[pagemap_next].fd = fd;
	pagemap_next++;
	return fd;
}

static void on_actor(const struct actor *a, const char *op)
{
	if (op)
		return;
	/* reaped: its pid may come back as another process */
	for (int i = 0; i < PAGEMAP_FDS; i++)
		if (pagemaps[i].pid == a->pid && pagemaps[i].fd > 0) {
			close(pagemaps[i].fd);
			pagemaps[i].fd = 0;
		}
}

/* 0 and the pfn of a present pagemap entry, or -errno. */
static int pagemap_decode(uint64_t entry, uint64_t *pfn)
{
	/* bit 63: present; bits 0-54: pfn (zero without CAP_SYS_ADMIN) */
	if (!(entry >> 63))
		return -ENOENT;
	*pfn = entry & ((1ULL << 55) - 1);
	return *pfn ? 0 : -EPERM;
}

int pagemap_pfn(int pid, uint64_t va, uint64_t *pfn)
{
	uint64_t entry;
	int fd = pagemap_fd(pid);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, &entry, sizeof(entry), (va / 4096) * sizeof(entry));
	obs_calls.pagemap++;
	if (n != sizeof(entry))
		return -EIO;
	return pagemap_decode(entry, pfn);
}

/* A batched result, valid for the page_sample() of this snapshot only. */
#define PM_UNREAD 1

static int by_actor_index(const void *x, const void *y)
{
	const struct watched_page *a = *(struct watched_page *const *)x, *b = *(struct watched_page *const *)y;
	int c = strcmp(a->actor, b->actor);

	if (c)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * A run of watched pages of one actor through its page tables, read from kernel
 * memory (the block cache: no system call once gathered). 0, or -1 when the
 * walk cannot be used for this actor (the caller reads pagemap instead).
 */
static int walk_run(struct watched_page **run, int n, const struct actor *a)
{
	uint64_t pgd;

	if (!obs_opts.actors_kernel || actor_kernel_pgd(a, &pgd))
		return -1;
	for (int k = 0; k < n; k++) {
		struct watched_page *w = run[k];
		int ret = kstate_user_pfn(obs_ks, pgd, a->map.addr + w->index * 4096, &w->pm_pfn);

		if (ret && ret != -ENOENT) {
			/* a read that failed is not "not mapped": ask pagemap for the whole run */
			for (int i = 0; i < n; i++)
				run[i]->pm_ret = PM_UNREAD;
			return -1;
		}
		w->pm_ret = ret;
	}
	return 0;
}

/*
 * Every watched page's page-table entry: through the actor's page tables in
 * kernel memory (obs_opts.actors_kernel), else one pagemap pread per run of nearby
 * indices of one actor's mapping: for 64 pages in 3 files, 3 reads instead of 64.
 */
void watch_read_pagemaps(void)
{
	/* the watched pages by actor and index, sorted again only when the list changes */
	static struct watched_page *sorted[MAX_PAGES], *order[MAX_PAGES];
	static unsigned int sorted_gen = ~0U;
	static uint64_t entries[4096];
	int n = 0;

	if (sorted_gen != watch_gen) {
		for (int i = 0; i < nr_watched_pages; i++)
			sorted[i] = &watched_pages[i];
		qsort(sorted, nr_watched_pages, sizeof(sorted[0]), by_actor_index);
		sorted_gen = watch_gen;
	}
	for (int i = 0; i < nr_watched_pages; i++) {
		struct watched_page *w = sorted[i];
		const struct actor *a = w->actor_p;

		w->pm_ret = PM_UNREAD;
		if (a->alive && a->map.mapped && a->map.gen == w->gen)
			order[n++] = w;
	}
	for (int i = 0; i < n;) {
		const struct actor *a = order[i]->actor_p;
		uint64_t first = order[i]->index, last = first;
		int j = i + 1, fd;
		ssize_t got;

		/* extend the run while the next index is near and the read stays small */
		while (j < n && order[j]->actor_p == a &&
		       order[j]->index - last <= 64 && order[j]->index - first < 4096)
			last = order[j++]->index;
		if (!walk_run(order + i, j - i, a)) {
			i = j;
			continue;
		}
		fd = pagemap_fd(a->pid);
		got = fd < 0 ? -1 : pread(fd, entries, (last - first + 1) * 8, (a->map.addr / 4096 + first) * 8);
		obs_calls.pagemap++;
		for (int k = i; k < j; k++) {
			struct watched_page *w = order[k];
			uint64_t at = w->index - first;

			if (got < 0)
				w->pm_ret = -errno;
			else if ((uint64_t)got < (at + 1) * 8)
				w->pm_ret = -EIO;
			else
				w->pm_ret = pagemap_decode(entries[at], &w->pm_pfn);
		}
		i = j;
	}
}

/*
 * The cross-check of the walk: for a page about to be watched, the actor's page
 * tables read from kernel memory must give the pfn pagemap gave. If they do not,
 * the observer stops walking (pagemap from then on) and says why.
 */
static void check_walk(const struct actor *a, uint64_t index, uint64_t pagemap_pfn_seen)
{
	char why[256];
	uint64_t pgd, pfn = 0;
	int ret;

	if (!obs_opts.actors_kernel || actor_kernel_status())
		return;
	ret = actor_kernel_pgd(a, &pgd);
	if (ret) {
		if (actor_kernel_status())
			return;
		snprintf(why, sizeof(why), "cannot find the page tables of %s (pid %d): %s", a->name, a->pid,
			 kstate_errmsg(obs_ks));
		actor_kernel_disable(why);
		return;
	}
	ret = kstate_user_pfn(obs_ks, pgd, a->map.addr + index * 4096, &pfn);
	if (ret)
		snprintf(why, sizeof(why), "the page-table walk of %s page %llu failed (%s) where pagemap gave pfn %#llx",
			 a->name, (unsigned long long)index, kstate_errmsg(obs_ks), (unsigned long long)pagemap_pfn_seen);
	else if (pfn != pagemap_pfn_seen)
		snprintf(why, sizeof(why), "the page-table walk of %s page %llu gave pfn %#llx, pagemap %#llx",
			 a->name, (unsigned long long)index, (unsigned long long)pfn, (unsigned long long)pagemap_pfn_seen);
	if (ret || pfn != pagemap_pfn_seen)
		actor_kernel_disable(why);
}

int watched_file_find(uint64_t mapping)
{
	for (int i = 0; i < nr_watched_files; i++)
		if (watched_files[i].mapping == mapping)
			return i;
	return -1;
}

const char *const lock_kinds[LOCK_KINDS] = { "invalidate_lock", "i_mmap_rwsem", "i_rwsem" };

uint64_t lock_addr(const struct watched_file *f, int kind)
{
	return kind == 0 ? f->m.invalidate_lock : kind == 1 ? f->m.i_mmap_rwsem : f->m.i_rwsem;
}

static void update_trace_locks(void)
{
	static char names[MAX_FILES * LOCK_KINDS][96];
	const char *name_ptrs[MAX_FILES * LOCK_KINDS];
	uint64_t addrs[MAX_FILES * LOCK_KINDS];
	int n = 0;

	for (int i = 0; i < nr_watched_files; i++) {
		for (int k = 0; k < LOCK_KINDS; k++) {
			snprintf(names[n], sizeof(names[n]), "%s of %.63s", lock_kinds[k], watched_files[i].name);
			name_ptrs[n] = names[n];
			addrs[n++] = lock_addr(&watched_files[i], k);
		}
	}
	trace_set_locks(addrs, name_ptrs, n);
}

static int add_file(uint64_t mapping, const char *name, const char *path)
{
	struct watched_file *f;
	struct stat st;
	int i = watched_file_find(mapping);

	if (i >= 0 || nr_watched_files == MAX_FILES)
		return i;
	f = &watched_files[nr_watched_files];
	memset(f, 0, sizeof(*f));
	if (kstate_mapping_read(obs_ks, mapping, &f->m))
		return -1;
	f->mapping = mapping;
	snprintf(f->name, sizeof(f->name), "%.63s", name);
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (!stat(path, &st)) {
		f->dev_major = major(st.st_dev);
		f->dev_minor = minor(st.st_dev);
		f->ino = st.st_ino;
	}
	nr_watched_files++;
	watch_gen++;
	update_trace_locks();
	return nr_watched_files - 1;
}

/* {"cmd":"watch-pages","actor":"holder","pages":[0,1],"label":"victim"} */
static void cmd_watch_pages(int id, struct json_object *req)
{
	struct json_object *v, *list, *out;
	const struct actor *a;
	const char *label = NULL, *kerr;
	char err[300];

	if ((kerr = observer_open_kstate())) {
		send_error(id, "kernel-unreadable", kerr, NULL);
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
		check_walk(a, index, pfn);
		if (kstate_page_read(obs_ks, pfn, &pg)) {
			snprintf(err, sizeof(err), "struct page of pfn 0x%llx: %s", (unsigned long long)pfn, kstate_errmsg(obs_ks));
			goto fail;
		}
		if (pg.zone_device && !fsdax_base.known)
			idle_calibrate_fsdax();
		if (pg.dev_kind == KPAGE_DEV_GENERIC && !devdax_base.known)
			idle_calibrate_devdax();
		if (nr_watched_pages == MAX_PAGES) {
			snprintf(err, sizeof(err), "at most %d watched pages", MAX_PAGES);
			goto fail;
		}
		w = &watched_pages[nr_watched_pages++];
		watch_gen++;
		memset(w, 0, sizeof(*w));
		snprintf(w->file, sizeof(w->file), "%.63s", label);
		snprintf(w->actor, sizeof(w->actor), "%s", a->name);
		w->actor_p = a;
		w->gen = a->map.gen;
		w->pm_ret = PM_UNREAD;
		w->index = index;
		w->pfn = pfn;
		w->mapped = 1;
		/* A hole read maps the shared zero page: the file is learned at the first file page. */
		w->wfile = pg.mapping_kind == KPAGE_MAP_FILE ? add_file(pg.mapping, label, a->map.path) : -1;
		w->file_index = a->map.offset / 4096 + index;
		v = json_object_new_object();
		json_object_object_add(v, "index", json_object_new_int64(index));
		json_object_object_add(v, "pfn", jhex(pfn));
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

/*
 * Follow the page table: a write fault replaces the zero page, a punch and a new
 * fault give another page. While the index is unmapped (munmap, truncate, the
 * actor gone) keep watching the last page seen: it may still be referenced.
 */
void watch_refresh_pfn(struct watched_page *w)
{
	const struct actor *a = w->actor_p;
	uint64_t pfn;
	struct kpage pg;

	w->mapped = 0;
	if (!a->alive || !a->map.mapped || a->map.gen != w->gen)
		return;
	if (w->pm_ret != PM_UNREAD) {
		int ret = w->pm_ret;

		w->pm_ret = PM_UNREAD;
		pfn = w->pm_pfn;
		if (ret)
			return;
	} else if (pagemap_pfn(a->pid, a->map.addr + w->index * 4096, &pfn)) {
		return;
	}
	w->mapped = 1;
	if (pfn == w->pfn)
		return;
	w->pfn = pfn;
	/* a file learned here changes the locks of the snapshot: add_file bumps watch_gen */
	if (w->wfile < 0 && !kstate_page_read(obs_ks, pfn, &pg) && pg.mapping_kind == KPAGE_MAP_FILE)
		w->wfile = add_file(pg.mapping, w->file, a->map.path);
}

/* {"cmd":"unwatch"}: forget every watched page and file, so that the next scenario starts clean. */
static void cmd_unwatch(int id, struct json_object *req)
{
	struct json_object *result = json_object_new_object();

	(void)req;
	json_object_object_add(result, "pages", json_object_new_int(nr_watched_pages));
	json_object_object_add(result, "files", json_object_new_int(nr_watched_files));
	nr_watched_pages = 0;
	nr_watched_files = 0;
	watch_gen++;
	update_trace_locks();
	send_reply(id, result);
}

void watch_init(void)
{
	agent_register_cmd("unwatch", cmd_unwatch);
	agent_register_cmd("watch-pages", cmd_watch_pages);
	actors_add_listener(on_actor);
}
