// SPDX-License-Identifier: MIT
/*
 * @TITLE@
 *
 * A standalone reproducer written by `daxlab scenario export @ID@ --format c`:
 * the scenario's actors (one forked process each) and steps, without daxlab.
 * What user space can check is checked: an action's result, a task still
 * asleep in its system call (/proc/<pid>/stat state, wchan and stack), a task
 * that does not return after the reference it waits for is gone. What only the
 * lab's kernel observer sees (refcounts, pins, locks, trace events) is listed
 * as not checked.
 *
 * Build: gcc -Wall -Wextra -O2 -o repro @ID@.c
 * Run:   ./repro DIR [NULLB]   (DIR on a filesystem mounted -o dax; NULLB a
 *        slow null_blk device for O_DIRECT; the .sh next to this file sets
 *        both up). As root: /proc/<pid>/stack needs it.
 * Exit:  0 every checked expectation held, 1 reproduced (an expectation was
 *        violated), 125 could not test.
 *
 * One file of over 600 lines by design: a reproducer builds with one gcc
 * command and travels with a report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif
#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif

#define PAGE 4096L
#define MAX_PAGES_OP 16
#define ACTION_TIMEOUT_MS 30000L
/* An actor waiting for its next command sleeps here, not on anything of the scenario's. */
#define IDLE_WCHAN "pipe_read|pipe_wait|do_select|poll_schedule"

enum op {
	OP_OPEN, OP_CLOSE, OP_MMAP, OP_MUNMAP, OP_TOUCH, OP_VMSPLICE, OP_DRAIN, OP_ODIRECT,
	OP_TRUNCATE, OP_FTRUNCATE, OP_FALLOCATE, OP_SLEEP, OP_WRITE, OP_READ,
};
enum check_kind { CK_RETURNS, CK_BLOCKED, CK_STILL_BLOCKED, CK_FINISHES, CK_UNCHECKED };
enum ref_kind { REF_START, REF_STEP_END, REF_STEP_START };

struct cond {
	int busy;		/* actor index, -1: none */
	int succeeded;		/* step index, -1: none */
	int failed;		/* step index, -1: none */
	unsigned int fs;	/* bit 0 xfs, bit 1 ext4; 0: any */
	const char *from;	/* kernel release from (inclusive), NULL: any */
	const char *before;	/* kernel release before, NULL: any */
	int needs_nullb;	/* available: nullBlk */
	int never;		/* available: devdax / rdma (not set up by this reproducer) */
};

struct check {
	enum check_kind kind;
	const char *id;
	const char *says;
	struct cond when;
	int actor;
	const char *in;		/* regular expression over wchan and stack, NULL: any */
	long ms;		/* within / for */
	long not_before_ms;
	int step;		/* returns: the step; finishes: the reference step */
	enum ref_kind ref;
	int want_ok;
	const char *want_errno;	/* "EOPNOTSUPP|EINVAL" */
	int has_ret;
	long long want_ret;
	int want_dax;		/* result {dax: true/false}: 1/0, -1 not asked */
	const char *why;	/* CK_UNCHECKED: what user space cannot see */
};

struct step {
	const char *id;
	const char *say;
	int actor;		/* -1: no action */
	enum op op;
	const char *path;	/* relative to DIR, or "$nullb" */
	int create, direct, readonly, write, async;
	long long size, offset, length;
	int mapflags;		/* MAP_* */
	int anonymous;
	int mode;		/* fallocate mode */
	int byte;
	int pages[MAX_PAGES_OP];
	int npages;
	struct cond when;
	int kill_actor;		/* -1: none */
	int kill_signal;
	int wait_blocked;	/* waitFor on a page: wait until the actor sleeps in its call */
	long wait_ms;
	const struct check *checks;
	int nchecks;
};

struct result {
	long long ret;
	int err;
	int dax;		/* open: statx STATX_ATTR_DAX, -1 unknown */
	double end;
};

/* @STEPS@ */

static const char *dir, *nullb;
static double t0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("[%7.3f] ", now() - t0);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ---------------------------------------------------------------------------------- */
/* The actors: one forked process each, running one step's op at a time.              */

struct actor_self {
	int fd;
	char *map;
	size_t map_len;
	int pipe[2];
};

struct actor {
	pid_t pid;
	int cmd, res;		/* our ends of its pipes */
	int running;		/* step index, -1: idle */
	double start, end;
	struct result last;
	int results_of[NSTEPS];	/* 1 once that step's action ended */
	struct result res_of[NSTEPS];
	double start_of[NSTEPS], end_of[NSTEPS];
};

static struct actor actors[NACTORS];
static double step_end_t[NSTEPS];

static void on_signal(int sig)
{
	(void)sig;
}

static void full_path(char *out, size_t len, const char *p)
{
	if (!strcmp(p, "$nullb"))
		snprintf(out, len, "%s", nullb ? nullb : "/dev/null");
	else if (p[0] == '/')
		snprintf(out, len, "%s", p);
	else
		snprintf(out, len, "%s/%s", dir, p);
}

static long long run_op(struct actor_self *a, const struct step *s, struct result *r)
{
	char path[4096];
	long long total = 0;

	r->dax = -1;
	switch (s->op) {
	case OP_OPEN: {
		struct statx stx;
		int flags = (s->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (s->create ? O_CREAT : 0) |
			    (s->direct ? O_DIRECT : 0);

		full_path(path, sizeof(path), s->path);
		a->fd = open(path, flags, 0644);
		if (a->fd < 0)
			return -1;
		if (s->size >= 0 && s->create && ftruncate(a->fd, s->size))
			return -1;
		if (!statx(a->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx))
			r->dax = (stx.stx_attributes_mask & STATX_ATTR_DAX) ? !!(stx.stx_attributes & STATX_ATTR_DAX) : -1;
		return 0;
	}
	case OP_CLOSE:
		return close(a->fd);
	case OP_MMAP:
		a->map_len = s->length;
		a->map = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, s->mapflags | (s->anonymous ? MAP_ANONYMOUS : 0),
			      s->anonymous ? -1 : a->fd, s->anonymous ? 0 : s->offset);
		if (a->map == MAP_FAILED) {
			a->map = NULL;
			return -1;
		}
		return 0;
	case OP_MUNMAP:
		if (munmap(a->map, a->map_len))
			return -1;
		a->map = NULL;
		return 0;
	case OP_TOUCH:
		for (int i = 0; i < s->npages; i++) {
			volatile char *p = a->map + s->pages[i] * PAGE;

			if (s->write)
				*p = (char)(0x5a + s->pages[i]);
			else
				(void)*p;
		}
		return 0;
	case OP_VMSPLICE:
		if (a->pipe[0] < 0 && pipe(a->pipe))
			return -1;
		for (int i = 0; i < s->npages; i++) {
			struct iovec iov = { a->map + s->pages[i] * PAGE, PAGE };
			ssize_t n = vmsplice(a->pipe[1], &iov, 1, SPLICE_F_NONBLOCK);

			if (n < 0)
				return -1;
			total += n;
		}
		return total;
	case OP_DRAIN: {
		static char buf[65536];
		int avail = 0;

		if (a->pipe[0] < 0)
			return 0;
		while (!ioctl(a->pipe[0], FIONREAD, &avail) && avail > 0) {
			ssize_t n = read(a->pipe[0], buf, (size_t)avail < sizeof(buf) ? (size_t)avail : sizeof(buf));

			if (n <= 0)
				return -1;
			total += n;
		}
		return total;
	}
	case OP_ODIRECT: {
		int fd;

		full_path(path, sizeof(path), s->path);
		fd = open(path, (s->write ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
		if (fd < 0)
			return -1;
		for (int i = 0; i < s->npages; i++) {
			char *buf = a->map + s->pages[i] * PAGE;
			ssize_t n = s->write ? pwrite(fd, buf, PAGE, s->pages[i] * PAGE) :
					       pread(fd, buf, PAGE, s->pages[i] * PAGE);

			if (n < 0) {
				int e = errno;

				close(fd);
				errno = e;
				return -1;
			}
			total += n;
		}
		close(fd);
		return total;
	}
	case OP_TRUNCATE:
		full_path(path, sizeof(path), s->path);
		return truncate(path, s->size);
	case OP_FTRUNCATE:
		return ftruncate(a->fd, s->size);
	case OP_FALLOCATE:
		return fallocate(a->fd, s->mode, s->offset, s->length);
	case OP_SLEEP:
		usleep((useconds_t)(s->length * 1000));
		return 0;
	case OP_WRITE: {
		char *buf = malloc(s->length);
		ssize_t n;

		if (!buf)
			return -1;
		memset(buf, s->byte, s->length);
		n = pwrite(a->fd, buf, s->length, s->offset);
		free(buf);
		return n;
	}
	case OP_READ: {
		char *buf = malloc(s->length);
		ssize_t n;

		if (!buf)
			return -1;
		n = pread(a->fd, buf, s->length, s->offset);
		free(buf);
		return n;
	}
	}
	errno = ENOSYS;
	return -1;
}

static void actor_loop(int cmd, int res)
{
	struct actor_self self = { .fd = -1, .map = NULL, .map_len = 0, .pipe = { -1, -1 } };
	struct sigaction sa;
	int idx;

	/* A signal (the scenario's nudge) interrupts a sleep; the call restarts, as in the lab. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	while (read(cmd, &idx, sizeof(idx)) == sizeof(idx)) {
		struct result r;

		memset(&r, 0, sizeof(r));
		errno = 0;
		r.ret = run_op(&self, &steps[idx], &r);
		r.err = r.ret < 0 ? errno : 0;
		r.end = now();
		if (write(res, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

static int start_actors(void)
{
	for (int i = 0; i < NACTORS; i++) {
		int c[2], r[2];

		if (pipe(c) || pipe(r))
			return -1;
		actors[i].pid = fork();
		if (actors[i].pid < 0)
			return -1;
		if (!actors[i].pid) {
			close(c[1]);
			close(r[0]);
			actor_loop(c[0], r[1]);
		}
		close(c[0]);
		close(r[1]);
		actors[i].cmd = c[1];
		actors[i].res = r[0];
		actors[i].running = -1;
		fcntl(actors[i].res, F_SETFL, O_NONBLOCK);
	}
	return 0;
}

/* Collect every finished action (non-blocking). */
static void reap_results(void)
{
	for (int i = 0; i < NACTORS; i++) {
		struct result r;

		while (actors[i].running >= 0 && read(actors[i].res, &r, sizeof(r)) == sizeof(r)) {
			int s = actors[i].running;

			actors[i].res_of[s] = r;
			step_end_t[s] = r.end;
			actors[i].results_of[s] = 1;
			actors[i].end_of[s] = r.end;
			actors[i].last = r;
			actors[i].end = r.end;
			actors[i].running = -1;
			say("%s: %s returned %lld%s%s", actor_names[i], steps[s].id, r.ret, r.err ? " " : "",
			    r.err ? strerror(r.err) : "");
		}
	}
}

static void kill_actors(void)
{
	for (int i = 0; i < NACTORS; i++)
		if (actors[i].pid > 0) {
			kill(actors[i].pid, SIGKILL);
			waitpid(actors[i].pid, NULL, 0);
		}
}

/* ---------------------------------------------------------------------------------- */
/* What user space sees of a task: state, wchan, kernel stack.                         */

struct task_view {
	char state;
	char wchan[128];
	char stack[2048];
};

static void read_file(const char *path, char *out, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, out, len - 1);

	out[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

static void task_view(pid_t pid, struct task_view *v)
{
	char path[64], stat[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	read_file(path, stat, sizeof(stat));
	p = strrchr(stat, ')');
	v->state = p && p[1] ? p[2] : '?';
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	read_file(path, v->wchan, sizeof(v->wchan));
	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	read_file(path, v->stack, sizeof(v->stack));
}

static int matches(const char *re, const char *text)
{
	regex_t rx;
	int ok;

	if (!re)
		return 1;
	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB))
		return 0;
	ok = !regexec(&rx, text, 0, NULL, 0);
	regfree(&rx);
	return ok;
}

/* Asleep in the kernel on something of the scenario's, in a function matching @re. */
static int asleep_in(int actor, const char *re, struct task_view *v)
{
	char both[2300];

	task_view(actors[actor].pid, v);
	if (v->state != 'S' && v->state != 'D')
		return 0;
	/* not yet inside its op: still reading the command */
	if (matches(IDLE_WCHAN, v->wchan))
		return 0;
	snprintf(both, sizeof(both), "%s\n%s", v->wchan, v->stack);
	/* POSIX regex has no \b: the lab's "\\b" is dropped by the exporter */
	return matches(re, both);
}

static void print_task(int actor)
{
	struct task_view v;
	char *line, *save = NULL;

	task_view(actors[actor].pid, &v);
	say("  %s (pid %d): state %c, wchan %s", actor_names[actor], actors[actor].pid, v.state,
	    v.wchan[0] ? v.wchan : "?");
	for (line = strtok_r(v.stack, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		say("    %s", line);
}

/* The extents of the scenario's file: blocks a punch or truncate freed are gone from it. */
static void print_extents(void)
{
	char path[4096], buf[sizeof(struct fiemap) + 16 * sizeof(struct fiemap_extent)];
	struct fiemap *fm = (struct fiemap *)buf;
	int fd;

	if (!FIRST_FILE)
		return;
	full_path(path, sizeof(path), FIRST_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	memset(buf, 0, sizeof(buf));
	fm->fm_length = ~0ULL;
	fm->fm_extent_count = 16;
	if (!ioctl(fd, FS_IOC_FIEMAP, fm)) {
		say("  %s: %u extent(s)", FIRST_FILE, fm->fm_mapped_extents);
		for (unsigned int i = 0; i < fm->fm_mapped_extents; i++)
			say("    file offset %llu, %llu bytes", (unsigned long long)fm->fm_extents[i].fe_logical,
			    (unsigned long long)fm->fm_extents[i].fe_length);
	}
	close(fd);
}

/* ---------------------------------------------------------------------------------- */
/* Conditions and checks.                                                              */

static unsigned int fs_bit;
static struct utsname uts;
static int step_ran[NSTEPS];
/* When each step began; step_end_t: when its action returned, its signal went, or it began (no action) */
static double step_start_t[NSTEPS];

static int release_cmp(const char *a, const char *b)
{
	long x1 = 0, x2 = 0, y1 = 0, y2 = 0;

	sscanf(a, "%ld.%ld", &x1, &x2);
	sscanf(b, "%ld.%ld", &y1, &y2);
	return x1 != y1 ? (x1 < y1 ? -1 : 1) : x2 != y2 ? (x2 < y2 ? -1 : 1) : 0;
}

static const char *cond_fails(const struct cond *c)
{
	static char why[128];

	if (c->never)
		return "needs a part of the lab this reproducer does not set up";
	if (c->needs_nullb && !nullb)
		return "needs the null_blk device";
	if (c->fs && !(c->fs & fs_bit))
		return "not on this filesystem";
	if (c->from && release_cmp(uts.release, c->from) < 0)
		return "not on this kernel (too old)";
	if (c->before && release_cmp(uts.release, c->before) >= 0)
		return "not on this kernel (too new)";
	if (c->busy >= 0 && actors[c->busy].running < 0) {
		snprintf(why, sizeof(why), "%s is not inside an action", actor_names[c->busy]);
		return why;
	}
	if (c->succeeded >= 0) {
		int a = steps[c->succeeded].actor;

		if (a < 0 || !actors[a].results_of[c->succeeded] || actors[a].res_of[c->succeeded].ret < 0)
			return "that step did not succeed";
	}
	if (c->failed >= 0) {
		int a = steps[c->failed].actor;

		if (a < 0 || !actors[a].results_of[c->failed] || actors[a].res_of[c->failed].ret >= 0)
			return "that step did not fail";
	}
	return NULL;
}

static int violated, unchecked, cannot;

static void verdict(const char *mark, const struct check *c, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	say("%s %s: %s -- %s", mark, c->id, c->says, detail);
}

static void sleep_ms(long ms)
{
	usleep((useconds_t)(ms * 1000));
}

static int errno_named(const char *list, int err)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		for (int i = 0; errnames[i].name; i++)
			if (!strcmp(errnames[i].name, tok) && errnames[i].value == err)
				return 1;
	return 0;
}

static void evaluate(const struct check *c, int cur)
{
	struct task_view v;
	const char *why = cond_fails(&c->when);
	double deadline, ref;

	if (why) {
		verdict("n/a     ", c, "%s", why);
		return;
	}
	switch (c->kind) {
	case CK_UNCHECKED:
		unchecked++;
		verdict("unchecked", c, "%s", c->why);
		return;
	case CK_RETURNS: {
		int s = c->step >= 0 ? c->step : cur, a = steps[s].actor;
		struct result *r;

		if (a < 0 || !step_ran[s]) {
			verdict("n/a     ", c, "step %s started no action", steps[s].id);
			return;
		}
		deadline = now() + ACTION_TIMEOUT_MS / 1000.0;
		while (!actors[a].results_of[s] && now() < deadline) {
			sleep_ms(10);
			reap_results();
		}
		if (!actors[a].results_of[s]) {
			violated++;
			verdict("VIOLATED", c, "%s did not return within %ld s", steps[s].id, ACTION_TIMEOUT_MS / 1000);
			print_task(a);
			return;
		}
		r = &actors[a].res_of[s];
		if ((c->want_ok && r->ret < 0) || (c->want_errno && (r->ret >= 0 || !errno_named(c->want_errno, r->err))) ||
		    (c->has_ret && r->ret != c->want_ret) || (c->want_dax >= 0 && r->dax != c->want_dax)) {
			if (c->want_dax >= 0 && r->dax != c->want_dax && r->ret >= 0) {
				/* not a DAX file: the set-up, not the kernel */
				cannot++;
				verdict("CANNOT  ", c, "statx says dax=%d: is DIR mounted -o dax?", r->dax);
				return;
			}
			violated++;
			verdict("VIOLATED", c, "%s returned %lld%s%s", steps[s].id, r->ret, r->err ? " " : "",
				r->err ? strerror(r->err) : "");
			return;
		}
		verdict("held    ", c, "%s returned %lld%s%s", steps[s].id, r->ret, r->err ? " " : "",
			r->err ? strerror(r->err) : "");
		return;
	}
	case CK_BLOCKED:
		deadline = now() + c->ms / 1000.0;
		for (;;) {
			reap_results();
			if (actors[c->actor].running >= 0 && asleep_in(c->actor, c->in, &v)) {
				verdict("held    ", c, "%s asleep (%c) in %s", actor_names[c->actor], v.state, v.wchan);
				return;
			}
			if (now() >= deadline)
				break;
			sleep_ms(10);
		}
		violated++;
		verdict("VIOLATED", c, "%s was not asleep in /%s/ within %ld ms", actor_names[c->actor], c->in ? c->in : ".",
			c->ms);
		print_task(c->actor);
		print_extents();
		return;
	case CK_STILL_BLOCKED:
		deadline = now() + c->ms / 1000.0;
		while (now() < deadline) {
			reap_results();
			if (actors[c->actor].running < 0) {
				violated++;
				verdict("VIOLATED", c, "%s's action returned %.0f ms after it began, before %ld ms had passed",
					actor_names[c->actor], (actors[c->actor].end - actors[c->actor].start) * 1000, c->ms);
				print_extents();
				return;
			}
			sleep_ms(10);
		}
		if (c->in && !asleep_in(c->actor, c->in, &v)) {
			violated++;
			verdict("VIOLATED", c, "%s is not asleep in /%s/", actor_names[c->actor], c->in);
			print_task(c->actor);
			return;
		}
		verdict("held    ", c, "%s still inside its action after %ld ms", actor_names[c->actor], c->ms);
		return;
	case CK_FINISHES: {
		int a = c->actor;

		if (c->ref == REF_START) {
			ref = now();
		} else {
			int s = c->step, sa = steps[s].actor;

			if (!step_ran[s]) {
				verdict("n/a     ", c, "step %s did not run", steps[s].id);
				return;
			}
			if (c->ref == REF_STEP_START) {
				ref = step_start_t[s];
			} else {
				deadline = now() + ACTION_TIMEOUT_MS / 1000.0;
				while (sa >= 0 && !actors[sa].results_of[s] && now() < deadline) {
					sleep_ms(10);
					reap_results();
				}
				if (sa >= 0 && !actors[sa].results_of[s]) {
					verdict("n/a     ", c, "step %s's action did not return", steps[s].id);
					return;
				}
				ref = step_end_t[s];
			}
		}
		if (actors[a].running < 0 && actors[a].end < ref) {
			verdict("held    ", c, "%s had returned %.0f ms before the reference", actor_names[a], (ref - actors[a].end) * 1000);
			return;
		}
		deadline = ref + c->ms / 1000.0;
		while (actors[a].running >= 0 && now() < deadline) {
			sleep_ms(10);
			reap_results();
		}
		if (actors[a].running >= 0) {
			violated++;
			verdict("VIOLATED", c, "%s still inside its action %.0f ms after the reference (the reference it waited for is gone)",
				actor_names[a], (now() - ref) * 1000);
			print_task(a);
			return;
		}
		if (c->not_before_ms && (actors[a].end - ref) * 1000 < c->not_before_ms) {
			violated++;
			verdict("VIOLATED", c, "%s returned %.0f ms after the reference: sooner than %ld ms", actor_names[a],
				(actors[a].end - ref) * 1000, c->not_before_ms);
			return;
		}
		verdict("held    ", c, "%s returned %.0f ms after the reference", actor_names[a], (actors[a].end - ref) * 1000);
		return;
	}
	}
}

static int run_step(int i)
{
	const struct step *s = &steps[i];
	const char *why = cond_fails(&s->when);
	struct task_view v;

	reap_results();
	if (why) {
		say("step %s: skipped (%s)", s->id, why);
		for (int k = 0; k < s->nchecks; k++)
			verdict("n/a     ", &s->checks[k], "step skipped");
		return 0;
	}
	say("step %s: %s", s->id, s->say);
	step_start_t[i] = step_end_t[i] = now();
	step_ran[i] = 1;
	if (s->kill_actor >= 0) {
		kill(actors[s->kill_actor].pid, s->kill_signal);
		step_end_t[i] = now();
	}
	if (s->actor >= 0) {
		struct actor *a = &actors[s->actor];

		if (a->running >= 0) {
			say("  %s is still inside step %s: the scenario cannot go on", actor_names[s->actor], steps[a->running].id);
			return -1;
		}
		a->running = i;
		a->start = a->start_of[i] = now();
		if (write(a->cmd, &i, sizeof(i)) != sizeof(i))
			return -1;
		if (!s->async) {
			double deadline = now() + ACTION_TIMEOUT_MS / 1000.0;

			while (a->running >= 0 && now() < deadline) {
				sleep_ms(5);
				reap_results();
			}
			if (a->running >= 0) {
				say("  %s did not return from %s within %ld s", actor_names[s->actor], s->id, ACTION_TIMEOUT_MS / 1000);
				print_task(s->actor);
				violated++;
				return -1;
			}
		}
	}
	if (s->wait_blocked) {
		double deadline = now() + s->wait_ms / 1000.0;

		while (!(actors[s->actor].running >= 0 && asleep_in(s->actor, NULL, &v)) && now() < deadline) {
			sleep_ms(5);
			reap_results();
		}
		if (actors[s->actor].running < 0 || !asleep_in(s->actor, NULL, &v)) {
			say("  precondition not met: %s is not asleep inside %s after %ld ms", actor_names[s->actor], s->id, s->wait_ms);
			cannot++;
			return -1;
		}
		say("  %s sleeps in %s (%c): its reference is taken", actor_names[s->actor], v.wchan, v.state);
	}
	for (int k = 0; k < s->nchecks; k++)
		evaluate(&s->checks[k], i);
	return 0;
}

int main(int argc, char **argv)
{
	struct statfs sfs;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [NULLB]\n  DIR: a directory on a filesystem mounted -o dax\n"
				"  NULLB: a slow null_blk device (completion_nsec) for O_DIRECT\n",
			argv[0]);
		return 125;
	}
	dir = argv[1];
	nullb = argc == 3 ? argv[2] : NULL;
	t0 = now();
	uname(&uts);
	if (statfs(dir, &sfs)) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 125;
	}
	fs_bit = sfs.f_type == 0x58465342 ? 1 : sfs.f_type == 0xEF53 ? 2 : 0;
	if (NEEDS_NULLB && !nullb) {
		fprintf(stderr, "this scenario needs a slow null_blk device (the second argument)\n");
		return 125;
	}
	say("%s on %s %s, %s", SCENARIO_ID, uts.sysname, uts.release, fs_bit == 1 ? "xfs" : fs_bit == 2 ? "ext4" : "?");
	if (start_actors()) {
		perror("fork");
		return 125;
	}
	for (int i = 0; i < NSTEPS; i++)
		if (run_step(i))
			break;
	kill_actors();
	if (violated) {
		say("REPRODUCED: %d expectation(s) violated (%d not checked from user space)", violated, unchecked);
		return 1;
	}
	if (cannot) {
		say("could not test (%d)", cannot);
		return 125;
	}
	say("held: every expectation checked from user space held (%d not checked from user space)", unchecked);
	return 0;
}
