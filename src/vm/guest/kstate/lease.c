// SPDX-License-Identifier: MIT
/*
 * Leases on an inode: inode->i_flctx->flc_lease, a list of struct file_lock
 * linked by fl_list (v6.9+: struct file_lease around a struct file_lock_core,
 * linked by c.flc_list), and a breaking lease's deadline fl_break_time in
 * jiffies (fs/locks.c: lease_break_time * HZ from the start of the break).
 * HZ is not in BTF: klease_open() counts jiffies across a known interval and
 * rounds to the nearest CONFIG_HZ choice.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Leases of one inode are few; a longer list is a torn read or a loop. */
#define KLEASE_MAX_WALK	64
#define KLEASE_HZ_PROBE_US	(200 * 1000)

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double distance(double a, double b)
{
	return a > b ? a - b : b - a;
}

static int measure_hz(struct kstate *ks, struct klease *kl)
{
	static const int hz_choices[] = { 100, 250, 300, 1000 };
	uint64_t j0, j1;
	double t0, rate;
	int best = 0, ret;
	unsigned int i;

	ret = kstate_symbol(ks, "jiffies", &kl->jiffies);
	if (ret)
		return ret;
	ret = kstate_read_u64(ks, kl->jiffies, &j0);
	if (ret)
		return ret;
	t0 = mono_seconds();
	usleep(KLEASE_HZ_PROBE_US);
	ret = kstate_read_u64(ks, kl->jiffies, &j1);
	if (ret)
		return ret;
	rate = (j1 - j0) / (mono_seconds() - t0);
	for (i = 1; i < sizeof(hz_choices) / sizeof(hz_choices[0]); i++)
		if (distance(rate, hz_choices[i]) < distance(rate, hz_choices[best]))
			best = i;
	kl->hz = hz_choices[best];
	return 0;
}

int klease_open(struct kstate *ks, struct klease *kl)
{
	const struct btf *btf = kstate_btf(ks);

	memset(kl, 0, sizeof(*kl));
	if (kbtf_member(btf, "inode.i_flctx", &kl->flctx) ||
	    kbtf_member(btf, "file_lock_context.flc_lease", &kl->flc_lease))
		return kstate_fail(ks, -ENOENT, "no inode.i_flctx / file_lock_context.flc_lease in BTF");
	kl->have_list = true;
	if (kbtf_member(btf, "file_lock.fl_list", &kl->link) ||
	    kbtf_member(btf, "file_lock.fl_pid", &kl->pid) ||
	    kbtf_member(btf, "file_lock.fl_break_time", &kl->break_time)) {
		if (kbtf_member(btf, "file_lease.c.flc_list", &kl->link) ||
		    kbtf_member(btf, "file_lease.c.flc_pid", &kl->pid) ||
		    kbtf_member(btf, "file_lease.fl_break_time", &kl->break_time))
			return 0;
	}
	if (measure_hz(ks, kl))
		return 0;
	kl->have_break = true;
	return 0;
}

int klease_inode_has_lease(struct kstate *ks, const struct klease *kl,
			   uint64_t inode)
{
	uint64_t ctx, next;
	int ret;

	if (!kl->have_list)
		return kstate_fail(ks, -ENOENT, "lease lists not resolved");
	ret = kstate_read_u64(ks, inode + kl->flctx.off, &ctx);
	if (ret)
		return ret;
	if (!ctx)
		return 0;
	ret = kstate_read_u64(ks, ctx + kl->flc_lease.off, &next);
	if (ret)
		return ret;
	return next != ctx + kl->flc_lease.off;
}

int klease_break_left_ms(struct kstate *ks, const struct klease *kl,
			 uint64_t inode, int pid, double *ms)
{
	uint64_t ctx, head, pos, jiffies, deadline;
	uint32_t fl_pid;
	int guard = 0, ret;

	if (!kl->have_break)
		return kstate_fail(ks, -ENOENT, "lease deadlines not resolved");
	ret = kstate_read_u64(ks, inode + kl->flctx.off, &ctx);
	if (ret)
		return ret;
	if (!ctx)
		return -ENOENT;
	head = ctx + kl->flc_lease.off;
	ret = kstate_read_u64(ks, head, &pos);
	if (!ret)
		ret = kstate_read_u64(ks, kl->jiffies, &jiffies);
	if (ret)
		return ret;
	while (pos != head && guard++ < KLEASE_MAX_WALK) {
		uint64_t lease = pos - kl->link.off;

		ret = kstate_read(ks, lease + kl->pid.off, &fl_pid, sizeof(fl_pid));
		if (!ret)
			ret = kstate_read_u64(ks, lease + kl->break_time.off, &deadline);
		if (ret)
			return ret;
		if ((int)fl_pid == pid && deadline) {
			*ms = (int64_t)(deadline - jiffies) * 1000.0 / kl->hz;
			return 0;
		}
		ret = kstate_read_u64(ks, pos, &pos);
		if (ret)
			return ret;
	}
	return -ENOENT;
}
