// SPDX-License-Identifier: MIT
/*
 * The op table: what the agent accepts for "act" and what an actor runs. An actor
 * refuses what its program lacks (rdma ops outside daxlab-verbs).
 */
#include <string.h>

#include "ops.h"

const struct actor_op actor_ops[] = {
	{ .name = "open", .run = op_open },
	{ .name = "close", .run = op_close },
	{ .name = "mmap", .run = op_mmap },
	{ .name = "munmap", .run = op_munmap },
	{ .name = "touch", .run = op_touch },
	{ .name = "vmsplice", .run = op_vmsplice },
	{ .name = "drain", .run = op_drain },
	{ .name = "io_uring_register", .run = op_io_uring_register },
	{ .name = "io_uring_unregister", .run = op_io_uring_unregister },
	{ .name = "odirect", .run = op_odirect },
	{ .name = "ftruncate", .run = op_ftruncate },
	{ .name = "truncate", .run = op_truncate },
	{ .name = "fallocate", .run = op_fallocate },
	{ .name = "write", .run = op_write },
	{ .name = "read", .run = op_read },
	{ .name = "lease", .run = op_lease },
	{ .name = "sleep", .run = op_sleep },
	{ .name = "exit", .run = op_exit, .ends_actor = true },
	{ .name = "pattern_write", .run = op_pattern_write },
	{ .name = "pattern_check", .run = op_pattern_check },
	{ .name = "rdma_reg_mr", .run = op_rdma_reg_mr },
	{ .name = "rdma_dereg_mr", .run = op_rdma_dereg_mr },
	{ .name = NULL },
};

const struct actor_op *actor_op_find(const char *name)
{
	for (const struct actor_op *op = actor_ops; op->name; op++)
		if (!strcmp(op->name, name))
			return op;
	return NULL;
}
