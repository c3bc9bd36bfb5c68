// SPDX-License-Identifier: MIT
/*
 * The idle model: the refcount of an unreferenced page of each kind on this kernel,
 * and whether mappings add to it. Anonymous and page-cache pages follow the rule
 * every era shares. ZONE_DEVICE pages changed (v6.15) and not alike: fsdax pages
 * became 0-based while device-dax (MEMORY_DEVICE_GENERIC) pages stayed 1-based
 * (mm/mm_init.c __init_zone_device_page(), mm/memremap.c free_zone_device_folio()),
 * so each pgmap type is calibrated here on its own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent.h"
#include "observer_internal.h"

struct baseline fsdax_base, devdax_base, anon_base = { .known = 1, .idle = 0, .mappings_hold_refs = 1 },
		pagecache_base = { .known = 1, .idle = 1, .mappings_hold_refs = 1 };

/*
 * Map one page of a probe twice (@a, then @b, both mapping the same page) and
 * read its folio after each fault: the second mapping's share of refcount and
 * mapcount says whether mappings hold references; the idle refcount is the
 * first reading less what one mapping holds.
 */
static void measure(struct baseline *base, enum kpage_dev_kind kind, volatile char *a, volatile char *b)
{
	struct kpage pg;
	uint64_t pfn;

	(void)a[0];
	if (pagemap_pfn(getpid(), (uintptr_t)a, &pfn) || kstate_page_read(obs_ks, pfn, &pg)) {
		snprintf(base->error, sizeof(base->error), "reading the probe page failed");
		return;
	}
	if (!pg.zone_device || pg.dev_kind != kind) {
		snprintf(base->error, sizeof(base->error), "probe page pfn 0x%llx is not %s",
			 (unsigned long long)pfn, kind == KPAGE_DEV_FS_DAX ? "fsdax ZONE_DEVICE memory: mount not DAX?" :
									   "device-dax ZONE_DEVICE memory");
		return;
	}
	base->pfn = pfn;
	base->r1 = page_ref(&pg);
	base->m1 = kpage_folio_mapcount(&pg);
	(void)b[0];
	if (kstate_page_read(obs_ks, pfn, &pg)) {
		snprintf(base->error, sizeof(base->error), "reading the probe page failed: %s", kstate_errmsg(obs_ks));
		return;
	}
	base->r2 = page_ref(&pg);
	base->m2 = kpage_folio_mapcount(&pg);
	base->mappings_hold_refs = base->m2 > base->m1 && base->r2 - base->r1 == base->m2 - base->m1;
	base->idle = base->r1 - (base->mappings_hold_refs ? base->m1 : 0);
	base->known = 1;
	base->measured = 1;
}

/*
 * What is an idle fsdax page's refcount here, and do mappings count? A fresh
 * page of a probe file on the DAX mount: 6.1 and 6.12 show 1 both times (DAX
 * ptes are special, no rmap), v6.15+ the mappings' references on top of 0.
 */
void idle_calibrate_fsdax(void)
{
	char path[] = LAB_MOUNTPOINT "/.daxlab-idle-probe";
	volatile char *a = MAP_FAILED, *b = MAP_FAILED;
	int fd;

	memset(&fsdax_base, 0, sizeof(fsdax_base));
	snprintf(fsdax_base.probe, sizeof(fsdax_base.probe), "%s", path);
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
	a[0] = 1;	/* allocate the block: a hole would map the zero page */
	measure(&fsdax_base, KPAGE_DEV_FS_DAX, a, b);
out:
	if (a != MAP_FAILED)
		munmap((void *)a, 4096);
	if (b != MAP_FAILED)
		munmap((void *)b, 4096);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static long long sysfs_number(const char *dev, const char *attr)
{
	char path[256], line[64];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/%s", dev, attr);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	return line[0] ? strtoll(line, NULL, 0) : -1;
}

/*
 * The same for device-dax: the last aligned chunk of the first device-dax
 * device (scenarios map from its start), mapped twice and read. No device:
 * unknown, with the reason; the pages of such a profile are never device-dax.
 */
void idle_calibrate_devdax(void)
{
	DIR *dir = opendir("/sys/bus/dax/devices");
	struct dirent *de;
	char name[64] = "", path[80];
	volatile char *a = MAP_FAILED, *b = MAP_FAILED;
	long long size, align;
	off_t off = 0;
	int fd = -1;

	memset(&devdax_base, 0, sizeof(devdax_base));
	while (dir && (de = readdir(dir)))
		if (!strncmp(de->d_name, "dax", 3) && (!name[0] || strcmp(de->d_name, name) < 0))
			snprintf(name, sizeof(name), "%.60s", de->d_name);
	if (dir)
		closedir(dir);
	if (!name[0]) {
		snprintf(devdax_base.error, sizeof(devdax_base.error), "no device-dax device (/sys/bus/dax/devices is empty)");
		return;
	}
	size = sysfs_number(name, "size");
	align = sysfs_number(name, "align");
	if (align <= 0)
		align = 2 << 20;	/* before the align attribute (5.10): the region's, 2 MiB */
	if (size < align) {
		snprintf(devdax_base.error, sizeof(devdax_base.error), "%s: size %lld is smaller than its alignment %lld",
			 name, size, align);
		return;
	}
	off = (size / align - 1) * align;
	snprintf(path, sizeof(path), "/dev/%s", name);
	snprintf(devdax_base.probe, sizeof(devdax_base.probe), "%.80s+%lld", path, (long long)off);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(devdax_base.error, sizeof(devdax_base.error), "%.80s: %.40s", path, strerror(errno));
		return;
	}
	a = mmap(NULL, align, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	b = mmap(NULL, align, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		snprintf(devdax_base.error, sizeof(devdax_base.error), "mmap %.80s: %.40s", devdax_base.probe, strerror(errno));
		goto out;
	}
	measure(&devdax_base, KPAGE_DEV_GENERIC, a, b);
out:
	if (a != MAP_FAILED)
		munmap((void *)a, align);
	if (b != MAP_FAILED)
		munmap((void *)b, align);
	close(fd);
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
		char pfn[32];

		snprintf(pfn, sizeof(pfn), "0x%llx", (unsigned long long)b->pfn);
		json_object_object_add(e, "probe", json_object_new_string(b->probe));
		json_object_object_add(e, "pfn", json_object_new_string(pfn));
		json_object_object_add(e, "refOneMapping", json_object_new_int(b->r1));
		json_object_object_add(e, "mapcountOneMapping", json_object_new_int(b->m1));
		json_object_object_add(e, "refTwoMappings", json_object_new_int(b->r2));
		json_object_object_add(e, "mapcountTwoMappings", json_object_new_int(b->m2));
		json_object_object_add(o, "evidence", e);
	}
	return o;
}

/*
 * The model that describes @pg: by pgmap type for ZONE_DEVICE pages. A
 * device-dax page before its calibration (no device-dax device: cannot
 * happen for a watched page) falls back to fsdax's, the old behaviour.
 */
const struct baseline *baseline_of(const struct kpage *pg)
{
	if (pg->zone_device)
		return pg->dev_kind == KPAGE_DEV_GENERIC && devdax_base.known ? &devdax_base : &fsdax_base;
	return pg->mapping_kind == KPAGE_MAP_ANON ? &anon_base : &pagecache_base;
}

const char *baseline_name(const struct kpage *pg)
{
	const struct baseline *b = baseline_of(pg);

	return b == &devdax_base ? "devdax" : b == &fsdax_base ? "fsdax" : b == &anon_base ? "anon" : "pagecache";
}
