// SPDX-License-Identifier: MIT
/*
 * RDMA memory registration: rdma_reg_mr, rdma_dereg_mr. Built twice: with
 * DAXLAB_VERBS for daxlab-verbs (libibverbs, dynamically linked so that it can load
 * its provider), and without for the static agent, whose actors refuse these ops.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

#ifdef DAXLAB_VERBS
#include <infiniband/verbs.h>

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

long long op_rdma_reg_mr(struct json_object *req, struct outcome *o)
{
	int n = actor_get_pages(req, o, actor_pages, ACTOR_PAGES_MAX), done = 0;
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
		mr = ibv_reg_mr(verbs.pd, actor_self.map + actor_pages[done] * actor_self.page_size, actor_self.page_size, access);
		if (!mr) {
			o->err = errno ? errno : EIO;
			jset(o->result, "stage", json_object_new_string("ibv_reg_mr"));
			jset(o->result, "registered", json_object_new_int(done));
			jset(o->result, "page", json_object_new_int64(actor_pages[done]));
			return -1;
		}
		verbs.mr[verbs.nr_mr++] = mr;
	}
	jset(o->result, "registered", json_object_new_int(done));
	jset(o->result, "mrs", json_object_new_int(verbs.nr_mr));
	return done;
}

long long op_rdma_dereg_mr(struct json_object *req, struct outcome *o)
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
long long op_rdma_reg_mr(struct json_object *req, struct outcome *o)
{
	(void)req;
	return refuse(o, "rdma ops need an actor started with program \"verbs\"");
}

long long op_rdma_dereg_mr(struct json_object *req, struct outcome *o)
{
	(void)req;
	return refuse(o, "rdma ops need an actor started with program \"verbs\"");
}
#endif
