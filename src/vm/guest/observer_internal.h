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

/*
 * Add a member under a string literal that the object does not have yet:
 * json-c then neither copies the key nor looks it up first (a snapshot makes
 * dozens of these, each a malloc and a hash lookup less).
 */
#define JADD(o, literal, v) \
	json_object_object_add_ex((o), "" literal, (v), JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT)

#define MAX_PAGES 4096
#define MAX_FILES 8
#define LOCK_KINDS 3

/*
 * How the observer samples. The defaults are the cheap ways; "legacy" in the
 * observe command turns them all off (every field its own kcore read, every
 * page its own pagemap read, every /proc file opened per sample, every
 * snapshot complete), so that the bench measures both in one guest and a test
 * can compare the two.
 */
struct obs_opts {
	int cache;		/* kstate's block cache and prefetch of struct page runs */
	int batch_pagemap;	/* one pagemap pread per run of watched indices */
	int task_on_change;	/* wchan and stack only when the task ran or changed state */
	int delta;		/* snapshot-delta messages: only what changed */
	/*
	 * The "kernel-side" sampler (the default; "sampler": "kcore" in observe turns
	 * these off, for the bench): the block cache gathers the previous sample's
	 * blocks in one BPF run; the actors' page tables and scheduling counters are
	 * read from kernel memory (actor_kernel.c), /proc only when they changed.
	 */
	int gather;
	/*
	 * The actors from kernel memory: their page tables instead of pagemap, their
	 * task_struct's counters instead of stat + schedstat; one switch, as
	 * actor_kernel_status() says why not for both.
	 */
	int actors_kernel;
};
extern struct obs_opts obs_opts;

/* A snapshot now if one is due: long commands call it between their steps. */
void observer_sample_if_due(void);

/* The system calls a snapshot made besides kcore and gathers (kstate counts those), by kind. */
struct obs_calls {
	unsigned int pagemap;	/* preads of /proc/<pid>/pagemap */
	unsigned int proc;	/* other /proc files read: stat, schedstat, wchan, stack, vmstat, locks */
};
extern struct obs_calls obs_calls;

/* A page's part of a snapshot, as sampled (compared with the last one sent). */
struct page_sample {
	uint64_t pfn, addr, flags, page_index;
	int mapped, zone_device, ref, idle, above_idle, pins, mapcount, folio_mapcount, lru_batch;
	const char *baseline;	/* baseline_name(): a static string, compared by address */
	int mapping;		/* MAPPING_NONE, _ANON, _OTHER, or a watched file's index */
	int has_page_index;
	int entry;		/* index into entry_names[] */
	int pmd;
	char error[128];
};
#define MAPPING_NONE	(-1)
#define MAPPING_ANON	(-2)
#define MAPPING_OTHER	(-3)

/* A lock's part. */
struct lock_sample {
	int state;		/* 0 free, 1 read, 2 write */
	int64_t readers;
	int has_owner;
	int owner_pid;
	char owner_comm[KSTATE_COMM_LEN + 1];
	unsigned int nr_waiters;
	struct {
		int pid;
		int write;
		char comm[KSTATE_COMM_LEN + 1];
	} waiter[KRWSEM_MAX_WAITERS];
	int handoff;
	char error[128];
};

struct watched_page {
	char file[64];
	uint64_t index;		/* page index in the actor's mapping */
	uint64_t pfn;		/* the page mapped there, or the last one seen */
	int mapped;		/* present in the actor's page table at the last sample */
	char actor[ACTOR_NAME_MAX];
	const struct actor *actor_p;	/* actor_find(actor): its slot, which stays its own */
	unsigned int gen;	/* the actor's mapping generation when learned */
	int wfile;		/* index into files[], -1 until a file page is seen */
	uint64_t file_index;	/* page offset in the file */
	/* the batched pagemap read of this sample: 0 present (pfn), else -errno */
	int pm_ret;
	uint64_t pm_pfn;
	struct page_sample last;	/* as last sent */
};

struct watched_file {
	char name[64];
	char path[256];
	uint64_t mapping;	/* struct address_space, learned from a page */
	struct kmapping m;
	unsigned int dev_major, dev_minor;
	uint64_t ino;
	struct lock_sample last[LOCK_KINDS];	/* as last sent */
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

/* actor_kernel.c: an actor's task_struct and page tables (kstate/process.c). */
void actor_kernel_init(void);
/* 0 and the counters, or nonzero: use /proc (actor_kernel_status() may say why). */
int actor_kernel_sched(const struct actor *a, struct ktask_sched *s);
int actor_kernel_pgd(const struct actor *a, uint64_t *pgd);
/* Stop reading actors from kernel memory, for the reason given (the first one is kept). */
void actor_kernel_disable(const char *why);
/* NULL while in use, else why not. */
const char *actor_kernel_status(void);

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
/* The pagemap entries of every watched page, a pread per run of indices (obs_opts.batch_pagemap). */
void watch_read_pagemaps(void);
/* Bumped whenever the watch list changes (a snapshot-delta needs the same list). */
extern unsigned int watch_gen;

/* The three rw_semaphores of a watched file, by kind 0..2. */
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

/*
 * The samplers: each samples its part of a snapshot, then makes its JSON: every
 * member when @prev is NULL (a full snapshot), else only the members that
 * differ from @prev (NULL when none does).
 */
void page_sample(struct watched_page *w, struct page_sample *s);		/* sample_page.c */
struct json_object *page_json(const struct watched_page *w, const struct page_sample *s,
			      const struct page_sample *prev);
void lock_sample(const struct watched_file *f, int kind, struct lock_sample *s); /* sample_lock.c */
struct json_object *lock_json(const struct watched_file *f, int kind, const struct lock_sample *s,
			      const struct lock_sample *prev);
struct task_sample {								/* sample_task.c */
	char name[ACTOR_NAME_MAX];
	int pid;
	char state;
	char wchan[128];
	int64_t blocked_ms;
	unsigned int nr_frames;
	unsigned int stack_len;
	char stack[4096];	/* the frames, each ending in a NUL: stack_len bytes of it */
};
/* Copy and compare a task_sample by what it holds: the header and stack_len bytes. */
void task_sample_copy(struct task_sample *dst, const struct task_sample *src);
void task_sampler_init(void);
void task_sample(const struct actor *a, double now, struct task_sample *s);
struct json_object *task_json(const struct task_sample *s, const struct task_sample *prev);
void lease_sampler_open(void);						/* sample_lease.c */
struct json_object *leases_json(double now);

#endif
