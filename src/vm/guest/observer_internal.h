/* SPDX-License-Identifier: MIT */
/*
 * The observer's parts (observer.h is its one entry point): the watch list
 * (watch.c), the idle refcount model (idle.c), the samplers of pages, locks, tasks
 * and leases (sample_*.c), and the snapshot they make up (observer.c).
 */
#ifndef DAXLAB_OBSERVER_INTERNAL_H
#define DAXLAB_OBSERVER_INTERNAL_H

#include <json-c/json.h>
#include <stdint.h>

#include "actors.h"
#include "kstate/kstate.h"

#define MAX_PAGES 256
#define MAX_FILES 8

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
	char probe[128];	/* what was mapped to calibrate */
	uint64_t pfn;
};

/* observer.c: the kernel reader, opened at the first command that needs it. */
extern struct kstate *obs_ks;
/* NULL when open, else why it could not be opened. */
const char *observer_open_kstate(void);

/* watch.c: the watched pages (by actor mapping and pfn) and the files they belong to. */
extern struct watched_page watched_pages[MAX_PAGES];
extern int nr_watched_pages;
extern struct watched_file watched_files[MAX_FILES];
extern int nr_watched_files;
void watch_init(void);
int pagemap_pfn(int pid, uint64_t va, uint64_t *pfn);
int watched_file_find(uint64_t mapping);
/* Follow the actor's page table to the page now mapped at the watched index. */
void watch_refresh_pfn(struct watched_page *w);

/* The three rw_semaphores of a watched file, by kind 0..2. */
#define LOCK_KINDS 3
extern const char *const lock_kinds[LOCK_KINDS];
uint64_t lock_addr(const struct watched_file *f, int kind);

/* idle.c: what an unreferenced page's refcount is, per page kind, on this kernel. */
extern struct baseline fsdax_base, devdax_base, anon_base, pagecache_base;
void idle_calibrate_fsdax(void);
void idle_calibrate_devdax(void);
const struct baseline *baseline_of(const struct kpage *pg);
/* "fsdax", "devdax", "anon" or "pagecache": which model baseline_of() chose. */
const char *baseline_name(const struct kpage *pg);
struct json_object *baseline_json(const struct baseline *b);

/* A folio's refcount: a tail page's own _refcount is 0. */
static inline int page_ref(const struct kpage *pg)
{
	return pg->large ? pg->head_refcount : pg->refcount;
}

/* The samplers: each makes its part of a snapshot. */
struct json_object *page_json(struct watched_page *w);			/* sample_page.c */
struct json_object *lock_json(const struct watched_file *f, int kind);	/* sample_lock.c */
struct json_object *task_json(const struct actor *a, double now);	/* sample_task.c */
void lease_sampler_open(void);						/* sample_lease.c */
struct json_object *leases_json(double now);

#endif
