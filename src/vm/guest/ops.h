/* SPDX-License-Identifier: MIT */
/*
 * The actor process: its state, what an op returns, and the op table (op_table.c),
 * the one list of the ops an actor runs. The host's catalogue (src/lab) follows it:
 * test/unit/actor-ops.test.ts compares the two through `daxlab-agent --list-ops`.
 */
#ifndef DAXLAB_OPS_H
#define DAXLAB_OPS_H

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <liburing.h>

#include "actors.h"
#include "util.h"

/* One SEQPACKET record: a command to an actor, or a report from it. */
#define ACTOR_MSG_MAX 65536

/* What one op did. ret < 0 with err == 0 and a message: the lab refused, not the kernel. */
struct outcome {
	long long ret;
	int err;
	int sig;
	const char *message;
	struct json_object *result;
};

static inline long long fail(struct outcome *o, long long ret)
{
	o->err = errno;
	return ret;
}

static inline long long refuse(struct outcome *o, const char *message)
{
	o->message = message;
	return -1;
}

typedef long long (*actor_op_fn)(struct json_object *req, struct outcome *o);

struct actor_op {
	const char *name;	/* the wire form: "op" of an "act" command */
	actor_op_fn run;
	bool ends_actor;	/* the actor exits with ret after reporting "end" */
};

/* NULL-terminated, in the protocol's order. */
extern const struct actor_op actor_ops[];
const struct actor_op *actor_op_find(const char *name);

/* The actor's state: one current file, one current mapping, a pipe, a ring. */
struct actor_self {
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
};

extern struct actor_self actor_self;

/* actor_main.c: the loop, run in a forked child of the agent or in daxlab-verbs. */
void __attribute__((noreturn)) actor_main(const char *name, int sock);
/* Report @sig when it arrives (as a "signal" record); SIGBUS/SIGSEGV are the fault guard's. */
int catch_signal(int sig);

/*
 * The fault guard: sigsetjmp(touch_env, 1), set touch_armed, touch the page; a
 * SIGBUS or SIGSEGV jumps back with the signal and fault_addr set.
 */
extern sigjmp_buf touch_env;
extern volatile sig_atomic_t touch_armed;
extern void *volatile fault_addr;

/* ops_mmap.c: the page indices of a request, checked against the mapping, in actor_pages. */
#define ACTOR_PAGES_MAX 4096
extern long actor_pages[ACTOR_PAGES_MAX];
int actor_get_pages(struct json_object *req, struct outcome *o, long *pages, int max);

/* The op families. */
long long op_open(struct json_object *req, struct outcome *o);		/* ops_file.c */
long long op_close(struct json_object *req, struct outcome *o);
long long op_ftruncate(struct json_object *req, struct outcome *o);
long long op_truncate(struct json_object *req, struct outcome *o);
long long op_fallocate(struct json_object *req, struct outcome *o);
long long op_write(struct json_object *req, struct outcome *o);
long long op_read(struct json_object *req, struct outcome *o);
long long op_lease(struct json_object *req, struct outcome *o);
long long op_mmap(struct json_object *req, struct outcome *o);		/* ops_mmap.c */
long long op_munmap(struct json_object *req, struct outcome *o);
long long op_touch(struct json_object *req, struct outcome *o);
long long op_vmsplice(struct json_object *req, struct outcome *o);	/* ops_pin.c */
long long op_drain(struct json_object *req, struct outcome *o);
long long op_io_uring_register(struct json_object *req, struct outcome *o);
long long op_io_uring_unregister(struct json_object *req, struct outcome *o);
long long op_odirect(struct json_object *req, struct outcome *o);
long long op_pattern_write(struct json_object *req, struct outcome *o);	/* ops_pattern.c */
long long op_pattern_check(struct json_object *req, struct outcome *o);
long long op_rdma_reg_mr(struct json_object *req, struct outcome *o);	/* ops_rdma.c */
long long op_rdma_dereg_mr(struct json_object *req, struct outcome *o);
long long op_sleep(struct json_object *req, struct outcome *o);		/* ops_actor.c */
long long op_exit(struct json_object *req, struct outcome *o);

#endif
