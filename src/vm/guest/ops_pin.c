// SPDX-License-Identifier: MIT
/*
 * Ops that take references or pins on the mapping's pages: vmsplice into a pipe (and
 * drain it), io_uring fixed buffers, O_DIRECT I/O to a block device.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ops.h"

static int ensure_pipe(size_t bytes)
{
	if (actor_self.pipe[0] < 0) {
		if (pipe2(actor_self.pipe, O_NONBLOCK | O_CLOEXEC))
			return -1;
		actor_self.pipe_cap = fcntl(actor_self.pipe[1], F_GETPIPE_SZ);
	}
	if (actor_self.pipe_bytes + bytes > actor_self.pipe_cap) {
		int cap = fcntl(actor_self.pipe[1], F_SETPIPE_SZ, (int)(actor_self.pipe_bytes + bytes));

		if (cap < 0)
			return -1;
		actor_self.pipe_cap = cap;
	}
	return 0;
}

/* vmsplice each page into a pipe, without SPLICE_F_GIFT: the pipe holds page references. */
long long op_vmsplice(struct json_object *req, struct outcome *o)
{
	int n = actor_get_pages(req, o, actor_pages, ACTOR_PAGES_MAX);
	long long bytes = 0;

	if (n < 0)
		return -1;
	if (ensure_pipe((size_t)n * actor_self.page_size))
		return fail(o, -1);
	for (int i = 0; i < n; i++) {
		struct iovec iov = { actor_self.map + actor_pages[i] * actor_self.page_size, actor_self.page_size };
		ssize_t r = vmsplice(actor_self.pipe[1], &iov, 1, SPLICE_F_NONBLOCK);

		if (r < 0) {
			o->err = errno;
			jset(o->result, "bytes", json_object_new_int64(bytes));
			jset(o->result, "page", json_object_new_int64(actor_pages[i]));
			return -1;
		}
		bytes += r;
		actor_self.pipe_bytes += r;
	}
	jset(o->result, "bytes", json_object_new_int64(bytes));
	jset(o->result, "inPipe", json_object_new_int64(actor_self.pipe_bytes));
	return bytes;
}

long long op_drain(struct json_object *req, struct outcome *o)
{
	static char buf[65536];
	long long bytes = 0;
	int first = -1, uniform = 1;
	ssize_t r;

	(void)req;
	if (actor_self.pipe[0] < 0) {
		jset(o->result, "bytes", json_object_new_int64(0));
		return 0;
	}
	while ((r = read(actor_self.pipe[0], buf, sizeof(buf))) > 0) {
		/* What the pipe handed back: its first byte, and whether all bytes were that one. */
		if (first < 0)
			first = (unsigned char)buf[0];
		for (ssize_t i = 0; uniform && i < r; i++)
			uniform = (unsigned char)buf[i] == first;
		bytes += r;
	}
	if (r < 0 && errno != EAGAIN)
		return fail(o, -1);
	actor_self.pipe_bytes = 0;
	jset(o->result, "bytes", json_object_new_int64(bytes));
	if (first >= 0) {
		jset(o->result, "firstByte", json_object_new_int(first));
		jset(o->result, "uniform", json_object_new_boolean(uniform));
	}
	return bytes;
}

long long op_io_uring_register(struct json_object *req, struct outcome *o)
{
	int n = actor_get_pages(req, o, actor_pages, ACTOR_PAGES_MAX), ret;
	struct iovec *iov;

	if (n < 0)
		return -1;
	if (!actor_self.ring_ok) {
		ret = io_uring_queue_init(8, &actor_self.ring, 0);
		if (ret < 0) {
			errno = -ret;
			jset(o->result, "stage", json_object_new_string("io_uring_queue_init"));
			return fail(o, -1);
		}
		actor_self.ring_ok = 1;
	}
	jset(o->result, "ringFd", json_object_new_int(actor_self.ring.ring_fd));
	iov = calloc(n, sizeof(*iov));
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){ actor_self.map + actor_pages[i] * actor_self.page_size, actor_self.page_size };
	ret = io_uring_register_buffers(&actor_self.ring, iov, n);
	free(iov);
	if (ret < 0) {
		errno = -ret;
		return fail(o, -1);
	}
	jset(o->result, "buffers", json_object_new_int(n));
	return 0;
}

long long op_io_uring_unregister(struct json_object *req, struct outcome *o)
{
	int ret;

	(void)req;
	if (!actor_self.ring_ok)
		return refuse(o, "no io_uring (io_uring_register first)");
	ret = io_uring_unregister_buffers(&actor_self.ring);
	if (ret < 0) {
		errno = -ret;
		return fail(o, -1);
	}
	return 0;
}

/* O_DIRECT between a block device and pages of the mapping: one I/O per run of pages. */
long long op_odirect(struct json_object *req, struct outcome *o)
{
	int n = actor_get_pages(req, o, actor_pages, ACTOR_PAGES_MAX), write = jbool(req, "write", 0), ios = 0, fd;
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
		char *buf = actor_self.map + actor_pages[i] * actor_self.page_size;
		size_t len;
		off_t off = (off_t)actor_pages[i] * actor_self.page_size;
		ssize_t r;

		while (j < n && actor_pages[j] == actor_pages[j - 1] + 1)
			j++;
		len = (size_t)(j - i) * actor_self.page_size;
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
