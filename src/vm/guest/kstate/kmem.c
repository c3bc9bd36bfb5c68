// SPDX-License-Identifier: MIT
/*
 * Kernel virtual memory through /proc/kcore.
 *
 * kcore describes each readable region with a PT_LOAD program header.  It
 * has one for the vmemmap of System RAM, but none for the vmemmap of
 * ZONE_DEVICE (pmem) memory, whose struct pages we need most.  Such an
 * address is translated by walking the kernel page tables from
 * init_top_pgt and read through the direct map (page_offset_base + pa),
 * which kcore covers for all of RAM, where those struct pages live.
 *
 * kcore never fails a read inside a segment: what the kernel cannot read
 * comes back as zeroes.  So zero is never proof of anything here.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define KCORE_PATH	"/proc/kcore"
#define KALLSYMS_PATH	"/proc/kallsyms"

/* A single read larger than this is a caller bug, not a struct. */
#define KMEM_MAX_READ	(1U << 20)

/*
 * x86-64 page table entries, arch/x86/include/asm/pgtable_types.h and
 * page_types.h (unchanged since 4-level paging; 5-level adds a level,
 * not a format): bit 0 present, bit 7 PSE (a 1G leaf in a PUD entry, a
 * 2M leaf in a PMD entry), physical address in bits 12..51
 * (__PHYSICAL_MASK_SHIFT 52).  Bit 63 (NX) and bits 52..62 (software,
 * protection keys) are flags.  For a huge leaf bit 12 is PAT, so the
 * leaf's own low bits are masked off as well.  AMD SME's encryption bit
 * would also need masking; TCG has no SME.
 */
#define PTE_PRESENT	(1ULL << 0)
#define PTE_PSE		(1ULL << 7)
#define PTE_ADDR_MASK	0x000ffffffffff000ULL
#define PT_ENTRIES	512

/*
 * Kernel variables read at start, arch/x86/kernel/head64.c (4.17+, with
 * CONFIG_DYNAMIC_MEMORY_LAYOUT): unsigned long page_offset_base and
 * vmemmap_base, unsigned int __pgtable_l5_enabled.  Global variables are
 * not in vmlinux BTF (only per-cpu ones), hence the fixed sizes.
 */
#define SYM_PAGE_OFFSET_BASE	"page_offset_base"
#define SYM_VMEMMAP_BASE	"vmemmap_base"
#define SYM_INIT_TOP_PGT	"init_top_pgt"
#define SYM_L5_ENABLED		"__pgtable_l5_enabled"

static inline int level_shift(int level)
{
	return 12 + 9 * (level - 1);
}

/* Canonical for the paging mode: bits above the top level sign-extend. */
static bool va_canonical(uint64_t va, int levels)
{
	int bits = level_shift(levels) + 9;	/* 48 or 57 */
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == va;
}

int kpt_walk(uint64_t top_pa, int levels, uint64_t va, kpt_read_fn read,
	     void *ctx, struct kpt_result *res)
{
	uint64_t table = top_pa, e = 0;
	int level, ret;

	if ((levels != 4 && levels != 5) || !va_canonical(va, levels))
		return -EINVAL;
	for (level = levels; level >= 1; level--) {
		int shift = level_shift(level);
		uint64_t idx = (va >> shift) & (PT_ENTRIES - 1);
		uint64_t size = 1ULL << shift;

		ret = read(ctx, table + idx * 8, &e);
		if (ret)
			return ret;
		if (!(e & PTE_PRESENT))
			return -EFAULT;
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PSE))) {
			res->leaf_size = size;
			res->leaf_level = level;
			res->pa = (e & PTE_ADDR_MASK & ~(size - 1)) |
				  (va & (size - 1));
			return 0;
		}
		if (e & PTE_PSE)	/* reserved in PML5/PML4 entries */
			return -EFAULT;
		table = e & PTE_ADDR_MASK;
	}
	return -EFAULT;
}

/* ------------------------------------------------------------ kcore */

struct kcore_seg *kmem_find_seg(struct kstate *ks, uint64_t va, size_t len)
{
	unsigned int i, n = ks->nr_seg;

	/* readers hit the same segment again and again */
	for (i = 0; i < n; i++) {
		struct kcore_seg *s = &ks->seg[(ks->last_seg + i) % n];

		if (va >= s->vaddr && va - s->vaddr < s->size &&
		    len <= s->size - (va - s->vaddr)) {
			ks->last_seg = s - ks->seg;
			return s;
		}
	}
	return NULL;
}

int kmem_seg_read(struct kstate *ks, const struct kcore_seg *s, uint64_t va,
		    void *buf, size_t len)
{
	off_t off = s->offset + (va - s->vaddr);
	ssize_t n;

	ks->stats.preads++;
	n = pread(ks->kcore_fd, buf, len, off);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		return kstate_fail(ks, -errno, "kcore read at %#" PRIx64 ": %s",
				   va, strerror(errno));
	return kstate_fail(ks, -EIO, "kcore short read at %#" PRIx64, va);
}

static int read_elf_header(struct kstate *ks, Elf64_Ehdr *eh)
{
	if (pread(ks->kcore_fd, eh, sizeof(*eh), 0) != sizeof(*eh))
		return kstate_fail(ks, -EIO, "kcore: cannot read ELF header");
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum == PN_XNUM)
		return kstate_fail(ks, -EINVAL, "kcore: not a 64-bit LE ELF core");
	return 0;
}

static int load_segments(struct kstate *ks)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	size_t sz;
	int i, ret;

	ret = read_elf_header(ks, &eh);
	if (ret)
		return ret;
	sz = (size_t)eh.e_phnum * sizeof(*ph);
	ph = malloc(sz);
	ks->seg = calloc(eh.e_phnum, sizeof(*ks->seg));
	if (!ph || !ks->seg) {
		free(ph);
		return kstate_fail(ks, -ENOMEM, "out of memory");
	}
	if (pread(ks->kcore_fd, ph, sz, eh.e_phoff) != (ssize_t)sz) {
		free(ph);
		return kstate_fail(ks, -EIO, "kcore: cannot read program headers");
	}
	for (i = 0; i < eh.e_phnum; i++) {
		struct kcore_seg *s = &ks->seg[ks->nr_seg];

		if (ph[i].p_type != PT_LOAD || !ph[i].p_filesz)
			continue;
		s->vaddr = ph[i].p_vaddr;
		s->size = ph[i].p_filesz;
		s->offset = ph[i].p_offset;
		s->paddr = ph[i].p_paddr;
		ks->nr_seg++;
	}
	free(ph);
	if (!ks->nr_seg)
		return kstate_fail(ks, -EINVAL, "kcore: no PT_LOAD segments");
	return 0;
}

/* ---------------------------------------------------------- kallsyms */

struct ksym_want {
	const char *name;
	uint64_t addr;
	bool found;
};

/* One pass over kallsyms; module symbols ("[mod]") are skipped. */
static int kallsyms_scan(const char *path, struct ksym_want *w, int n,
			 char *err, size_t errlen)
{
	char line[512], name[256], type;
	unsigned long long addr;
	bool nonzero = false;
	int i, left = n;
	FILE *f = fopen(path, "re");

	if (!f) {
		kstate_fmt(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (left && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 ||
		    strchr(line, '['))
			continue;
		nonzero |= addr != 0;
		for (i = 0; i < n; i++) {
			if (w[i].found || strcmp(w[i].name, name))
				continue;
			w[i].addr = addr;
			w[i].found = true;
			left--;
		}
	}
	fclose(f);
	if (!nonzero) {
		kstate_fmt(err, errlen,
			   "%s shows no addresses (need root; kptr_restrict)",
			   path);
		return -EPERM;
	}
	return 0;
}

int kstate_symbol(struct kstate *ks, const char *name, uint64_t *addr)
{
	struct ksym_want w = { .name = name };
	int ret;

	ret = kallsyms_scan(ks->kallsyms_path, &w, 1, ks->err, sizeof(ks->err));
	if (ret)
		return ret;
	if (!w.found)
		return kstate_fail(ks, -ENOENT, "no symbol %s in %s", name,
				   ks->kallsyms_path);
	*addr = w.addr;
	return 0;
}

/* ------------------------------------------------------------ layout */

static int read_var(struct kstate *ks, uint64_t va, void *val, size_t len,
		    const char *name)
{
	struct kcore_seg *s = kmem_find_seg(ks, va, len);

	if (!s)
		return kstate_fail(ks, -EFAULT, "kcore has no segment for %s",
				   name);
	return kmem_seg_read(ks, s, va, val, len);
}

/* The direct map must be what kcore's RAM segments say it is. */
static int check_direct_map(struct kstate *ks)
{
	unsigned int i;

	for (i = 0; i < ks->nr_seg; i++) {
		const struct kcore_seg *s = &ks->seg[i];

		if (s->paddr != ~0ULL &&
		    s->vaddr - s->paddr == ks->mm.page_offset_base)
			return 0;
	}
	return kstate_fail(ks, -EINVAL,
			   "page_offset_base %#" PRIx64
			   " matches no kcore RAM segment",
			   ks->mm.page_offset_base);
}

/* init_top_pgt's physical address, from kcore's kernel text segment. */
static int find_top_pa(struct kstate *ks)
{
	struct kcore_seg *s = kmem_find_seg(ks, ks->mm.init_top_pgt, 4096);

	if (!s || s->paddr == ~0ULL)
		return kstate_fail(ks, -EINVAL,
				   "kcore gives no physical address for init_top_pgt");
	ks->top_pa = s->paddr + (ks->mm.init_top_pgt - s->vaddr);
	return 0;
}

static int load_memmap(struct kstate *ks)
{
	struct ksym_want w[] = {
		{ .name = SYM_PAGE_OFFSET_BASE }, { .name = SYM_VMEMMAP_BASE },
		{ .name = SYM_INIT_TOP_PGT }, { .name = SYM_L5_ENABLED },
		/* for kstate_task_by_pid(), in this scan: each scan of kallsyms is ~0.3 s under TCG */
		{ .name = SYM_INIT_PID_NS },
	};
	uint32_t l5 = 0;
	int i, ret;

	ret = kallsyms_scan(ks->kallsyms_path, w, sizeof(w) / sizeof(w[0]), ks->err, sizeof(ks->err));
	if (ret)
		return ret;
	/* __pgtable_l5_enabled is absent without CONFIG_X86_5LEVEL */
	for (i = 0; i < 3; i++)
		if (!w[i].found)
			return kstate_fail(ks, -ENOENT, "no symbol %s in %s",
					   w[i].name, ks->kallsyms_path);
	ret = read_var(ks, w[0].addr, &ks->mm.page_offset_base, 8, w[0].name);
	if (!ret)
		ret = read_var(ks, w[1].addr, &ks->mm.vmemmap_base, 8, w[1].name);
	if (!ret && w[3].found)
		ret = read_var(ks, w[3].addr, &l5, 4, w[3].name);
	if (ret)
		return ret;
	ks->mm.init_top_pgt = w[2].addr;
	if (w[4].found)
		ks->init_pid_ns = w[4].addr;
	ks->mm.levels = l5 ? 5 : 4;
	ret = check_direct_map(ks);
	if (!ret)
		ret = find_top_pa(ks);
	return ret;
}

int kmem_open(struct kstate *ks, const struct kstate_opts *opts)
{
	const char *kcore = opts->kcore_path ? opts->kcore_path : KCORE_PATH;
	const char *syms = opts->kallsyms_path ? opts->kallsyms_path :
						 KALLSYMS_PATH;
	int ret;

	snprintf(ks->kallsyms_path, sizeof(ks->kallsyms_path), "%s", syms);
	snprintf(ks->modules_path, sizeof(ks->modules_path), "%s",
		 opts->modules_path ? opts->modules_path : "/proc/modules");
	ks->kcore_fd = open(kcore, O_RDONLY | O_CLOEXEC);
	if (ks->kcore_fd < 0)
		return kstate_fail(ks, -errno, "%s: %s%s", kcore, strerror(errno),
				   errno == ENOENT ? " (CONFIG_PROC_KCORE?)" : "");
	ret = load_segments(ks);
	if (!ret)
		ret = load_memmap(ks);
	if (ret)
		return ret;
	ks->have_mem = true;
	return 0;
}

void kmem_close(struct kstate *ks)
{
	if (ks->kcore_fd >= 0)
		close(ks->kcore_fd);
	ks->kcore_fd = -1;
	free(ks->seg);
	ks->seg = NULL;
	free(ks->blocks);
	ks->blocks = NULL;
	free(ks->scratch);
	ks->scratch = NULL;
	ks->caching = false;
	ks->nr_seg = 0;
	ks->have_mem = false;
}

void kstate_get_stats(const struct kstate *ks, struct kstate_stats *st)
{
	*st = ks->stats;
}

const struct kstate_memmap *kstate_memmap(const struct kstate *ks)
{
	return &ks->mm;
}

bool kstate_kptr_ok(const struct kstate *ks, uint64_t va, unsigned int align)
{
	/* lowest kernel address: 4-level 0xffff8000..., 5-level 0xff00... */
	uint64_t low = ks->mm.levels == 4 ? 0xffff800000000000ULL :
					   0xff00000000000000ULL;

	if (va < low || va > ~0ULL - 4096)
		return false;
	return !align || !(va & (align - 1));
}

/* ------------------------------------------------------ translation */

/* Physical memory through the direct map. */
int kmem_phys_read(struct kstate *ks, uint64_t pa, void *buf, size_t len)
{
	uint64_t va = ks->mm.page_offset_base + pa;
	struct kcore_seg *s = kmem_find_seg(ks, va, len);

	if (!s)
		return kstate_fail(ks, -EFAULT,
				   "physical %#" PRIx64 " is not in kcore's RAM",
				   pa);
	return kmem_seg_read(ks, s, va, buf, len);
}

static int pt_read(void *ctx, uint64_t pa, uint64_t *entry)
{
	return kmem_phys_read(ctx, pa, entry, sizeof(*entry));
}

void kstate_flush_cache(struct kstate *ks)
{
	memset(ks->tlb, 0, sizeof(ks->tlb));
	ks->tlb_next = 0;
	memset(ks->pgmap, 0, sizeof(ks->pgmap));
	ks->pgmap_next = 0;
	ks->block_gen++;
}

static bool tlb_lookup(struct kstate *ks, uint64_t va, uint64_t *pa)
{
	unsigned int i;

	for (i = 0; i < KSTATE_TLB_SIZE; i++) {
		const struct ktlb_entry *t = &ks->tlb[i];

		if (t->size && va - t->va < t->size) {
			*pa = t->pa + (va - t->va);
			return true;
		}
	}
	return false;
}

int kstate_translate(struct kstate *ks, uint64_t va, uint64_t *pa)
{
	struct kpt_result res;
	struct ktlb_entry *t;
	int ret;

	if (tlb_lookup(ks, va, pa)) {
		ks->stats.tlb_hits++;
		return 0;
	}
	if (!ks->have_mem)
		return kstate_fail(ks, -ENOTSUP, "no page tables to walk");
	ks->stats.walks++;
	ret = kpt_walk(ks->top_pa, ks->mm.levels, va, pt_read, ks, &res);
	if (ret == -EFAULT || ret == -EINVAL)
		return kstate_fail(ks, ret, "%#" PRIx64 " is not mapped", va);
	if (ret)
		return ret;
	t = &ks->tlb[ks->tlb_next++ % KSTATE_TLB_SIZE];
	t->size = res.leaf_size;
	t->va = va & ~(res.leaf_size - 1);
	t->pa = res.pa & ~(res.leaf_size - 1);
	*pa = res.pa;
	return 0;
}

/* Read a range that kcore does not cover, page by page. */
static int walk_read(struct kstate *ks, uint64_t va, uint8_t *buf, size_t len)
{
	while (len) {
		size_t chunk = 4096 - (va & 4095);
		uint64_t pa;
		int ret;

		if (chunk > len)
			chunk = len;
		ret = kstate_translate(ks, va, &pa);
		if (!ret)
			ret = kmem_phys_read(ks, pa, buf, chunk);
		if (ret)
			return ret;
		va += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int kstate_read(struct kstate *ks, uint64_t va, void *buf, size_t len)
{
	struct kcore_seg *s;

	ks->stats.reads++;
	if (!ks->have_mem)
		return kstate_fail(ks, -ENOTSUP, "opened without memory access");
	if (len > KMEM_MAX_READ || va + len < va)
		return kstate_fail(ks, -EINVAL, "bad read %#" PRIx64 "+%zu",
				   va, len);
	if (!kstate_kptr_ok(ks, va, 0))
		return kstate_fail(ks, -EFAULT,
				   "%#" PRIx64 " is not a kernel address", va);
	/* a block the cache cannot read: the uncached read says why */
	if (ks->caching && !kcache_read(ks, va, buf, len))
		return 0;
	s = kmem_find_seg(ks, va, len);
	if (s)
		return kmem_seg_read(ks, s, va, buf, len);
	return walk_read(ks, va, buf, len);
}

int kstate_read_u64(struct kstate *ks, uint64_t va, uint64_t *val)
{
	return kstate_read(ks, va, val, sizeof(*val));
}
