// SPDX-License-Identifier: MIT
/*
 * kstate_selftest: check the library against a live kernel, inside the
 * guest, as root, on a directory mounted with -o dax (xfs):
 *
 *   kstate_selftest /mnt
 *
 * Every value read through kcore is cross-checked by an independent
 * source: pagemap for pfns, stat(2) for the inode, /proc for tasks, and
 * the kernel's known behaviour (vmsplice takes a reference; truncate of
 * a file with a referenced DAX page sleeps in break-layouts
 * (xfs_break_dax_layouts, 7.x: dax_break_layout) holding i_rwsem for
 * write, behind which writers and readers queue).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kstate.h"

#define FILE_SIZE	(4 << 20)
#define PM_PFN_MASK	((1ULL << 55) - 1)	/* pagemap bits 0-54 */

static int passed, failed;
static int32_t idle_ref;	/* the mapped, unreferenced DAX page's */

static void check(bool ok, const char *what, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL line %d: %s\n", line, what);
}

#define CHECK(c) check((c), #c, __LINE__)

static uint64_t pfn_of(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (uintptr_t)addr / 4096 * 8) != 8)
		e = 0;
	close(fd);
	return e & PM_PFN_MASK;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void show_rwsem(struct kstate *ks, const char *name, uint64_t addr)
{
	struct krwsem rw;
	unsigned int i;

	if (kstate_rwsem_read(ks, addr, &rw)) {
		printf("%s: %s\n", name, kstate_errmsg(ks));
		return;
	}
	printf("%s: count %#" PRIx64 " writer %d waiters %d readers %" PRIu64
	       " owner %d (%s)%s\n", name, (uint64_t)rw.count, rw.writer_locked,
	       rw.waiters, rw.readers, rw.owner_ok ? rw.owner.pid : -1,
	       rw.owner_ok ? rw.owner.comm : "-",
	       rw.reader_owned ? " last reader" : "");
	for (i = 0; i < rw.nr_waiters; i++)
		printf("  waiter %u: %s pid %d\n", i,
		       rw.waiter[i].type == KRWSEM_WAIT_WRITE ? "write" : "read",
		       rw.waiter[i].task.pid);
}

/* A page of the DAX file: zone device, mapping, DAX entry. */
static uint64_t check_dax_page(struct kstate *ks, const char *map, ino_t ino,
			       struct kmapping *m)
{
	uint64_t pfn = pfn_of(map), pfn2 = pfn_of(map + 8192);
	struct kdax_result d;
	struct kpage pg;

	CHECK(pfn != 0);
	CHECK(kstate_page_read(ks, pfn, &pg) == 0);
	printf("pfn %#" PRIx64 ": refcount %d mapping %#" PRIx64 " index %"
	       PRIu64 " dev_kind %d\n", pfn, pg.refcount, pg.mapping, pg.index,
	       pg.dev_kind);
	CHECK(pg.zone_device && pg.dev_kind == KPAGE_DEV_FS_DAX);
	/*
	 * Idle: refcount 1 and DAX ptes hold nothing (before 6.15), or each
	 * mapping holds a reference and a mapcount on a refcount of 0.
	 */
	CHECK((pg.refcount == 1 && pg.mapcount == 0) ||
	      (pg.refcount == pg.mapcount && pg.mapcount == 1));
	idle_ref = pg.refcount;
	CHECK(pg.index == 0);
	CHECK(pg.mapping_kind == KPAGE_MAP_FILE);
	CHECK(kstate_mapping_read(ks, pg.mapping, m) == 0);
	CHECK(m->i_ino == ino);
	CHECK(kstate_dax_lookup(ks, pg.mapping, 0, &d) == 0);
	CHECK(d.present && d.pfn == pfn && !d.dax.pmd);
	CHECK(kstate_dax_lookup(ks, pg.mapping, 2, &d) == 0);
	CHECK(d.present && d.pfn == pfn2);
	CHECK(kstate_dax_lookup(ks, pg.mapping, 1000, &d) == 0);
	CHECK(!d.present);
	return pfn;
}

static void check_ram_pages(struct kstate *ks)
{
	/* one page: too small for a THP */
	char *small = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *h = (char *)(((uintptr_t)a + (2 << 20) - 1) & ~((2UL << 20) - 1));
	struct kpage pg;

	if (a == MAP_FAILED || small == MAP_FAILED)
		return;
	small[0] = 1;
	CHECK(kstate_page_read(ks, pfn_of(small), &pg) == 0);
	CHECK(pg.mapping_kind == KPAGE_MAP_ANON && !pg.zone_device);
	CHECK(pg.mapcount == 1 && !pg.large);
	munmap(small, 4096);
	madvise(h, 2 << 20, MADV_HUGEPAGE);
	memset(h, 1, 2 << 20);
	CHECK(kstate_page_read(ks, pfn_of(h + 3 * 4096), &pg) == 0);
	if (!pg.large) {
		printf("note: no THP, skipping folio checks\n");
		munmap(a, 8 << 20);
		return;
	}
	CHECK(pg.tail && pg.order == 9 && pg.head_pfn == pfn_of(h));
	CHECK(pg.have_entire_mapcount && pg.entire_mapcount == 1);
	CHECK(pg.have_pincount && pg.pincount == 0);
	munmap(a, 8 << 20);
}

static pid_t spawn(int what, const char *path)
{
	pid_t pid = fork();
	char c = 'x';
	int fd;

	if (pid)
		return pid;
	if (what == 0)
		_exit(truncate(path, 0) ? 1 : 0);
	fd = open(path, what == 1 ? O_WRONLY : O_RDONLY);
	if (what == 1)
		_exit(pwrite(fd, &c, 1, 0) == 1 ? 0 : 1);
	_exit(pread(fd, &c, 1, 0) == 1 ? 0 : 1);
}

static void check_locks(struct kstate *ks, const char *path, char *map,
			uint64_t pfn, const struct kmapping *m)
{
	struct iovec iov = { map, 4096 };
	pid_t trunc, writer, reader;
	char junk[4096];
	struct krwsem rw;
	struct kpage pg;
	int p[2];

	if (pipe(p))
		return;
	CHECK(vmsplice(p[1], &iov, 1, 0) == 4096);
	CHECK(kstate_page_read(ks, pfn, &pg) == 0 &&
	      pg.refcount == idle_ref + 1);
	trunc = spawn(0, path);
	sleep(1);
	writer = spawn(1, path);
	sleep(1);
	reader = spawn(2, path);
	sleep(1);
	show_rwsem(ks, "i_rwsem", m->i_rwsem);
	show_rwsem(ks, "invalidate_lock", m->invalidate_lock);
	CHECK(kstate_rwsem_read(ks, m->i_rwsem, &rw) == 0);
	CHECK(rw.writer_locked && rw.waiters && rw.owner_ok);
	CHECK(rw.owner.pid == trunc && rw.owner.have_state &&
	      rw.owner.state == 1);	/* TASK_INTERRUPTIBLE */
	CHECK(rw.nr_waiters == 2 && !rw.wait_list_broken);
	CHECK(rw.waiter[0].task.pid == writer &&
	      rw.waiter[0].type == KRWSEM_WAIT_WRITE);
	CHECK(rw.waiter[1].task.pid == reader &&
	      rw.waiter[1].type == KRWSEM_WAIT_READ);
	/* XFS drops the MMAPLOCK while it waits for the page */
	CHECK(kstate_rwsem_read(ks, m->invalidate_lock, &rw) == 0);
	CHECK(!rw.writer_locked);

	/* draining the pipe drops the reference: truncate goes on */
	CHECK(read(p[0], junk, sizeof(junk)) == 4096);
	close(p[0]);
	close(p[1]);
	waitpid(trunc, NULL, 0);
	waitpid(writer, NULL, 0);
	waitpid(reader, NULL, 0);
	CHECK(kstate_rwsem_read(ks, m->i_rwsem, &rw) == 0);
	CHECK(!rw.writer_locked && rw.nr_waiters == 0);
}

static void time_samples(struct kstate *ks, uint64_t pfn,
			 const struct kmapping *m)
{
	struct kstate_stats s0, s1;
	struct kdax_result d;
	struct krwsem rw;
	struct kpage pg;
	double t0 = now_ms();
	int i;

	kstate_get_stats(ks, &s0);
	for (i = 0; i < 1000; i++) {
		kstate_page_read(ks, pfn, &pg);
		kstate_rwsem_read(ks, m->i_rwsem, &rw);
		kstate_dax_lookup(ks, m->addr, 0, &d);
	}
	kstate_get_stats(ks, &s1);
	printf("1000 x (page + rwsem + dax entry): %.1f ms, %" PRIu64
	       " preads, %" PRIu64 " walks\n", now_ms() - t0,
	       s1.preads - s0.preads, s1.walks - s0.walks);
}

int main(int argc, char **argv)
{
	struct kstate_pfn_range r[8];
	char path[512], err[256];
	struct kmapping m;
	struct kstate *ks;
	double t0 = now_ms();
	struct stat st;
	uint64_t pfn;
	char *map;
	int fd, n;

	if (argc != 2) {
		fprintf(stderr, "usage: kstate_selftest DAX_DIR\n");
		return 2;
	}
	ks = kstate_open(NULL, err, sizeof(err));
	if (!ks) {
		printf("kstate_open: %s\n", err);
		return 1;
	}
	printf("kstate_open: %.1f ms, %d-level paging\n", now_ms() - t0,
	       kstate_memmap(ks)->levels);
	n = kstate_iomem_pmem_ranges(NULL, r, 8);
	CHECK(n >= 1);
	snprintf(path, sizeof(path), "%s/kstate-selftest", argv[1]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, FILE_SIZE) || fstat(fd, &st)) {
		printf("%s: %s\n", path, strerror(errno));
		return 1;
	}
	map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 1;
	map[0] = 1;
	map[8192] = 1;
	/* first without device ranges (validated pgmap), then with them */
	pfn = check_dax_page(ks, map, st.st_ino, &m);
	if (n > 0)
		kstate_set_device_ranges(ks, r, n);
	check_dax_page(ks, map, st.st_ino, &m);
	check_ram_pages(ks);
	time_samples(ks, pfn, &m);
	/* keep it mapped: dax_layout_busy_page() skips unmapped files */
	check_locks(ks, path, map, pfn, &m);
	munmap(map, FILE_SIZE);
	close(fd);
	unlink(path);
	kstate_close(ks);
	printf("kstate-selftest: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
