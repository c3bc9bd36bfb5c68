// SPDX-License-Identifier: MIT
/*
 * daxlab guest agent: actors (see actors.h).
 *
 * The agent side keeps a slot per actor: its socket (non-blocking), the actions it
 * accepted and has not seen end, and the actor's mapping as the actor reported it.
 * The actor side is a loop: receive one command (one SEQPACKET record), report
 * "start", run the syscall(s), report "end". Each report is one record, written with
 * one send(), so the signal handler's records never interleave with them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdint.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "actors.h"

#ifdef DAXLAB_VERBS
#include <infiniband/verbs.h>
#endif

#define ACTOR_MSG_MAX 65536
#define VERBS_PROGRAM TOOL_DIR "/daxlab-verbs"
#define PENDING_MAX 64
#define LISTENERS_MAX 4

#ifndef DAXLAB_VERBS
/* What the agent accepts for "act" (an actor refuses what its program lacks). */
static const char *const known_ops[] = {
	"open", "close", "mmap", "munmap", "touch", "vmsplice", "drain",
	"io_uring_register", "io_uring_unregister", "odirect", "ftruncate", "truncate",
	"fallocate", "write", "read", "lease", "sleep", "exit", "pattern_write", "pattern_check",
	"rdma_reg_mr", "rdma_dereg_mr", NULL,
};
#endif

/* ---------------------------------------------------------------- signal names */

static char sig_names[_NSIG][24];

static void sig_names_init(void)
{
	for (int sig = 1; sig < _NSIG; sig++) {
		const char *abbrev = sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

		if (abbrev)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIG%s", abbrev);
		else if (sig == SIGRTMIN)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIGRTMIN");
		else if (sig == SIGRTMAX)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIGRTMAX");
		else if (sig > SIGRTMIN && sig < SIGRTMAX)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIGRTMIN+%d", sig - SIGRTMIN);
		else
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIG%d", sig);
	}
}

/* Async-signal-safe once sig_names_init() ran (the table is only read). */
const char *actor_signal_name(int sig)
{
	if (sig <= 0 || sig >= _NSIG)
		return "SIG?";
	return sig_names[sig];
}

/* "SIGIO", "IO", "SIGRTMIN+1", "RTMAX-2", "9": the signal number, or -1. */
int actor_signal_parse(const char *name)
{
	char *end;
	long n;

	if (!name || !*name)
		return -1;
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	n = strtol(name, &end, 10);
	if (end != name && !*end)
		return n > 0 && n < _NSIG ? (int)n : -1;
	if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
		int base = !strncasecmp(name, "RTMIN", 5) ? SIGRTMIN : SIGRTMAX;

		name += 5;
		n = 0;
		if (*name) {
			n = strtol(name, &end, 10);
			if (end == name || *end)
				return -1;
		}
		n += base;
		return n >= SIGRTMIN && n <= SIGRTMAX ? (int)n : -1;
	}
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && !strcasecmp(abbrev, name))
			return sig;
	}
	return -1;
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "E?";
}

/* ---------------------------------------------------------------- JSON helpers */

static const char *jstr(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return dflt;
	return json_object_get_string(v);
}

static long long jint(struct json_object *o, const char *key, long long dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return dflt;
	return json_object_get_int64(v);
}

static int jbool(struct json_object *o, const char *key, int dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return dflt;
	return json_object_get_boolean(v);
}

static void jset(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static struct json_object *jhex(unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "0x%lx", v);
	return json_object_new_string(buf);
}

/* Milliseconds with microsecond resolution, printed as such. */
static struct json_object *jms(double seconds)
{
	char text[32];

	snprintf(text, sizeof(text), "%.3f", seconds * 1e3);
	return json_object_new_double_s(seconds * 1e3, text);
}

/* Guest monotonic seconds, printed to the nanosecond (not as %.17g). */
static struct json_object *jtime(double t)
{
	char text[32];

	snprintf(text, sizeof(text), "%.9f", t);
	return json_object_new_double_s(t, text);
}

/* ================================================================ the actor side */

static struct {
	char name[ACTOR_NAME_MAX];
	pid_t pid;
	int sock;
	long page_size;

	int fd;				/* current file (-1: none) */
	char path[PATH_MAX];
	int direct;

	char *map;			/* current mapping (NULL: none) */
	size_t map_len;

	int pipe[2];			/* vmsplice pipe, kept until exit */
	size_t pipe_bytes;
	size_t pipe_cap;

	struct io_uring ring;
	int ring_ok;

	int caught[_NSIG];		/* signals with the reporting handler */
} self = { .fd = -1, .pipe = { -1, -1 } };

/* A touch: where a SIGBUS/SIGSEGV jumps back to. */
static sigjmp_buf touch_env;
static volatile sig_atomic_t touch_armed;
static void *volatile fault_addr;

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (touch_armed) {
		touch_armed = 0;
		fault_addr = si->si_addr;
		siglongjmp(touch_env, sig);
	}
	/* Not ours: let the default action end the actor (the agent reports the signal). */
	signal(sig, SIG_DFL);
}

static size_t put_str(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n + 1 < cap)
		buf[n++] = *s++;
	return n;
}

static size_t put_uint(char *buf, size_t n, size_t cap, unsigned long long v, int width)
{
	char digits[24];
	int len = 0;

	do {
		digits[len++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (len < width)
		digits[len++] = '0';
	while (len && n + 1 < cap)
		buf[n++] = digits[--len];
	return n;
}

/*
 * A signal the actor reports (the lease break, SIGUSR1...). Async-signal-safe: no
 * json-c, no stdio; a preformatted record, one non-blocking send().
 */
static void report_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct timespec ts;
	char buf[256];
	size_t n = 0;

	(void)uc;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = put_str(buf, n, sizeof(buf), "{\"kind\":\"signal\",\"actor\":\"");
	n = put_str(buf, n, sizeof(buf), self.name);
	n = put_str(buf, n, sizeof(buf), "\",\"pid\":");
	n = put_uint(buf, n, sizeof(buf), self.pid, 1);
	n = put_str(buf, n, sizeof(buf), ",\"signal\":\"");
	n = put_str(buf, n, sizeof(buf), actor_signal_name(sig));
	n = put_str(buf, n, sizeof(buf), "\"");
	/* F_SETSIG signals carry the band in si_code and the fd in si_fd. */
	if (si && si->si_code >= POLL_IN && si->si_code <= POLL_HUP) {
		n = put_str(buf, n, sizeof(buf), ",\"fd\":");
		n = put_uint(buf, n, sizeof(buf), (unsigned int)si->si_fd, 1);
	}
	n = put_str(buf, n, sizeof(buf), ",\"t\":");
	n = put_uint(buf, n, sizeof(buf), ts.tv_sec, 1);
	n = put_str(buf, n, sizeof(buf), ".");
	n = put_uint(buf, n, sizeof(buf), ts.tv_nsec, 9);
	n = put_str(buf, n, sizeof(buf), "}");
	send(self.sock, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	errno = saved;
}

static int catch_signal(int sig)
{
	struct sigaction sa = { .sa_sigaction = report_handler, .sa_flags = SA_SIGINFO | SA_RESTART };

	if (sig == SIGKILL || sig == SIGSTOP || sig == SIGBUS || sig == SIGSEGV)
		return sig == SIGBUS || sig == SIGSEGV ? 0 : -1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		return -1;
	self.caught[sig] = 1;
	return 0;
}

static void actor_send(struct json_object *msg)
{
	const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	while (send(self.sock, text, strlen(text), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	json_object_put(msg);
}

static struct json_object *action_msg(int id, const char *op, const char *phase, double t)
{
	struct json_object *msg = json_object_new_object();

	jset(msg, "kind", json_object_new_string("action"));
	jset(msg, "id", json_object_new_int(id));
	jset(msg, "actor", json_object_new_string(self.name));
	jset(msg, "op", json_object_new_string(op));
	jset(msg, "phase", json_object_new_string(phase));
	jset(msg, "t", jtime(t));
	return msg;
}

/* What one op did. ret < 0 with err == 0 and a message: the lab refused, not the kernel. */
struct outcome {
	long long ret;
	int err;
	int sig;
	const char *message;
	struct json_object *result;
};

static long long fail(struct outcome *o, long long ret)
{
	o->err = errno;
	return ret;
}

static long long refuse(struct outcome *o, const char *message)
{
	o->message = message;
	return -1;
}

static void resolve_path(const char *path, char *out, size_t len)
{
	if (path[0] == '/')
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", LAB_MOUNTPOINT, path);
}

static long long op_open(struct json_object *req, struct outcome *o)
{
	const char *path = jstr(req, "path", NULL);
	int readonly = jbool(req, "readonly", 0), direct = jbool(req, "direct", 0);
	int flags = (readonly ? O_RDONLY : O_RDWR) | (jbool(req, "create", 0) ? O_CREAT : 0) |
		    (direct ? O_DIRECT : 0) | O_CLOEXEC;
	long long size = jint(req, "size", -1);
	char abs[PATH_MAX];
	struct statx stx;
	int fd;

	if (!path)
		return refuse(o, "open needs a path");
	resolve_path(path, abs, sizeof(abs));
	fd = open(abs, flags, 0644);
	if (fd < 0)
		return fail(o, -1);
	if (size >= 0 && ftruncate(fd, size)) {
		int err = errno;

		close(fd);
		errno = err;
		return fail(o, -1);
	}
	/* One current file per actor: a new open replaces (and closes) the previous one. */
	if (self.fd >= 0)
		close(self.fd);
	self.fd = fd;
	self.direct = direct;
	snprintf(self.path, sizeof(self.path), "%s", abs);
	jset(o->result, "fd", json_object_new_int(fd));
	jset(o->result, "path", json_object_new_string(abs));
	if (!statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx)) {
		jset(o->result, "size", json_object_new_int64(stx.stx_size));
		jset(o->result, "ino", json_object_new_int64(stx.stx_ino));
		if (stx.stx_attributes_mask & STATX_ATTR_DAX)
			jset(o->result, "dax", json_object_new_boolean(!!(stx.stx_attributes & STATX_ATTR_DAX)));
	}
	return fd;
}

static long long op_close(struct json_object *req, struct outcome *o)
{
	int fd = self.fd;

	(void)req;
	if (fd < 0)
		return refuse(o, "no open file");
	self.fd = -1;
	if (close(fd))
		return fail(o, -1);
	return 0;
}

static const struct {
	const char *name;
	unsigned long value;
} map_flag_names[] = {
	{ "MAP_SHARED", MAP_SHARED },
	{ "MAP_PRIVATE", MAP_PRIVATE },
	{ "MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE },
	{ "MAP_SYNC", MAP_SYNC },
	{ "MAP_POPULATE", MAP_POPULATE },
	{ "MAP_ANONYMOUS", MAP_ANONYMOUS },
	{ "MAP_ANON", MAP_ANONYMOUS },
	{ "MAP_NORESERVE", MAP_NORESERVE },
	{ "MAP_LOCKED", MAP_LOCKED },
	{ "MAP_HUGETLB", MAP_HUGETLB },
	{ "MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE },
	{ "PROT_READ", PROT_READ },
	{ "PROT_WRITE", PROT_WRITE },
	{ "PROT_EXEC", PROT_EXEC },
	{ "PROT_NONE", PROT_NONE },
	{ NULL, 0 },
};

/* Names (with or without the prefix) or raw numbers ("0x80000") OR'ed together. */
static int parse_flags(struct json_object *arr, const char *prefix, unsigned long *out, const char **bad)
{
	size_t plen = strlen(prefix);
	int n = json_object_array_length(arr);

	*out = 0;
	for (int i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		const char *s = json_object_get_string(v);
		char *end;
		int found = 0;

		if (json_object_is_type(v, json_type_int)) {
			*out |= (unsigned long)json_object_get_int64(v);
			continue;
		}
		*bad = s;
		if (!s || !*s)
			return -1;
		if (s[0] >= '0' && s[0] <= '9') {
			unsigned long value = strtoul(s, &end, 0);

			if (*end)
				return -1;
			*out |= value;
			continue;
		}
		for (int j = 0; map_flag_names[j].name; j++) {
			const char *name = map_flag_names[j].name;

			if (strncmp(name, prefix, plen))
				continue;
			if (!strcasecmp(s, name) || !strcasecmp(s, name + plen)) {
				*out |= map_flag_names[j].value;
				found = 1;
				break;
			}
		}
		if (!found)
			return -1;
	}
	*bad = NULL;
	return 0;
}

static long long op_mmap(struct json_object *req, struct outcome *o)
{
	long long length = jint(req, "length", -1), offset = jint(req, "offset", 0);
	int anonymous = jbool(req, "anonymous", 0);
	struct json_object *v;
	unsigned long flags, prot;
	const char *bad;
	void *addr;

	if (length <= 0)
		return refuse(o, "mmap needs a length > 0");
	if (!anonymous && self.fd < 0)
		return refuse(o, "no open file (open first, or anonymous: true)");
	if (json_object_object_get_ex(req, "flags", &v) && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0) {
		if (parse_flags(v, "MAP_", &flags, &bad))
			return refuse(o, "unknown mmap flag (use MAP_* names or a number such as \"0x80000\")");
	} else {
		flags = anonymous ? MAP_PRIVATE : MAP_SHARED;
	}
	if (json_object_object_get_ex(req, "prot", &v) && json_object_is_type(v, json_type_array)) {
		if (parse_flags(v, "PROT_", &prot, &bad))
			return refuse(o, "unknown prot (use PROT_READ, PROT_WRITE, PROT_EXEC, PROT_NONE)");
	} else {
		prot = PROT_READ | PROT_WRITE;
	}
	if (anonymous)
		flags |= MAP_ANONYMOUS;
	addr = mmap(NULL, length, prot, flags, anonymous ? -1 : self.fd, anonymous ? 0 : offset);
	if (addr == MAP_FAILED)
		return fail(o, -1);
	/* One current mapping per actor: a new one replaces the previous one. */
	if (self.map) {
		jset(o->result, "unmapped", jhex((unsigned long)self.map));
		munmap(self.map, self.map_len);
	}
	self.map = addr;
	self.map_len = length;
	jset(o->result, "addr", jhex((unsigned long)addr));
	jset(o->result, "length", json_object_new_int64(length));
	jset(o->result, "flags", jhex(flags));
	jset(o->result, "anonymous", json_object_new_boolean(anonymous));
	if (!anonymous) {
		jset(o->result, "path", json_object_new_string(self.path));
		jset(o->result, "offset", json_object_new_int64(offset));
	}
	return 0;
}

static long long op_munmap(struct json_object *req, struct outcome *o)
{
	(void)req;
	if (!self.map)
		return refuse(o, "no mapping");
	if (munmap(self.map, self.map_len))
		return fail(o, -1);
	self.map = NULL;
	self.map_len = 0;
	return 0;
}

/* The page indices of a request, checked against the mapping. */
static int get_pages(struct json_object *req, struct outcome *o, long *pages, int max)
{
	struct json_object *arr;
	int n;

	if (!self.map) {
		refuse(o, "no mapping (mmap first)");
		return -1;
	}
	if (!json_object_object_get_ex(req, "pages", &arr) || !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) < 1) {
		refuse(o, "pages must be a non-empty array of page indices");
		return -1;
	}
	if (n > max) {
		refuse(o, "too many pages");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		pages[i] = json_object_get_int64(json_object_array_get_idx(arr, i));
		if (pages[i] < 0 || (size_t)(pages[i] + 1) * self.page_size > self.map_len) {
			refuse(o, "page index outside the mapping");
			return -1;
		}
	}
	return n;
}

#define PAGES_MAX 4096
static long pages_buf[PAGES_MAX];

static long long op_touch(struct json_object *req, struct outcome *o)
{
	int n = get_pages(req, o, pages_buf, PAGES_MAX), write = jbool(req, "write", 0);
	unsigned char byte = jint(req, "byte", 0x5a);
	volatile int done = 0;
	unsigned long sum = 0;
	int sig;

	if (n < 0)
		return -1;
	sig = sigsetjmp(touch_env, 1);
	if (sig) {
		o->sig = sig;
		jset(o->result, "touched", json_object_new_int(done));
		jset(o->result, "page", json_object_new_int64(pages_buf[done]));
		jset(o->result, "faultAddr", jhex((unsigned long)fault_addr));
		return -1;
	}
	touch_armed = 1;
	for (; done < n; done++) {
		volatile unsigned char *p = (unsigned char *)self.map + pages_buf[done] * self.page_size;

		if (write)
			*p = byte;
		else
			sum += *p;
	}
	touch_armed = 0;
	(void)sum;
	jset(o->result, "touched", json_object_new_int(done));
	return 0;
}

static int ensure_pipe(size_t bytes)
{
	if (self.pipe[0] < 0) {
		if (pipe2(self.pipe, O_NONBLOCK | O_CLOEXEC))
			return -1;
		self.pipe_cap = fcntl(self.pipe[1], F_GETPIPE_SZ);
	}
	if (self.pipe_bytes + bytes > self.pipe_cap) {
		int cap = fcntl(self.pipe[1], F_SETPIPE_SZ, (int)(self.pipe_bytes + bytes));

		if (cap < 0)
			return -1;
		self.pipe_cap = cap;
	}
	return 0;
}

/* vmsplice each page into a pipe, without SPLICE_F_GIFT: the pipe holds page references. */
static long long op_vmsplice(struct json_object *req, struct outcome *o)
{
	int n = get_pages(req, o, pages_buf, PAGES_MAX);
	long long bytes = 0;

	if (n < 0)
		return -1;
	if (ensure_pipe((size_t)n * self.page_size))
		return fail(o, -1);
	for (int i = 0; i < n; i++) {
		struct iovec iov = { self.map + pages_buf[i] * self.page_size, self.page_size };
		ssize_t r = vmsplice(self.pipe[1], &iov, 1, SPLICE_F_NONBLOCK);

		if (r < 0) {
			o->err = errno;
			jset(o->result, "bytes", json_object_new_int64(bytes));
			jset(o->result, "page", json_object_new_int64(pages_buf[i]));
			return -1;
		}
		bytes += r;
		self.pipe_bytes += r;
	}
	jset(o->result, "bytes", json_object_new_int64(bytes));
	jset(o->result, "inPipe", json_object_new_int64(self.pipe_bytes));
	return bytes;
}

static long long op_drain(struct json_object *req, struct outcome *o)
{
	static char buf[65536];
	long long bytes = 0;
	int first = -1, uniform = 1;
	ssize_t r;

	(void)req;
	if (self.pipe[0] < 0) {
		jset(o->result, "bytes", json_object_new_int64(0));
		return 0;
	}
	while ((r = read(self.pipe[0], buf, sizeof(buf))) > 0) {
		/* What the pipe handed back: its first byte, and whether all bytes were that one. */
		if (first < 0)
			first = (unsigned char)buf[0];
		for (ssize_t i = 0; uniform && i < r; i++)
			uniform = (unsigned char)buf[i] == first;
		bytes += r;
	}
	if (r < 0 && errno != EAGAIN)
		return fail(o, -1);
	self.pipe_bytes = 0;
	jset(o->result, "bytes", json_object_new_int64(bytes));
	if (first >= 0) {
		jset(o->result, "firstByte", json_object_new_int(first));
		jset(o->result, "uniform", json_object_new_boolean(uniform));
	}
	return bytes;
}

static long long op_io_uring_register(struct json_object *req, struct outcome *o)
{
	int n = get_pages(req, o, pages_buf, PAGES_MAX), ret;
	struct iovec *iov;

	if (n < 0)
		return -1;
	if (!self.ring_ok) {
		ret = io_uring_queue_init(8, &self.ring, 0);
		if (ret < 0) {
			errno = -ret;
			jset(o->result, "stage", json_object_new_string("io_uring_queue_init"));
			return fail(o, -1);
		}
		self.ring_ok = 1;
	}
	jset(o->result, "ringFd", json_object_new_int(self.ring.ring_fd));
	iov = calloc(n, sizeof(*iov));
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){ self.map + pages_buf[i] * self.page_size, self.page_size };
	ret = io_uring_register_buffers(&self.ring, iov, n);
	free(iov);
	if (ret < 0) {
		errno = -ret;
		return fail(o, -1);
	}
	jset(o->result, "buffers", json_object_new_int(n));
	return 0;
}

static long long op_io_uring_unregister(struct json_object *req, struct outcome *o)
{
	int ret;

	(void)req;
	if (!self.ring_ok)
		return refuse(o, "no io_uring (io_uring_register first)");
	ret = io_uring_unregister_buffers(&self.ring);
	if (ret < 0) {
		errno = -ret;
		return fail(o, -1);
	}
	return 0;
}

/* O_DIRECT between a block device and pages of the mapping: one I/O per run of pages. */
static long long op_odirect(struct json_object *req, struct outcome *o)
{
	int n = get_pages(req, o, pages_buf, PAGES_MAX), write = jbool(req, "write", 0), ios = 0, fd;
	const char *device = jstr(req, "device", NULL);
	long long bytes = 0;

	if (n < 0)
		return -1;
	if (!device)
		return refuse(o, "odirect needs a device");
	fd = open(device, (write ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		jset(o->result, "stage", json_object_new_string("open"));
		return fail(o, -1);
	}
	for (int i = 0; i < n;) {
		int j = i + 1;
		char *buf = self.map + pages_buf[i] * self.page_size;
		size_t len;
		off_t off = (off_t)pages_buf[i] * self.page_size;
		ssize_t r;

		while (j < n && pages_buf[j] == pages_buf[j - 1] + 1)
			j++;
		len = (size_t)(j - i) * self.page_size;
		r = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
		ios++;
		if (r < 0) {
			o->err = errno;
			close(fd);
			jset(o->result, "bytes", json_object_new_int64(bytes));
			jset(o->result, "ios", json_object_new_int(ios));
			return -1;
		}
		bytes += r;
		i = j;
	}
	close(fd);
	jset(o->result, "bytes", json_object_new_int64(bytes));
	jset(o->result, "ios", json_object_new_int(ios));
	return bytes;
}

static long long op_ftruncate(struct json_object *req, struct outcome *o)
{
	long long size = jint(req, "size", -1);

	if (self.fd < 0)
		return refuse(o, "no open file");
	if (size < 0)
		return refuse(o, "ftruncate needs a size >= 0");
	if (ftruncate(self.fd, size))
		return fail(o, -1);
	return 0;
}

static long long op_truncate(struct json_object *req, struct outcome *o)
{
	const char *path = jstr(req, "path", NULL);
	long long size = jint(req, "size", -1);
	char abs[PATH_MAX];

	if (!path || size < 0)
		return refuse(o, "truncate needs a path and a size >= 0");
	resolve_path(path, abs, sizeof(abs));
	jset(o->result, "path", json_object_new_string(abs));
	if (truncate(abs, size))
		return fail(o, -1);
	return 0;
}

static long long op_fallocate(struct json_object *req, struct outcome *o)
{
	const char *mode = jstr(req, "mode", "allocate");
	long long offset = jint(req, "offset", -1), length = jint(req, "length", -1);
	int m;

	if (self.fd < 0)
		return refuse(o, "no open file");
	if (offset < 0 || length <= 0)
		return refuse(o, "fallocate needs an offset >= 0 and a length > 0");
	if (!strcmp(mode, "punch"))
		m = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(mode, "zero"))
		m = FALLOC_FL_ZERO_RANGE;
	else if (!strcmp(mode, "collapse"))
		m = FALLOC_FL_COLLAPSE_RANGE;
	else if (!strcmp(mode, "allocate"))
		m = 0;
	else
		return refuse(o, "fallocate mode is one of punch, zero, collapse, allocate");
	if (fallocate(self.fd, m, offset, length))
		return fail(o, -1);
	return 0;
}

static long long op_rw(struct json_object *req, struct outcome *o, int write)
{
	long long offset = jint(req, "offset", 0), length = jint(req, "length", -1);
	unsigned char byte = jint(req, "byte", 0xa5);
	size_t alloc;
	ssize_t r;
	char *buf;

	if (self.fd < 0)
		return refuse(o, "no open file");
	if (length <= 0 || length > (1LL << 30) || offset < 0)
		return refuse(o, "needs an offset >= 0 and a length in (0, 1 GiB]");
	/* Page-aligned, so that an O_DIRECT fd takes it too. */
	alloc = (length + self.page_size - 1) / self.page_size * self.page_size;
	if (posix_memalign((void **)&buf, self.page_size, alloc))
		return refuse(o, "out of memory");
	memset(buf, write ? byte : 0, alloc);
	r = write ? pwrite(self.fd, buf, length, offset) : pread(self.fd, buf, length, offset);
	if (r < 0) {
		free(buf);
		return fail(o, -1);
	}
	jset(o->result, "bytes", json_object_new_int64(r));
	if (!write && r > 0) {
		ssize_t same = 1;

		while (same < r && buf[same] == buf[0])
			same++;
		jset(o->result, "firstByte", json_object_new_int((unsigned char)buf[0]));
		jset(o->result, "uniform", json_object_new_boolean(same == r));
	}
	free(buf);
	return r;
}

static long long op_lease(struct json_object *req, struct outcome *o)
{
	const char *type = jstr(req, "type", NULL), *signame = jstr(req, "signal", "SIGIO");
	int sig = actor_signal_parse(signame), arg;

	if (self.fd < 0)
		return refuse(o, "no open file");
	if (!type || (strcmp(type, "read") && strcmp(type, "write") && strcmp(type, "unlock")))
		return refuse(o, "lease type is one of read, write, unlock");
	arg = !strcmp(type, "read") ? F_RDLCK : !strcmp(type, "write") ? F_WRLCK : F_UNLCK;
	if (arg != F_UNLCK) {
		if (sig < 0 || catch_signal(sig))
			return refuse(o, "lease signal: a catchable signal name such as SIGIO or SIGRTMIN+1");
		if (fcntl(self.fd, F_SETSIG, sig)) {
			jset(o->result, "stage", json_object_new_string("F_SETSIG"));
			return fail(o, -1);
		}
		jset(o->result, "signal", json_object_new_string(actor_signal_name(sig)));
	}
	if (fcntl(self.fd, F_SETLEASE, arg))
		return fail(o, -1);
	return 0;
}

/*
 * Data patterns for fsx-style checks. Page data written with tag T (1..2^32-1) is
 * the 64-bit words w[i] = (T << 32 | T) ^ (i * golden ratio): word 0 names the tag,
 * every other word confirms it, and a page of another tag, a shifted page or a torn
 * write does not pass for it.
 */
#define PATTERN_MUL 0x9e3779b97f4a7c15ULL
#define PATTERN_ZERO 0
#define PATTERN_GARBAGE -1
#define PATTERN_SIGBUS -2
#define PATTERN_SHORT -3
#define PATTERN_TORN (1LL << 32)

static uint64_t pattern_word(uint32_t tag, size_t i)
{
	return ((uint64_t)tag << 32 | tag) ^ (i * PATTERN_MUL);
}

static void pattern_fill(volatile uint64_t *w, size_t words, uint32_t tag)
{
	for (size_t i = 0; i < words; i++)
		w[i] = pattern_word(tag, i);
}

/*
 * The tag a page holds, PATTERN_ZERO for a zero page, PATTERN_TORN + tag for a page
 * that is part that tag's pattern and part zeros (read while a hole punch replaced it),
 * PATTERN_GARBAGE for anything else.
 */
static long long pattern_scan(const volatile uint64_t *w, size_t words)
{
	size_t i, zeros = 0, first = words;
	uint64_t key;
	uint32_t tag;

	for (i = 0; i < words && first == words; i++)
		if (w[i])
			first = i;
	if (first == words)
		return PATTERN_ZERO;
	key = w[first] ^ (first * PATTERN_MUL);
	tag = (uint32_t)key;
	if (key >> 32 != tag || !tag)
		return PATTERN_GARBAGE;
	for (i = 0; i < words; i++) {
		uint64_t v = w[i];

		if (!v)
			zeros++;
		else if (v != pattern_word(tag, i))
			return PATTERN_GARBAGE;
	}
	return zeros ? PATTERN_TORN + (long long)tag : tag;
}

/* One page through the mapping, a SIGBUS/SIGSEGV caught: 0, or minus the signal. */
static int guarded_page(char *page, int write, uint32_t tag, long long *found)
{
	size_t words = self.page_size / sizeof(uint64_t);
	int sig = sigsetjmp(touch_env, 1);

	if (sig)
		return -sig;
	touch_armed = 1;
	if (write)
		pattern_fill((volatile uint64_t *)page, words, tag);
	else
		*found = pattern_scan((const volatile uint64_t *)page, words);
	touch_armed = 0;
	return 0;
}

/* Page indices (no mapping needed): for reads through the file. */
static int get_indices(struct json_object *req, struct outcome *o, long *pages, int max)
{
	struct json_object *arr;
	int n;

	if (!json_object_object_get_ex(req, "pages", &arr) || !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) < 1 || n > max) {
		refuse(o, "pages must be a non-empty array of page indices");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		pages[i] = json_object_get_int64(json_object_array_get_idx(arr, i));
		if (pages[i] < 0) {
			refuse(o, "page indices are >= 0");
			return -1;
		}
	}
	return n;
}

/* {"op":"pattern_write","pages":[0,3],"tags":[17,18]}: store each page's pattern through the mapping. */
static long long op_pattern_write(struct json_object *req, struct outcome *o)
{
	int n = get_pages(req, o, pages_buf, PAGES_MAX), written = 0;
	struct json_object *tags, *faults;

	if (n < 0)
		return -1;
	if (!json_object_object_get_ex(req, "tags", &tags) || !json_object_is_type(tags, json_type_array) ||
	    (int)json_object_array_length(tags) != n)
		return refuse(o, "tags must be an array as long as pages");
	faults = json_object_new_array();
	for (int i = 0; i < n; i++) {
		long long tag = json_object_get_int64(json_object_array_get_idx(tags, i));
		int ret;

		if (tag < 1 || tag > UINT32_MAX) {
			json_object_put(faults);
			return refuse(o, "tags are integers in [1, 2^32)");
		}
		ret = guarded_page(self.map + pages_buf[i] * self.page_size, 1, (uint32_t)tag, NULL);
		if (ret) {
			struct json_object *f = json_object_new_object();

			jset(f, "page", json_object_new_int64(pages_buf[i]));
			jset(f, "signal", json_object_new_string(actor_signal_name(-ret)));
			json_object_array_add(faults, f);
			continue;
		}
		written++;
	}
	jset(o->result, "written", json_object_new_int(written));
	jset(o->result, "faults", faults);
	return written;
}

/*
 * {"op":"pattern_check","pages":[0,1],"via":"mmap"|"read"}: what each page holds,
 * in request order: its tag, 0 (zeros), 2^32 + tag (torn: that tag and zeros), -1
 * (neither), -2 (SIGBUS on the mapping), -3 (read(2) came back short: beyond EOF). Through the mapping, pages index the
 * mapping; through read(2), the file.
 */
static long long op_pattern_check(struct json_object *req, struct outcome *o)
{
	const char *via = jstr(req, "via", "mmap");
	int by_read = !strcmp(via, "read");
	int n = by_read ? get_indices(req, o, pages_buf, PAGES_MAX) : get_pages(req, o, pages_buf, PAGES_MAX);
	struct json_object *out;
	char *buf = NULL;

	if (n < 0)
		return -1;
	if (strcmp(via, "mmap") && !by_read)
		return refuse(o, "via is mmap or read");
	if (by_read && self.fd < 0)
		return refuse(o, "no open file");
	if (by_read && posix_memalign((void **)&buf, self.page_size, self.page_size))
		return refuse(o, "out of memory");
	out = json_object_new_array();
	for (int i = 0; i < n; i++) {
		long long found = PATTERN_GARBAGE;

		if (by_read) {
			ssize_t r = pread(self.fd, buf, self.page_size, (off_t)pages_buf[i] * self.page_size);

			if (r < 0) {
				o->err = errno;
				json_object_put(out);
				free(buf);
				return -1;
			}
			found = r == self.page_size ? pattern_scan((const uint64_t *)buf, self.page_size / 8) : PATTERN_SHORT;
		} else if (guarded_page(self.map + pages_buf[i] * self.page_size, 0, 0, &found)) {
			found = PATTERN_SIGBUS;
		}
		json_object_array_add(out, json_object_new_int64(found));
	}
	free(buf);
	jset(o->result, "tags", out);
	return n;
}

#ifdef DAXLAB_VERBS
/* Memory registrations on the first verbs device (soft-RoCE rxe0 in the lab): one MR a page. */
#define MRS_MAX 1024
static struct {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *mr[MRS_MAX];
	int nr_mr;
	char device[64];
} verbs;

static int verbs_open(struct outcome *o)
{
	struct ibv_device **list;
	int num = 0;

	if (verbs.pd)
		return 0;
	list = ibv_get_device_list(&num);
	if (!list || num < 1) {
		if (list)
			ibv_free_device_list(list);
		jset(o->result, "stage", json_object_new_string("ibv_get_device_list"));
		if (!errno || list)
			errno = ENODEV;
		return -1;
	}
	snprintf(verbs.device, sizeof(verbs.device), "%s", ibv_get_device_name(list[0]));
	verbs.ctx = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	if (!verbs.ctx) {
		jset(o->result, "stage", json_object_new_string("ibv_open_device"));
		return -1;
	}
	verbs.pd = ibv_alloc_pd(verbs.ctx);
	if (!verbs.pd) {
		jset(o->result, "stage", json_object_new_string("ibv_alloc_pd"));
		ibv_close_device(verbs.ctx);
		verbs.ctx = NULL;
		return -1;
	}
	return 0;
}

static long long op_rdma_reg_mr(struct json_object *req, struct outcome *o)
{
	int n = get_pages(req, o, pages_buf, PAGES_MAX), done = 0;
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;

	if (n < 0)
		return -1;
	errno = 0;
	if (verbs_open(o))
		return fail(o, -1);
	jset(o->result, "device", json_object_new_string(verbs.device));
	for (; done < n; done++) {
		struct ibv_mr *mr;

		if (verbs.nr_mr == MRS_MAX)
			return refuse(o, "too many memory registrations");
		mr = ibv_reg_mr(verbs.pd, self.map + pages_buf[done] * self.page_size, self.page_size, access);
		if (!mr) {
			o->err = errno ? errno : EIO;
			jset(o->result, "stage", json_object_new_string("ibv_reg_mr"));
			jset(o->result, "registered", json_object_new_int(done));
			jset(o->result, "page", json_object_new_int64(pages_buf[done]));
			return -1;
		}
		verbs.mr[verbs.nr_mr++] = mr;
	}
	jset(o->result, "registered", json_object_new_int(done));
	jset(o->result, "mrs", json_object_new_int(verbs.nr_mr));
	return done;
}

static long long op_rdma_dereg_mr(struct json_object *req, struct outcome *o)
{
	int done = 0;

	(void)req;
	while (verbs.nr_mr > 0) {
		int err = ibv_dereg_mr(verbs.mr[verbs.nr_mr - 1]);

		if (err) {
			o->err = err;
			jset(o->result, "deregistered", json_object_new_int(done));
			return -1;
		}
		verbs.nr_mr--;
		done++;
	}
	jset(o->result, "deregistered", json_object_new_int(done));
	return done;
}
#else
static long long op_rdma_reg_mr(struct json_object *req, struct outcome *o)
{
	(void)req;
	return refuse(o, "rdma ops need an actor started with program \"verbs\"");
}

static long long op_rdma_dereg_mr(struct json_object *req, struct outcome *o)
{
	(void)req;
	return refuse(o, "rdma ops need an actor started with program \"verbs\"");
}
#endif

static long long op_sleep(struct json_object *req, struct outcome *o)
{
	long long ms = jint(req, "ms", -1);
	struct timespec until;

	if (ms < 0)
		return refuse(o, "sleep needs ms >= 0");
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	/* Signals the actor reports interrupt the sleep: go back to it. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
	return 0;
}

static void run_action(struct json_object *req)
{
	int id = jint(req, "id", -1);
	const char *op = jstr(req, "op", "");
	struct outcome o = { .result = json_object_new_object() };
	struct json_object *end;
	double t0, t1;

	t0 = mono_now();
	actor_send(action_msg(id, op, "start", t0));
	errno = 0;
	if (!strcmp(op, "open"))
		o.ret = op_open(req, &o);
	else if (!strcmp(op, "close"))
		o.ret = op_close(req, &o);
	else if (!strcmp(op, "mmap"))
		o.ret = op_mmap(req, &o);
	else if (!strcmp(op, "munmap"))
		o.ret = op_munmap(req, &o);
	else if (!strcmp(op, "touch"))
		o.ret = op_touch(req, &o);
	else if (!strcmp(op, "vmsplice"))
		o.ret = op_vmsplice(req, &o);
	else if (!strcmp(op, "drain"))
		o.ret = op_drain(req, &o);
	else if (!strcmp(op, "io_uring_register"))
		o.ret = op_io_uring_register(req, &o);
	else if (!strcmp(op, "io_uring_unregister"))
		o.ret = op_io_uring_unregister(req, &o);
	else if (!strcmp(op, "odirect"))
		o.ret = op_odirect(req, &o);
	else if (!strcmp(op, "ftruncate"))
		o.ret = op_ftruncate(req, &o);
	else if (!strcmp(op, "truncate"))
		o.ret = op_truncate(req, &o);
	else if (!strcmp(op, "fallocate"))
		o.ret = op_fallocate(req, &o);
	else if (!strcmp(op, "write"))
		o.ret = op_rw(req, &o, 1);
	else if (!strcmp(op, "read"))
		o.ret = op_rw(req, &o, 0);
	else if (!strcmp(op, "lease"))
		o.ret = op_lease(req, &o);
	else if (!strcmp(op, "sleep"))
		o.ret = op_sleep(req, &o);
	else if (!strcmp(op, "pattern_write"))
		o.ret = op_pattern_write(req, &o);
	else if (!strcmp(op, "pattern_check"))
		o.ret = op_pattern_check(req, &o);
	else if (!strcmp(op, "rdma_reg_mr"))
		o.ret = op_rdma_reg_mr(req, &o);
	else if (!strcmp(op, "rdma_dereg_mr"))
		o.ret = op_rdma_dereg_mr(req, &o);
	else if (!strcmp(op, "exit"))
		o.ret = jint(req, "status", 0);
	else
		o.ret = refuse(&o, "unknown op");
	t1 = mono_now();
	end = action_msg(id, op, "end", t1);
	jset(end, "ret", json_object_new_int64(o.ret));
	if (o.err) {
		jset(end, "errno", json_object_new_int(o.err));
		jset(end, "error", json_object_new_string(errno_name(o.err)));
	} else if (o.message) {
		jset(end, "error", json_object_new_string(o.message));
	}
	if (o.sig)
		jset(end, "signal", json_object_new_string(actor_signal_name(o.sig)));
	jset(end, "ms", jms(t1 - t0));
	jset(end, "result", o.result);
	actor_send(end);
	if (!strcmp(op, "exit"))
		_exit((int)o.ret);
}

static void __attribute__((noreturn)) actor_main(const char *name, int sock)
{
	static char buf[ACTOR_MSG_MAX];
	struct sigaction sa = { .sa_sigaction = fault_handler, .sa_flags = SA_SIGINFO };
	sigset_t all;

	/* Only the socket survives: the agent's channel and the observer's fds are not ours. */
	if (sock != 3) {
		dup2(sock, 3);
		sock = 3;
	}
	close_range(4, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, name);
	if (chdir("/"))
		_exit(127);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	snprintf(self.name, sizeof(self.name), "%s", name);
	self.pid = getpid();
	self.sock = sock;
	self.page_size = sysconf(_SC_PAGESIZE);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	/* Reported when they arrive: SIGIO (a lease without F_SETSIG), SIGUSR1, SIGUSR2. */
	catch_signal(SIGIO);
	catch_signal(SIGUSR1);
	catch_signal(SIGUSR2);
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
		struct json_object *req;

		if (n == 0)
			_exit(0);	/* the agent is gone */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(126);
		}
		buf[n] = '\0';
		req = json_tokener_parse(buf);
		if (req)
			run_action(req);
		json_object_put(req);
	}
}

#ifdef DAXLAB_VERBS
/* ================================================================ daxlab-verbs */

/*
 * The same actor, built as a dynamically linked program so that libibverbs can load
 * its provider: the agent forks, puts the actor's socket on fd 3 and execs us.
 */
double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 2 || fcntl(3, F_GETFD) < 0) {
		fprintf(stderr, "usage: daxlab-verbs <actor name>, with the agent's socket on fd 3\n");
		return 2;
	}
	sig_names_init();
	actor_main(argv[1], 3);
}

#else
/* ================================================================ the agent side */

struct pending {
	int id;
	int started;
	double t_start;		/* guest monotonic time of its "start" */
	char op[24];
};

struct slot {
	struct actor pub;
	int sock;
	struct pending pending[PENDING_MAX];
	int nr_pending;
	int status;		/* wait status once reaped */
};

static struct slot slots[ACTORS_MAX];
static int nr_slots;
static actor_listener listeners[LISTENERS_MAX];
static int nr_listeners;

int actors_count(void)
{
	return nr_slots;
}

const struct actor *actor_at(int i)
{
	return i >= 0 && i < nr_slots ? &slots[i].pub : NULL;
}

static struct slot *slot_find(const char *name)
{
	for (int i = 0; i < nr_slots; i++)
		if (!strcmp(slots[i].pub.name, name))
			return &slots[i];
	return NULL;
}

const struct actor *actor_find(const char *name)
{
	struct slot *s = slot_find(name);

	return s ? &s->pub : NULL;
}

int actors_add_listener(actor_listener fn)
{
	if (nr_listeners == LISTENERS_MAX)
		return -1;
	listeners[nr_listeners++] = fn;
	return 0;
}

static void notify(struct slot *s, const char *op)
{
	for (int i = 0; i < nr_listeners; i++)
		listeners[i](&s->pub, op);
}

static void pending_remove(struct slot *s, int i)
{
	memmove(&s->pending[i], &s->pending[i + 1], (s->nr_pending - i - 1) * sizeof(s->pending[0]));
	s->nr_pending--;
}

/* Follow what the actor reports: which actions are running, its mapping. */
static void track(struct slot *s, struct json_object *msg)
{
	const char *kind = jstr(msg, "kind", ""), *phase = jstr(msg, "phase", ""), *op = jstr(msg, "op", "");
	struct json_object *result;
	int id = jint(msg, "id", -1), i;

	if (strcmp(kind, "action"))
		return;
	for (i = 0; i < s->nr_pending && s->pending[i].id != id; i++)
		;
	if (!strcmp(phase, "start")) {
		if (i < s->nr_pending) {
			s->pending[i].started = 1;
			s->pending[i].t_start = json_object_get_double(json_object_object_get(msg, "t"));
		}
		s->pub.busy = 1;
		return;
	}
	if (i < s->nr_pending)
		pending_remove(s, i);
	s->pub.busy = 0;
	if (jint(msg, "ret", -1) < 0 || !json_object_object_get_ex(msg, "result", &result))
		return;
	if (!strcmp(op, "mmap")) {
		struct actor_mapping *m = &s->pub.map;

		m->valid = 1;
		m->mapped = 1;
		m->addr = strtoul(jstr(result, "addr", "0"), NULL, 0);
		m->length = jint(result, "length", 0);
		m->anonymous = jbool(result, "anonymous", 0);
		snprintf(m->path, sizeof(m->path), "%s", jstr(result, "path", ""));
		m->offset = jint(result, "offset", 0);
		m->gen++;
	} else if (!strcmp(op, "munmap")) {
		s->pub.map.mapped = 0;
	}
}

/* Relay what the actor sent. Returns the number of records read. */
static int relay(struct slot *s, int max)
{
	static char buf[ACTOR_MSG_MAX];
	int count = 0;

	while (s->sock >= 0 && count < max) {
		ssize_t n = recv(s->sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		struct json_object *msg;
		char op[24];
		int end;

		if (n <= 0)
			break;
		count++;
		buf[n] = '\0';
		msg = json_tokener_parse(buf);
		if (!msg || !json_object_is_type(msg, json_type_object)) {
			json_object_put(msg);
			continue;
		}
		track(s, msg);
		end = !strcmp(jstr(msg, "kind", ""), "action") && !strcmp(jstr(msg, "phase", ""), "end");
		snprintf(op, sizeof(op), "%s", jstr(msg, "op", ""));
		channel_send(msg);
		if (end)
			notify(s, op);
	}
	return count;
}

static void on_actor_socket(int fd, short revents, void *ctx)
{
	struct slot *s = ctx;

	(void)fd;
	/* Readable and nothing to read: the actor closed its end (it died). The tick reaps it. */
	if (!relay(s, 64) && (revents & (POLLIN | POLLHUP | POLLERR)))
		agent_unwatch_fd(s->sock);
}

static void send_orphan_end(struct slot *s, struct pending *p)
{
	struct json_object *msg = json_object_new_object();
	int st = s->status;

	jset(msg, "kind", json_object_new_string("action"));
	jset(msg, "id", json_object_new_int(p->id));
	jset(msg, "actor", json_object_new_string(s->pub.name));
	jset(msg, "op", json_object_new_string(p->op));
	jset(msg, "phase", json_object_new_string("end"));
	jset(msg, "ret", json_object_new_int(-1));
	if (!p->started) {
		/* Queued behind the action the actor died in: never ran. */
		jset(msg, "errno", json_object_new_int(ECANCELED));
		jset(msg, "error", json_object_new_string(errno_name(ECANCELED)));
	} else if (WIFSIGNALED(st)) {
		jset(msg, "signal", json_object_new_string(actor_signal_name(WTERMSIG(st))));
	} else {
		jset(msg, "error", json_object_new_string("the actor exited during the action"));
	}
	if (p->started)
		jset(msg, "ms", jms(mono_now() - p->t_start));
	channel_send(msg);
}

static void reap(struct slot *s, int status)
{
	struct json_object *msg = json_object_new_object();

	s->status = status;
	relay(s, INT_MAX);
	agent_unwatch_fd(s->sock);
	close(s->sock);
	s->sock = -1;
	for (int i = 0; i < s->nr_pending; i++)
		send_orphan_end(s, &s->pending[i]);
	s->nr_pending = 0;
	s->pub.alive = 0;
	s->pub.busy = 0;
	s->pub.map.mapped = 0;
	jset(msg, "kind", json_object_new_string("actor-exit"));
	jset(msg, "actor", json_object_new_string(s->pub.name));
	jset(msg, "pid", json_object_new_int(s->pub.pid));
	if (WIFSIGNALED(status))
		jset(msg, "signal", json_object_new_string(actor_signal_name(WTERMSIG(status))));
	else
		jset(msg, "status", json_object_new_int(WEXITSTATUS(status)));
	channel_send(msg);
	notify(s, NULL);
}

/* waitpid per actor, never waitpid(-1): exec's children are run.c's to reap. */
static void actors_tick(double now)
{
	(void)now;
	for (int i = 0; i < nr_slots; i++) {
		struct slot *s = &slots[i];
		int status;

		if (s->pub.alive && waitpid(s->pub.pid, &status, WNOHANG) == s->pub.pid)
			reap(s, status);
	}
}

static int valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len >= ACTOR_NAME_MAX)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* The child of actor-start for program "verbs": the socket on fd 3, then exec. */
static void __attribute__((noreturn)) exec_verbs(const char *name, int sock)
{
	sigset_t none;

	if (sock != 3) {
		dup2(sock, 3);		/* the copy has no FD_CLOEXEC */
	} else {
		fcntl(3, F_SETFD, 0);
	}
	close_range(4, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(VERBS_PROGRAM, "daxlab-verbs", name, (char *)NULL);
	_exit(127);
}

static void cmd_actor_start(int id, struct json_object *req)
{
	const char *name = jstr(req, "actor", ""), *program = jstr(req, "program", "agent");
	struct json_object *result;
	struct slot *s = slot_find(name);
	int sv[2], verbs = !strcmp(program, "verbs");
	pid_t pid;

	if (!valid_name(name)) {
		send_error(id, "actor-start", "actor names are 1-15 characters of [A-Za-z0-9_.-]", name);
		return;
	}
	if (!verbs && strcmp(program, "agent")) {
		send_error(id, "actor-start", "program is \"agent\" (the default) or \"verbs\"", program);
		return;
	}
	if (verbs && access(VERBS_PROGRAM, X_OK)) {
		send_error(id, "actor-start", "this guest image has no " VERBS_PROGRAM " (host without libibverbs-dev?)", name);
		return;
	}
	if (s && s->pub.alive) {
		send_error(id, "actor-start", "an actor of that name is running", name);
		return;
	}
	if (!s && nr_slots == ACTORS_MAX) {
		send_error(id, "actor-start", "too many actors", NULL);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		send_error(id, "actor-start", strerror(errno), "socketpair");
		return;
	}
	pid = fork();
	if (pid < 0) {
		send_error(id, "actor-start", strerror(errno), "fork");
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		if (verbs)
			exec_verbs(name, sv[1]);
		actor_main(name, sv[1]);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (!s)
		s = &slots[nr_slots++];
	memset(s, 0, sizeof(*s));
	snprintf(s->pub.name, sizeof(s->pub.name), "%s", name);
	s->pub.pid = pid;
	s->pub.alive = 1;
	s->sock = sv[0];
	agent_watch_fd(s->sock, POLLIN, on_actor_socket, s);
	result = json_object_new_object();
	jset(result, "pid", json_object_new_int(pid));
	jset(result, "program", json_object_new_string(verbs ? "verbs" : "agent"));
	send_reply(id, result);
}

static struct slot *running_actor(int id, const char *stage, struct json_object *req)
{
	const char *name = jstr(req, "actor", "");
	struct slot *s = slot_find(name);
	char msg[128];

	if (!s) {
		send_error(id, stage, "no such actor", name);
		return NULL;
	}
	if (!s->pub.alive) {
		if (WIFSIGNALED(s->status))
			snprintf(msg, sizeof(msg), "the actor is dead (killed by %s)", actor_signal_name(WTERMSIG(s->status)));
		else
			snprintf(msg, sizeof(msg), "the actor is dead (exited with status %d)", WEXITSTATUS(s->status));
		send_error(id, stage, msg, name);
		return NULL;
	}
	return s;
}

static void cmd_actor_kill(int id, struct json_object *req)
{
	const char *signame = jstr(req, "signal", "SIGKILL");
	int sig = actor_signal_parse(signame);
	struct slot *s = running_actor(id, "actor-kill", req);
	struct json_object *result;

	if (!s)
		return;
	if (sig < 0) {
		send_error(id, "actor-kill", "unknown signal", signame);
		return;
	}
	if (kill(s->pub.pid, sig)) {
		send_error(id, "actor-kill", strerror(errno), NULL);
		return;
	}
	result = json_object_new_object();
	jset(result, "pid", json_object_new_int(s->pub.pid));
	jset(result, "signal", json_object_new_string(actor_signal_name(sig)));
	send_reply(id, result);
}

static void cmd_act(int id, struct json_object *req)
{
	const char *op = jstr(req, "op", "");
	struct slot *s;
	struct json_object *result;
	const char *text;
	int i;

	for (i = 0; known_ops[i] && strcmp(known_ops[i], op); i++)
		;
	if (!known_ops[i]) {
		send_error(id, "act", "unknown op", op);
		return;
	}
	s = running_actor(id, "act", req);
	if (!s)
		return;
	if (s->nr_pending == PENDING_MAX) {
		send_error(id, "act", "the actor has too many actions queued", s->pub.name);
		return;
	}
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(text) >= ACTOR_MSG_MAX) {
		send_error(id, "act", "command too long for an actor", NULL);
		return;
	}
	/* Non-blocking: an actor stuck in a syscall must never stall the agent. */
	if (send(s->sock, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		send_error(id, "act", errno == EAGAIN ? "the actor's command queue is full" : strerror(errno),
			   s->pub.name);
		return;
	}
	s->pending[s->nr_pending].id = id;
	s->pending[s->nr_pending].started = 0;
	snprintf(s->pending[s->nr_pending].op, sizeof(s->pending[0].op), "%s", op);
	s->nr_pending++;
	result = json_object_new_object();
	jset(result, "accepted", json_object_new_boolean(1));
	jset(result, "id", json_object_new_int(id));
	send_reply(id, result);
}

void actors_init(void)
{
	sig_names_init();
	agent_register_cmd("actor-start", cmd_actor_start);
	agent_register_cmd("actor-kill", cmd_actor_kill);
	agent_register_cmd("act", cmd_act);
	agent_register_tick(actors_tick);
}
#endif
