// SPDX-License-Identifier: MIT
/* Ops on the actor's current file: open, close, ftruncate, truncate, fallocate, write, read, lease. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "ops.h"

static void resolve_path(const char *path, char *out, size_t len)
{
	if (path[0] == '/')
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", LAB_MOUNTPOINT, path);
}

long long op_open(struct json_object *req, struct outcome *o)
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
	if (actor_self.fd >= 0)
		close(actor_self.fd);
	actor_self.fd = fd;
	actor_self.direct = direct;
	snprintf(actor_self.path, sizeof(actor_self.path), "%s", abs);
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

long long op_close(struct json_object *req, struct outcome *o)
{
	int fd = actor_self.fd;

	(void)req;
	if (fd < 0)
		return refuse(o, "no open file");
	actor_self.fd = -1;
	if (close(fd))
		return fail(o, -1);
	return 0;
}

long long op_ftruncate(struct json_object *req, struct outcome *o)
{
	long long size = jint(req, "size", -1);

	if (actor_self.fd < 0)
		return refuse(o, "no open file");
	if (size < 0)
		return refuse(o, "ftruncate needs a size >= 0");
	if (ftruncate(actor_self.fd, size))
		return fail(o, -1);
	return 0;
}

long long op_truncate(struct json_object *req, struct outcome *o)
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

long long op_fallocate(struct json_object *req, struct outcome *o)
{
	const char *mode = jstr(req, "mode", "allocate");
	long long offset = jint(req, "offset", -1), length = jint(req, "length", -1);
	int m;

	if (actor_self.fd < 0)
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
	if (fallocate(actor_self.fd, m, offset, length))
		return fail(o, -1);
	return 0;
}

static long long rw(struct json_object *req, struct outcome *o, int write)
{
	long long offset = jint(req, "offset", 0), length = jint(req, "length", -1);
	unsigned char byte = jint(req, "byte", 0xa5);
	size_t alloc;
	ssize_t r;
	char *buf;

	if (actor_self.fd < 0)
		return refuse(o, "no open file");
	if (length <= 0 || length > (1LL << 30) || offset < 0)
		return refuse(o, "needs an offset >= 0 and a length in (0, 1 GiB]");
	/* Page-aligned, so that an O_DIRECT fd takes it too. */
	alloc = (length + actor_self.page_size - 1) / actor_self.page_size * actor_self.page_size;
	if (posix_memalign((void **)&buf, actor_self.page_size, alloc))
		return refuse(o, "out of memory");
	memset(buf, write ? byte : 0, alloc);
	r = write ? pwrite(actor_self.fd, buf, length, offset) : pread(actor_self.fd, buf, length, offset);
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

long long op_lease(struct json_object *req, struct outcome *o)
{
	const char *type = jstr(req, "type", NULL), *signame = jstr(req, "signal", "SIGIO");
	int sig = actor_signal_parse(signame), arg;

	if (actor_self.fd < 0)
		return refuse(o, "no open file");
	if (!type || (strcmp(type, "read") && strcmp(type, "write") && strcmp(type, "unlock")))
		return refuse(o, "lease type is one of read, write, unlock");
	arg = !strcmp(type, "read") ? F_RDLCK : !strcmp(type, "write") ? F_WRLCK : F_UNLCK;
	if (arg != F_UNLCK) {
		if (sig < 0 || catch_signal(sig))
			return refuse(o, "lease signal: a catchable signal name such as SIGIO or SIGRTMIN+1");
		if (fcntl(actor_self.fd, F_SETSIG, sig)) {
			jset(o->result, "stage", json_object_new_string("F_SETSIG"));
			return fail(o, -1);
		}
		jset(o->result, "signal", json_object_new_string(actor_signal_name(sig)));
	}
	if (fcntl(actor_self.fd, F_SETLEASE, arg))
		return fail(o, -1);
	return 0;
}

long long op_write(struct json_object *req, struct outcome *o)
{
	return rw(req, o, 1);
}

long long op_read(struct json_object *req, struct outcome *o)
{
	return rw(req, o, 0);
}
