// SPDX-License-Identifier: MIT
/*
 * The idle model: the refcount of an unreferenced page of each kind on this kernel,
 * and whether mappings add to it. Anonymous and page-cache pages follow the rule
 * every era shares; fsdax pages changed (v6.15), so they are calibrated here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent.h"
#include "observer_internal.h"

struct baseline fsdax_base, anon_base = { 1, 0, 0, 1, 0, 0, 0, 0, "" },
		pagecache_base = { 1, 0, 1, 1, 0, 0, 0, 0, "" };

/*
 * What is an idle fsdax page's refcount here, and do mappings count? Map a
 * fresh page of a probe file twice and read its struct page after each fault:
 * 6.1 shows 1 both times (DAX ptes are special, no rmap), v6.15+ shows the
 * mapping references on top of 0.
 */
void idle_calibrate_fsdax(void)
{
	char path[] = LAB_MOUNTPOINT "/.daxlab-idle-probe";
	struct kpage pg;
	uint64_t pfn;
	volatile char *a = MAP_FAILED, *b = MAP_FAILED;
	int fd;

	fsdax_base.known = 0;
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4096)) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "probe file: %s", strerror(errno));
		goto out;
	}
	a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "mmap: %s", strerror(errno));
		goto out;
	}
	a[0] = 1;
	if (pagemap_pfn(getpid(), (uintptr_t)a, &pfn) || kstate_page_read(obs_ks, pfn, &pg)) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "reading the probe page failed");
		goto out;
	}
	if (!pg.zone_device) {
		snprintf(fsdax_base.error, sizeof(fsdax_base.error), "probe page pfn 0x%llx is not ZONE_DEVICE: mount not DAX?",
			 (unsigned long long)pfn);
		goto out;
	}
	fsdax_base.r1 = page_ref(&pg);
	fsdax_base.m1 = pg.mapcount;
	(void)b[0];
	if (kstate_page_read(obs_ks, pfn, &pg))
		goto out;
	fsdax_base.r2 = page_ref(&pg);
	fsdax_base.m2 = pg.mapcount;
	fsdax_base.mappings_hold_refs = fsdax_base.m2 > fsdax_base.m1 &&
					fsdax_base.r2 - fsdax_base.r1 == fsdax_base.m2 - fsdax_base.m1;
	fsdax_base.idle = fsdax_base.r1 - (fsdax_base.mappings_hold_refs ? fsdax_base.m1 : 0);
	fsdax_base.known = 1;
	fsdax_base.measured = 1;
out:
	if (a != MAP_FAILED)
		munmap((void *)a, 4096);
	if (b != MAP_FAILED)
		munmap((void *)b, 4096);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

struct json_object *baseline_json(const struct baseline *b)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "known", json_object_new_boolean(b->known));
	if (!b->known) {
		json_object_object_add(o, "error", json_object_new_string(b->error));
		return o;
	}
	json_object_object_add(o, "idle", json_object_new_int(b->idle));
	json_object_object_add(o, "mappingsHoldRefs", json_object_new_boolean(b->mappings_hold_refs));
	json_object_object_add(o, "measured", json_object_new_boolean(b->measured));
	if (b->measured) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "refOneMapping", json_object_new_int(b->r1));
		json_object_object_add(e, "mapcountOneMapping", json_object_new_int(b->m1));
		json_object_object_add(e, "refTwoMappings", json_object_new_int(b->r2));
		json_object_object_add(e, "mapcountTwoMappings", json_object_new_int(b->m2));
		json_object_object_add(o, "evidence", e);
	}
	return o;
}

const struct baseline *baseline_of(const struct kpage *pg)
{
	if (pg->zone_device)
		return &fsdax_base;
	return pg->mapping_kind == KPAGE_MAP_ANON ? &anon_base : &pagecache_base;
}
