// SPDX-License-Identifier: MIT
/*
 * Many pieces of kernel memory in one system call: a small BPF program copies
 * a list of (address, length) pieces with bpf_probe_read_kernel()
 * (copy_from_kernel_nofault, the same copy /proc/kcore does for the vmemmap and
 * kernel text) into a map that we have mmapped. The block cache (kcache.c) uses
 * it to read at the start of a sample what the previous sample read, line by
 * line: one bpf(BPF_PROG_TEST_RUN) instead of a pread of /proc/kcore per block.
 *
 * The program is a raw tracepoint program that is never attached, only run
 * with BPF_PROG_TEST_RUN (5.10+). It is written out as instructions here, so
 * nothing needs a BPF compiler; it does not read the kernel's structures
 * itself (it copies what it is told to), so it needs no CO-RE. Its results
 * are checked against kcore when it is set up (kgather_open).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "internal.h"

/* The request: shared with the program through the mmapped "req" map. */
struct kgather_req {
	uint64_t n;
	struct kgather_piece piece[KGATHER_PIECES];
	int64_t ret[KGATHER_PIECES];	/* the program's: 0 or -errno per piece */
};

#define DATA_SIZE	((size_t)KGATHER_MAX * KSTATE_BLOCK)
#define REQ_PIECE_OFF	8
#define REQ_RET_OFF	(8 + 16 * KGATHER_PIECES)

/* The few instruction shapes the program needs (include/linux/filter.h). */
#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV64_IMM(d, i)		INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV64_REG(d, s)		INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ALU64_IMM(op, d, i)	INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU64_REG(op, d, s)	INSN(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define LDX_DW(d, s, o)		INSN(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define LDX_W(d, s, o)		INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define STX_DW(d, s, o)		INSN(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define ST_W(d, o, i)		INSN(BPF_ST | BPF_MEM | BPF_W, d, 0, o, i)
#define JMP_IMM(op, d, i, o)	INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define JMP_REG(op, d, s, o)	INSN(BPF_JMP | (op) | BPF_X, d, s, o, 0)
#define JA(o)			INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(f)			INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()			INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* a map's fd as a 64-bit immediate: two instructions */
#define LD_MAP_FD(d, fd)	INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)

/*
 * r7 = &req, r8 = &data, r6 = req->n, r9 = i:
 * for (i = 0; i < n && i < KGATHER_PIECES; i++) {
 *	p = &req->piece[i];
 *	if (p->len > 4096 || p->off > DATA_SIZE - 4096)
 *		req->ret[i] = -EINVAL;
 *	else
 *		req->ret[i] = bpf_probe_read_kernel(data + p->off, p->len, p->src);
 * }
 * The bounds are checked here for the verifier, which then knows the copy
 * stays inside the data map.
 */
static int load_program(int req_fd, int data_fd, char *log, size_t loglen)
{
	/* jump offsets count from the next instruction; "-> n" names the target */
	const struct bpf_insn prog[] = {
		/* 0 */ ST_W(BPF_REG_10, -4, 0),			/* key 0 */
		/* 1 */ LD_MAP_FD(BPF_REG_1, req_fd),
		/* 3 */ MOV64_REG(BPF_REG_2, BPF_REG_10),
		/* 4 */ ALU64_IMM(BPF_ADD, BPF_REG_2, -4),
		/* 5 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 6 */ JMP_IMM(BPF_JEQ, BPF_REG_0, 0, 29),		/* -> 36 */
		/* 7 */ MOV64_REG(BPF_REG_7, BPF_REG_0),
		/* 8 */ LD_MAP_FD(BPF_REG_1, data_fd),
		/* 10 */ MOV64_REG(BPF_REG_2, BPF_REG_10),
		/* 11 */ ALU64_IMM(BPF_ADD, BPF_REG_2, -4),
		/* 12 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 13 */ JMP_IMM(BPF_JEQ, BPF_REG_0, 0, 22),		/* -> 36 */
		/* 14 */ MOV64_REG(BPF_REG_8, BPF_REG_0),
		/* 15 */ LDX_DW(BPF_REG_6, BPF_REG_7, 0),
		/* 16 */ MOV64_IMM(BPF_REG_9, 0),
		/* 17 */ JMP_REG(BPF_JGE, BPF_REG_9, BPF_REG_6, 18),	/* -> 36 */
		/* 18 */ JMP_IMM(BPF_JGE, BPF_REG_9, KGATHER_PIECES, 17),	/* -> 36 */
		/* 19 */ MOV64_REG(BPF_REG_4, BPF_REG_9),
		/* 20 */ ALU64_IMM(BPF_LSH, BPF_REG_4, 4),
		/* 21 */ ALU64_REG(BPF_ADD, BPF_REG_4, BPF_REG_7),	/* &piece[i] - 8 */
		/* 22 */ LDX_DW(BPF_REG_3, BPF_REG_4, REQ_PIECE_OFF),	/* src */
		/* 23 */ LDX_W(BPF_REG_1, BPF_REG_4, REQ_PIECE_OFF + 8),	/* off */
		/* 24 */ LDX_W(BPF_REG_2, BPF_REG_4, REQ_PIECE_OFF + 12),	/* len */
		/* 25 */ MOV64_IMM(BPF_REG_0, -EINVAL),
		/* 26 */ JMP_IMM(BPF_JGT, BPF_REG_2, KSTATE_BLOCK, 3),	/* -> 30 */
		/* 27 */ JMP_IMM(BPF_JGT, BPF_REG_1, DATA_SIZE - KSTATE_BLOCK, 2), /* -> 30 */
		/* 28 */ ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_8),	/* dst */
		/* 29 */ CALL(BPF_FUNC_probe_read_kernel),
		/* 30 */ MOV64_REG(BPF_REG_1, BPF_REG_9),
		/* 31 */ ALU64_IMM(BPF_LSH, BPF_REG_1, 3),
		/* 32 */ ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_7),
		/* 33 */ STX_DW(BPF_REG_1, BPF_REG_0, REQ_RET_OFF),
		/* 34 */ ALU64_IMM(BPF_ADD, BPF_REG_9, 1),
		/* 35 */ JA(-19),					/* -> 17 */
		/* 36 */ MOV64_IMM(BPF_REG_0, 0),
		/* 37 */ EXIT(),
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = loglen);

	/* libbpf loads without a log first, and again with one if the verifier refuses */
	log[0] = '\0';
	return bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "daxlab_gather", "Dual MIT/GPL",
			     prog, sizeof(prog) / sizeof(prog[0]), &opts);
}

static void *map_mmapped(const char *name, size_t value_size, int *fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	size_t len = (value_size + 4095) & ~(size_t)4095;
	void *p;

	*fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4, value_size, 1, &opts);
	if (*fd < 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void gather_close(struct kstate *ks)
{
	if (ks->gather.req)
		munmap(ks->gather.req, (sizeof(struct kgather_req) + 4095) & ~(size_t)4095);
	if (ks->gather.data)
		munmap(ks->gather.data, DATA_SIZE);
	for (int *fd = ks->gather.fds; fd < ks->gather.fds + 3; fd++) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	ks->gather.req = NULL;
	ks->gather.data = NULL;
	ks->gather.ready = false;
}

int kgather_run(struct kstate *ks, const struct kgather_piece *p, unsigned int n)
{
	struct kgather_req *req = ks->gather.req;
	LIBBPF_OPTS(bpf_test_run_opts, topts);

	if (!ks->gather.ready || n > KGATHER_PIECES)
		return -ENOTSUP;
	req->n = n;
	memcpy(req->piece, p, n * sizeof(*p));
	/* a piece the program did not reach reads as failed */
	for (unsigned int i = 0; i < n; i++)
		req->ret[i] = -EINTR;
	ks->stats.gathers++;
	ks->stats.gathered_pieces += n;
	for (unsigned int i = 0; i < n; i++)
		ks->stats.gathered_bytes += p[i].len;
	if (bpf_prog_test_run_opts(ks->gather.fds[2], &topts))
		return kstate_fail(ks, -errno, "gather: BPF_PROG_TEST_RUN: %s", strerror(errno));
	return 0;
}

int kgather_ret(const struct kstate *ks, unsigned int i)
{
	return (int)ks->gather.req->ret[i];
}

const uint8_t *kgather_data(const struct kstate *ks)
{
	return ks->gather.data;
}

/*
 * The check of the set-up: a block of kernel text (it does not change) read both
 * ways must be equal, and a non-kernel address must fail rather than read.
 */
static int gather_check(struct kstate *ks)
{
	uint64_t top = ks->mm.init_top_pgt & ~(uint64_t)(KSTATE_BLOCK - 1);
	/* the kernel half of the top-level page table: the same in every process, stable */
	const struct kgather_piece p[] = {
		{ top + 2048, 0, 2048 },
		{ 0x1000, KSTATE_BLOCK, 64 },
		{ top, 2 * KSTATE_BLOCK, KSTATE_BLOCK + 1 },
	};
	struct kcore_seg *s = kmem_find_seg(ks, top, KSTATE_BLOCK);
	uint8_t *kcore = malloc(KSTATE_BLOCK);
	int ret;

	if (!kcore)
		return kstate_fail(ks, -ENOMEM, "out of memory");
	ret = kgather_run(ks, p, 3);
	if (!ret && kgather_ret(ks, 0))
		ret = kstate_fail(ks, -EIO, "gather: the program could not read init_top_pgt (%d)", kgather_ret(ks, 0));
	if (!ret && !kgather_ret(ks, 1))
		ret = kstate_fail(ks, -EIO, "gather: the program read a user address");
	if (!ret && kgather_ret(ks, 2) != -EINVAL)
		ret = kstate_fail(ks, -EIO, "gather: the program took a piece longer than a block");
	if (!ret)
		ret = s ? kmem_seg_read(ks, s, top, kcore, KSTATE_BLOCK) :
			  kstate_fail(ks, -EFAULT, "gather: kcore has no segment for init_top_pgt");
	if (!ret && memcmp(kcore + 2048, kgather_data(ks), 2048))
		ret = kstate_fail(ks, -EIO, "gather: the program and /proc/kcore read init_top_pgt differently");
	free(kcore);
	return ret;
}

int kstate_gather_open(struct kstate *ks)
{
	static char log[65536];
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int ret;

	if (ks->gather.ready)
		return 0;
	if (ks->gather.tried)
		return kstate_fail(ks, -ENOTSUP, "%s", ks->gather.why);
	ks->gather.tried = true;
	if (!ks->have_mem) {
		ret = kstate_fail(ks, -ENOTSUP, "no kernel memory access");
		goto out;
	}
	/* before 5.11, map memory counts against RLIMIT_MEMLOCK */
	setrlimit(RLIMIT_MEMLOCK, &unlimited);
	ks->gather.req = map_mmapped("daxlab_greq", sizeof(struct kgather_req), &ks->gather.fds[0]);
	if (!ks->gather.req) {
		ret = kstate_fail(ks, -errno, "gather: request map: %s%s", strerror(errno),
				  errno == ENOSYS ? " (CONFIG_BPF_SYSCALL?)" : "");
		goto out;
	}
	ks->gather.data = map_mmapped("daxlab_gdata", DATA_SIZE, &ks->gather.fds[1]);
	if (!ks->gather.data) {
		ret = kstate_fail(ks, -errno, "gather: data map: %s", strerror(errno));
		goto out;
	}
	ks->gather.fds[2] = load_program(ks->gather.fds[0], ks->gather.fds[1], log, sizeof(log));
	if (ks->gather.fds[2] < 0) {
		char *last = strrchr(log, '\n');

		/* the verifier's last words say why */
		while (last && last > log && !last[1]) {
			*last = '\0';
			last = strrchr(log, '\n');
		}
		ret = kstate_fail(ks, -errno, "gather: loading the BPF program: %s%s%s", strerror(errno),
				  log[0] ? ": " : "", last ? last + 1 : log);
		ks->gather.fds[2] = -1;
		goto out;
	}
	ks->gather.ready = true;
	ret = gather_check(ks);
out:
	if (ret) {
		snprintf(ks->gather.why, sizeof(ks->gather.why), "%s", ks->err);
		gather_close(ks);
	}
	return ret;
}

void kstate_gather_close(struct kstate *ks)
{
	gather_close(ks);
	ks->gather.tried = false;
}

const char *kstate_gather_status(const struct kstate *ks)
{
	if (ks->gather.ready)
		return NULL;
	return ks->gather.tried ? ks->gather.why : "not set up";
}
