// SPDX-License-Identifier: MIT
/*
 * Lab set-up on the host's request: sysctls, one namespace per NVDIMM, mkfs and
 * mount -o dax of the first fsdax namespace, and a statx check that a fresh file
 * on the mount really is DAX. Each stage is timed with the guest's monotonic clock.
 *
 * "prepared": the NVDIMMs come namespaced and formatted (a copy of the profile's
 * template, made by an earlier boot that ran ndctl and mkfs). QEMU's NVDIMMs have no
 * label area: a namespace is the whole region, and what it is (fsdax, devdax) is the
 * info block at its start, which the kernel reads when nd_pmem probes it. So the
 * kernel has set the namespaces up by itself; we find them and say what they are.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "modload.h"

static double ms_since(double start)
{
	return (mono_now() - start) * 1000.0;
}

static int apply_sysctls(struct json_object *sysctls, char *err, size_t errlen)
{
	json_object_object_foreach(sysctls, key, val) {
		char path[256];
		char *p;
		int ret;

		snprintf(path, sizeof(path), "/proc/sys/%s", key);
		for (p = path + strlen("/proc/sys/"); *p; p++)
			if (*p == '.')
				*p = '/';
		ret = write_text(path, json_object_get_string(val));
		if (ret) {
			snprintf(err, errlen, "sysctl %s=%s: %s", key, json_object_get_string(val), strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * QEMU gives the NVDIMM in slot N the NFIT handle N + 1 (hw/acpi/nvdimm.c). Region
 * numbers do not follow the -device order, so find the region through
 * region -> mapping0 -> nmem -> nfit/handle.
 */
static int region_for_slot(int slot, char *region, size_t len)
{
	DIR *dir = opendir("/sys/bus/nd/devices");
	struct dirent *de;
	int found = -1;

	if (!dir)
		return -1;
	while (found && (de = readdir(dir))) {
		char path[512], nmem[64];
		char *mapping, *handle;

		if (strncmp(de->d_name, "region", 6))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s/mapping0", de->d_name);
		mapping = read_text(path, 128);
		if (!mapping)
			continue;
		snprintf(nmem, sizeof(nmem), "%.*s", (int)strcspn(mapping, ","), mapping);
		free(mapping);
		snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s/nfit/handle", nmem);
		handle = read_text(path, 64);
		if (handle && strtol(handle, NULL, 0) == slot + 1) {
			snprintf(region, len, "%s", de->d_name);
			found = 0;
		}
		free(handle);
	}
	closedir(dir);
	return found;
}

static struct json_object *make_namespace(int slot, const char *mode, char *err, size_t errlen, char **output)
{
	char region[256], path[512], *seed;
	char *argv[] = { TOOL_DIR "/ndctl", "create-namespace", "-f", "-e", NULL, "-m", (char *)mode,
			 "-M", "mem", NULL };
	struct run_result res;
	struct json_object *ns;

	if (region_for_slot(slot, region, sizeof(region))) {
		snprintf(err, errlen, "no NVDIMM region with NFIT handle %d (slot %d): is nfit loaded?", slot + 1, slot);
		return NULL;
	}
	snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s/namespace_seed", region);
	seed = read_text(path, 64);
	if (!seed) {
		snprintf(err, errlen, "%s has no namespace seed", region);
		return NULL;
	}
	argv[4] = seed;
	if (run_argv(argv, 60000, &res)) {
		snprintf(err, errlen, "cannot run ndctl: %s", strerror(errno));
		free(seed);
		return NULL;
	}
	ns = res.status == 0 ? json_tokener_parse(res.out) : NULL;
	if (!ns) {
		snprintf(err, errlen, "ndctl create-namespace -f -e %s -m %s -M mem failed (exit %d)", seed, mode, res.status);
		*output = strdup(res.err);
	} else {
		json_object_object_add(ns, "slot", json_object_new_int(slot));
		json_object_object_add(ns, "region", json_object_new_string(region));
	}
	free(seed);
	run_result_free(&res);
	return ns;
}

/* Every NVDIMM bus's probing done (registration of nd devices is asynchronous). */
static void wait_probe(void)
{
	DIR *dir = opendir("/sys/bus/nd/devices");
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char path[512], *text;

		if (strncmp(de->d_name, "ndbus", 5))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s/wait_probe", de->d_name);
		text = read_text(path, 64);
		free(text);
	}
	closedir(dir);
}

static char *nd_attr(const char *dev, const char *attr)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s/%s", dev, attr);
	return read_text(path, 256);
}

static void add_attr_int(struct json_object *o, const char *key, const char *dev, const char *attr)
{
	char *v = nd_attr(dev, attr);

	if (v && *v)
		json_object_object_add(o, key, json_object_new_int64(strtoll(v, NULL, 0)));
	free(v);
}

static void add_attr_str(struct json_object *o, const char *key, const char *dev, const char *attr)
{
	char *v = nd_attr(dev, attr);

	if (v && *v)
		json_object_object_add(o, key, json_object_new_string(v));
	free(v);
}

/*
 * The first entry of /sys/bus/nd/devices/<dev>/<sub> named @prefix and a digit (a device:
 * "namespace1.0", "dax1.0", "pmem0"; not the "namespace_seed" or "dax_region" beside it).
 */
static int first_child(const char *dev, const char *sub, const char *prefix, char *out, size_t len)
{
	char path[512];
	struct dirent *de;
	DIR *dir;
	int ret = -1;

	snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s%s%s", dev, *sub ? "/" : "", sub);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) ||
		    de->d_name[strlen(prefix)] < '0' || de->d_name[strlen(prefix)] > '9')
			continue;
		snprintf(out, len, "%s", de->d_name);
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}

/* The device node the kernel made for @name (devtmpfs), waited for a little. */
static int wait_dev_node(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/dev/%s", name);
	for (int i = 0; i < 200; i++) {
		if (!access(path, F_OK))
			return 0;
		usleep(10 * 1000);
	}
	return -1;
}

/*
 * The namespace the kernel found on a prepared NVDIMM, in the shape ndctl prints (the
 * fields the host reads): its claim (holder) says the mode, the pfn / dax device its
 * size, alignment and memmap location, and the device the kernel made for it.
 */
static struct json_object *find_namespace(int slot, const char *mode, char *err, size_t errlen)
{
	char region[256], ns[256], dev[64];
	char *holder = NULL, *map;
	struct json_object *o = NULL;
	bool devdax = !strcmp(mode, "devdax");

	if (region_for_slot(slot, region, sizeof(region))) {
		snprintf(err, errlen, "no NVDIMM region with NFIT handle %d (slot %d): is nfit loaded?", slot + 1, slot);
		return NULL;
	}
	if (first_child(region, "", "namespace", ns, sizeof(ns))) {
		snprintf(err, errlen, "%s has no namespace", region);
		return NULL;
	}
	holder = nd_attr(ns, "holder");
	if (!holder || !*holder || strncmp(holder, devdax ? "dax" : "pfn", 3)) {
		snprintf(err, errlen,
			 "%s (%s, slot %d) is %s%s, not %s: the NVDIMM template has no %s info block",
			 ns, region, slot, holder && *holder ? "claimed by " : "raw",
			 holder && *holder ? holder : "", mode, mode);
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "dev", json_object_new_string(ns));
	json_object_object_add(o, "mode", json_object_new_string(mode));
	map = nd_attr(holder, "mode");
	if (map)
		json_object_object_add(o, "map", json_object_new_string(!strcmp(map, "ram") ? "mem" : map));
	free(map);
	add_attr_int(o, "size", holder, "size");
	add_attr_str(o, "uuid", holder, "uuid");
	add_attr_int(o, "align", holder, "align");
	json_object_object_add(o, "holder", json_object_new_string(holder));
	if (!devdax) {
		if (first_child(holder, "block", "pmem", dev, sizeof(dev)) || wait_dev_node(dev)) {
			snprintf(err, errlen, "%s (%s) has no pmem block device", holder, ns);
			json_object_put(o);
			o = NULL;
			goto out;
		}
		json_object_object_add(o, "blockdev", json_object_new_string(dev));
	} else {
		struct json_object *region_o = json_object_new_object(), *devices = json_object_new_array();
		struct json_object *d = json_object_new_object();
		char sub[300];

		if (first_child(holder, "", "dax", dev, sizeof(dev)) || wait_dev_node(dev)) {
			snprintf(err, errlen, "%s (%s) has no device-dax character device (is device_dax loaded?)", holder, ns);
			json_object_put(region_o);
			json_object_put(devices);
			json_object_put(d);
			json_object_put(o);
			o = NULL;
			goto out;
		}
		add_attr_int(region_o, "id", holder, "dax_region/id");
		add_attr_int(region_o, "size", holder, "dax_region/size");
		add_attr_int(region_o, "align", holder, "dax_region/align");
		json_object_object_add(d, "chardev", json_object_new_string(dev));
		snprintf(sub, sizeof(sub), "%s/size", dev);
		add_attr_int(d, "size", holder, sub);
		json_object_object_add(d, "mode", json_object_new_string("devdax"));
		json_object_array_add(devices, d);
		json_object_object_add(region_o, "devices", devices);
		json_object_object_add(o, "daxregion", region_o);
	}
	json_object_object_add(o, "slot", json_object_new_int(slot));
	json_object_object_add(o, "region", json_object_new_string(region));
out:
	free(holder);
	return o;
}

/* The block device of an fsdax namespace, or the char device of a devdax one. */
static const char *namespace_device(struct json_object *ns, const char *key)
{
	struct json_object *v, *devices;

	if (json_object_object_get_ex(ns, key, &v))
		return json_object_get_string(v);
	if (json_object_object_get_ex(ns, "daxregion", &v) &&
	    json_object_object_get_ex(v, "devices", &devices) &&
	    json_object_array_length(devices) > 0 &&
	    json_object_object_get_ex(json_object_array_get_idx(devices, 0), key, &v))
		return json_object_get_string(v);
	return NULL;
}

static int run_mkfs(const char *fstype, struct json_object *opts, const char *dev,
		    char *err, size_t errlen, char **output)
{
	char *argv[64];
	int argc = 0, n = json_object_array_length(opts);
	struct run_result res;

	if (n > 50) {
		snprintf(err, errlen, "too many mkfs options");
		return -1;
	}
	if (!strcmp(fstype, "xfs")) {
		argv[argc++] = TOOL_DIR "/mkfs.xfs";
		argv[argc++] = "-f";
	} else {
		/* busybox's mke2fs has no -t: call the real one by full path. */
		argv[argc++] = TOOL_DIR "/mke2fs";
		argv[argc++] = "-t";
		argv[argc++] = "ext4";
	}
	for (int i = 0; i < n; i++)
		argv[argc++] = (char *)json_object_get_string(json_object_array_get_idx(opts, i));
	argv[argc++] = (char *)dev;
	argv[argc] = NULL;
	if (run_argv(argv, 120000, &res)) {
		snprintf(err, errlen, "cannot run %s", argv[0]);
		return -1;
	}
	if (res.status) {
		snprintf(err, errlen, "%s failed on %s (exit %d)", argv[0], dev, res.status);
		*output = strdup(res.err);
	}
	run_result_free(&res);
	return res.status ? -1 : 0;
}

static const struct {
	const char *name;
	unsigned long flag;
} mount_flags[] = {
	{ "ro", MS_RDONLY }, { "noatime", MS_NOATIME }, { "nodiratime", MS_NODIRATIME },
	{ "relatime", MS_RELATIME }, { "sync", MS_SYNCHRONOUS }, { "lazytime", MS_LAZYTIME },
};

/* Split options into mount(2) flags and the filesystem's own data string. */
static unsigned long mount_options(struct json_object *opts, char *data, size_t len)
{
	unsigned long flags = 0;

	data[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(opts); i++) {
		const char *opt = json_object_get_string(json_object_array_get_idx(opts, i));
		size_t f;

		for (f = 0; f < sizeof(mount_flags) / sizeof(mount_flags[0]); f++)
			if (!strcmp(opt, mount_flags[f].name))
				break;
		if (f < sizeof(mount_flags) / sizeof(mount_flags[0])) {
			flags |= mount_flags[f].flag;
			continue;
		}
		if (data[0])
			strncat(data, ",", len - strlen(data) - 1);
		strncat(data, opt, len - strlen(data) - 1);
	}
	return flags;
}

static struct json_object *mount_line(const char *mountpoint)
{
	FILE *f = fopen("/proc/mounts", "re");
	char dev[256], dir[256], type[64], opts[1024];
	struct json_object *m = NULL;

	if (!f)
		return NULL;
	while (fscanf(f, "%255s %255s %63s %1023s %*d %*d", dev, dir, type, opts) == 4) {
		if (strcmp(dir, mountpoint))
			continue;
		if (m)
			json_object_put(m);
		m = json_object_new_object();
		json_object_object_add(m, "device", json_object_new_string(dev));
		json_object_object_add(m, "mountpoint", json_object_new_string(dir));
		json_object_object_add(m, "fstype", json_object_new_string(type));
		json_object_object_add(m, "options", json_object_new_string(opts));
	}
	fclose(f);
	return m;
}

/* STATX_ATTR_DAX of a fresh file: the kernel's own word on whether the file is DAX. */
static struct json_object *statx_probe(const char *dir)
{
	char path[256];
	struct statx stx;
	struct json_object *o = json_object_new_object();
	int fd;

	snprintf(path, sizeof(path), "%s/.daxlab-statx-probe", dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, 4096) ||
	    statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx)) {
		json_object_object_add(o, "error", json_object_new_string(strerror(errno)));
	} else {
		json_object_object_add(o, "dax", json_object_new_boolean(!!(stx.stx_attributes & STATX_ATTR_DAX)));
		json_object_object_add(o, "maskHasDax",
				       json_object_new_boolean(!!(stx.stx_attributes_mask & STATX_ATTR_DAX)));
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return o;
}

struct json_object *lab_setup(struct json_object *req, char *err, size_t errlen,
			      const char **stage, char **output)
{
	struct json_object *nvdimms, *fs, *sysctls, *v, *result, *namespaces, *timings;
	const char *fstype = "xfs", *fsdev = NULL;
	char devpath[128], data[1024];
	unsigned long flags;
	double start;
	int prepared;

	result = json_object_new_object();
	timings = json_object_new_object();
	namespaces = json_object_new_array();
	json_object_object_add(result, "timings", timings);
	json_object_object_add(result, "nvdimms", namespaces);

	*stage = "modules";
	if (modules_wait(json_object_object_get_ex(req, "modules", &v) ? v : NULL, timings, err, errlen))
		goto fail;

	*stage = "sysctl";
	if (json_object_object_get_ex(req, "sysctls", &sysctls) && apply_sysctls(sysctls, err, errlen))
		goto fail;

	*stage = "namespace";
	start = mono_now();
	prepared = jbool(req, "prepared", 0);
	wait_probe();
	if (!json_object_object_get_ex(req, "nvdimms", &nvdimms))
		nvdimms = NULL;
	for (size_t i = 0; nvdimms && i < json_object_array_length(nvdimms); i++) {
		struct json_object *want = json_object_array_get_idx(nvdimms, i), *ns;
		const char *mode = json_object_object_get_ex(want, "mode", &v) ? json_object_get_string(v) : "fsdax";
		int slot = json_object_object_get_ex(want, "slot", &v) ? json_object_get_int(v) : (int)i;

		ns = prepared ? find_namespace(slot, mode, err, errlen) : make_namespace(slot, mode, err, errlen, output);
		if (!ns)
			goto fail;
		json_object_array_add(namespaces, ns);
		if (!fsdev && !strcmp(mode, "fsdax"))
			fsdev = namespace_device(ns, "blockdev");
	}
	json_object_object_add(timings, "namespace", json_object_new_double(ms_since(start)));
	if (!fsdev) {
		snprintf(err, errlen, "no fsdax namespace with a block device to put the filesystem on");
		goto fail;
	}
	snprintf(devpath, sizeof(devpath), "/dev/%s", fsdev);

	*stage = "mkfs";
	json_object_object_get_ex(req, "fs", &fs);
	if (fs && json_object_object_get_ex(fs, "type", &v))
		fstype = json_object_get_string(v);
	start = mono_now();
	if (!prepared) {
		if (!fs || !json_object_object_get_ex(fs, "mkfs", &v))
			v = json_object_new_array();
		else
			json_object_get(v);
		if (run_mkfs(fstype, v, devpath, err, errlen, output)) {
			json_object_put(v);
			goto fail;
		}
		json_object_put(v);
	}
	json_object_object_add(timings, "mkfs", json_object_new_double(ms_since(start)));
	/* The host copies the NVDIMMs into the profile's template now, then asks again (prepared). */
	if (!jbool(req, "mount", 1))
		return result;

	*stage = "mount";
	start = mono_now();
	mkdir(LAB_MOUNTPOINT, 0755);
	flags = (fs && json_object_object_get_ex(fs, "mount", &v)) ? mount_options(v, data, sizeof(data)) : 0;
	if (mount(devpath, LAB_MOUNTPOINT, fstype, flags, data)) {
		snprintf(err, errlen, "mount -t %s -o %s %s %s: %s (see the console log for the kernel's reason)",
			 fstype, data, devpath, LAB_MOUNTPOINT, strerror(errno));
		goto fail;
	}
	json_object_object_add(timings, "mount", json_object_new_double(ms_since(start)));
	json_object_object_add(result, "mount", mount_line(LAB_MOUNTPOINT));
	json_object_object_add(result, "statx", statx_probe(LAB_MOUNTPOINT));
	return result;
fail:
	json_object_put(result);
	return NULL;
}
