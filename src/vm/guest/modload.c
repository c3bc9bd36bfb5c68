// SPDX-License-Identifier: MIT
/*
 * Early boot, done by the agent itself: the pseudo filesystems, and the profile's
 * kernel modules loaded with finit_module() as soon as the agent starts.
 *
 * The host resolved every module's dependencies and softdeps from the kernel's own
 * index (modules.dep, modules.softdep) into etc/daxlab/modules.deps: "name path
 * after,after" a line. The kernel command line names the profile's load order
 * (daxlab.modules=a,b,?c: "?" a softdep, whose failure is not fatal). Two loader
 * threads take each module as soon as what it follows is loaded, so the guest's two
 * CPUs load independent modules at once while the agent starts and talks to the host.
 * Of the modules ready, a loader takes the one at the head of the longest chain still
 * to load (file sizes as the cost: under TCG a module's load time follows its size),
 * so xfs and what it needs start first instead of waiting behind the small ones.
 * No modprobe runs (no fork, no exec, no modules.dep parsing per module).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "modload.h"

#define MODULE_DEPS_FILE "/etc/daxlab/modules.deps"
#define MAX_MODULES 128
#define MAX_AFTER 32
#define LOADERS 2

enum mod_state { MOD_TODO, MOD_LOADING, MOD_LOADED, MOD_PRESENT, MOD_FAILED };

struct mod {
	char name[64];
	char path[256];
	bool soft;
	int after[MAX_AFTER];
	int nr_after;
	enum mod_state state;
	int err;		/* errno of a failed load */
	char why[128];		/* what failed, for the host */
	double ms;
	long long bytes;	/* the file's size: the cost of loading it */
	long long chain;	/* bytes, plus the longest chain of modules that follow it */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mod mods[MAX_MODULES];
	int nr;
	int running;		/* loader threads still working */
	bool started;
	double start, end;	/* CLOCK_MONOTONIC, seconds */
	char error[256];	/* set up wrongly (no deps file, unknown module) */
} ml = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

void early_mounts(void)
{
	static const struct {
		const char *src, *dir, *type;
	} mounts[] = {
		{ "proc", "/proc", "proc" },	     { "sysfs", "/sys", "sysfs" },
		{ "devtmpfs", "/dev", "devtmpfs" },  { "tmpfs", "/run", "tmpfs" },
		{ "tmpfs", "/tmp", "tmpfs" },	     { "tracefs", "/sys/kernel/tracing", "tracefs" },
		{ "debugfs", "/sys/kernel/debug", "debugfs" },
	};

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		mkdir(mounts[i].dir, 0755);
		/* EBUSY: mounted already (the agent started again); tracefs/debugfs may be absent. */
		if (mount(mounts[i].src, mounts[i].dir, mounts[i].type, 0, NULL) && errno != EBUSY &&
		    i < 5)
			fprintf(stderr, "daxlab-agent: mount -t %s %s: %s\n", mounts[i].type, mounts[i].dir,
				strerror(errno));
	}
}

static int find_mod(const char *name)
{
	for (int i = 0; i < ml.nr; i++)
		if (!strcmp(ml.mods[i].name, name))
			return i;
	return -1;
}

/* The deps file line of @name, or NULL (the caller frees). */
static char *deps_line(const char *deps, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = deps; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, name, len) && p[len] == ' ') {
			const char *end = strchr(p, '\n');

			return strndup(p, end ? (size_t)(end - p) : strlen(p));
		}
	}
	return NULL;
}

/* Add @name (and what it follows, which the host's order has put before it). */
static int add_mod(const char *deps, const char *name, bool soft)
{
	char *line, *path, *after, *save = NULL;
	struct stat st;
	struct mod *m;

	if (find_mod(name) >= 0)
		return 0;
	if (ml.nr == MAX_MODULES) {
		snprintf(ml.error, sizeof(ml.error), "more than %d modules to load", MAX_MODULES);
		return -1;
	}
	line = deps_line(deps, name);
	if (!line) {
		snprintf(ml.error, sizeof(ml.error), "module %s is not in the image (%s)", name, MODULE_DEPS_FILE);
		return -1;
	}
	m = &ml.mods[ml.nr];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->soft = soft;
	strtok_r(line, " ", &save);
	path = strtok_r(NULL, " ", &save);
	after = strtok_r(NULL, " ", &save);
	snprintf(m->path, sizeof(m->path), "%s", path ? path : "");
	m->bytes = stat(m->path, &st) ? 0 : st.st_size;
	for (char *a = after ? strtok_r(after, ",", &save) : NULL; a; a = strtok_r(NULL, ",", &save)) {
		int idx = find_mod(a);

		/* "-": follows nothing; a name not in this load order: not ours to wait for. */
		if (idx >= 0 && m->nr_after < MAX_AFTER)
			m->after[m->nr_after++] = idx;
	}
	free(line);
	ml.nr++;
	return 0;
}

static int load_one(struct mod *m)
{
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Each module's chain: its own cost and the costliest chain of the modules that follow
 * it. A module follows only modules added before it, so one pass from the end does.
 */
static void compute_chains(void)
{
	for (int i = ml.nr - 1; i >= 0; i--)
		ml.mods[i].chain = ml.mods[i].bytes;
	for (int i = ml.nr - 1; i >= 0; i--) {
		struct mod *m = &ml.mods[i];

		for (int a = 0; a < m->nr_after; a++) {
			struct mod *dep = &ml.mods[m->after[a]];

			if (dep->chain < dep->bytes + m->chain)
				dep->chain = dep->bytes + m->chain;
		}
	}
}

/* The ready module with the longest chain, or -1; *blocked: some are still loading. */
static int next_ready(bool *blocked)
{
	int best = -1;

	*blocked = false;
	for (int i = 0; i < ml.nr; i++) {
		struct mod *m = &ml.mods[i];
		bool ready = true;

		if (m->state != MOD_TODO)
			continue;
		for (int a = 0; a < m->nr_after; a++) {
			struct mod *dep = &ml.mods[m->after[a]];

			if (dep->state == MOD_TODO || dep->state == MOD_LOADING) {
				ready = false;
				break;
			}
			/* A hard dependency that failed: this one cannot load either. */
			if (dep->state == MOD_FAILED && !dep->soft) {
				m->state = MOD_FAILED;
				m->err = dep->err;
				snprintf(m->why, sizeof(m->why), "not loaded: %s failed", dep->name);
				ready = false;
				break;
			}
		}
		if (m->state == MOD_FAILED)
			continue;
		if (!ready)
			*blocked = true;
		else if (best < 0 || m->chain > ml.mods[best].chain)
			best = i;
	}
	return best;
}

static void *loader(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ml.lock);
	for (;;) {
		bool blocked;
		int i = next_ready(&blocked);
		struct mod *m;
		double t0;
		int ret;

		if (i < 0) {
			bool loading = false;

			for (int j = 0; j < ml.nr; j++)
				loading |= ml.mods[j].state == MOD_LOADING;
			if (!loading && !blocked)
				break;
			pthread_cond_wait(&ml.cond, &ml.lock);
			continue;
		}
		m = &ml.mods[i];
		m->state = MOD_LOADING;
		pthread_mutex_unlock(&ml.lock);
		t0 = mono_now();
		ret = load_one(m);
		pthread_mutex_lock(&ml.lock);
		m->ms = (mono_now() - t0) * 1000.0;
		if (!ret || ret == -EEXIST) {
			m->state = ret ? MOD_PRESENT : MOD_LOADED;
		} else {
			m->state = MOD_FAILED;
			m->err = -ret;
			char why[sizeof(m->why)];

			snprintf(why, sizeof(why), "finit_module %s: %s", m->path, strerror(-ret));
			memcpy(m->why, why, sizeof(why));
			if (m->soft)
				fprintf(stderr, "daxlab-agent: softdep %s did not load: %s\n", m->name, strerror(-ret));
		}
		pthread_cond_broadcast(&ml.cond);
	}
	if (--ml.running == 0) {
		int loaded = 0, present = 0, failed = 0, soft = 0;
		char *up = read_text("/proc/uptime", 64);

		ml.end = mono_now();
		for (int j = 0; j < ml.nr; j++) {
			loaded += ml.mods[j].state == MOD_LOADED;
			present += ml.mods[j].state == MOD_PRESENT;
			failed += ml.mods[j].state == MOD_FAILED && !ml.mods[j].soft;
			soft += ml.mods[j].state == MOD_FAILED && ml.mods[j].soft;
		}
		/* For the console log: what the loaders did, apart from the host's channel. */
		fprintf(stderr, "daxlab-agent: modules loaded at %.2fs: %d loaded, %d there already, %d failed, %d softdeps not loaded, in %.0f ms\n",
			up ? strtod(up, NULL) : -1.0, loaded, present, failed, soft, (ml.end - ml.start) * 1000.0);
		for (int j = 0; j < ml.nr; j++)
			if (ml.mods[j].state == MOD_FAILED && !ml.mods[j].soft)
				fprintf(stderr, "daxlab-agent: module %s failed: %s\n", ml.mods[j].name, ml.mods[j].why);
		free(up);
		pthread_cond_broadcast(&ml.cond);
	}
	pthread_mutex_unlock(&ml.lock);
	return NULL;
}

/* daxlab.modules=a,b,?c from the kernel command line, or NULL. */
static char *cmdline_modules(void)
{
	char *cmdline = read_text("/proc/cmdline", 4096), *p, *end, *list = NULL;

	if (!cmdline)
		return NULL;
	for (p = cmdline; (p = strstr(p, "daxlab.modules=")); p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		p += strlen("daxlab.modules=");
		end = strchr(p, ' ');
		list = strndup(p, end ? (size_t)(end - p) : strlen(p));
		break;
	}
	free(cmdline);
	return list;
}

/* Add a comma-separated list ("?name": soft) to the load order. Called with ml.lock held. */
static int add_list(const char *deps, char *list)
{
	char *save = NULL;

	for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		bool soft = name[0] == '?';

		if (add_mod(deps, soft ? name + 1 : name, soft))
			return -1;
	}
	return 0;
}

static char *deps_text(void)
{
	return read_text(MODULE_DEPS_FILE, 1 << 20);
}

void modules_start(void)
{
	char *list = cmdline_modules(), *deps;
	pthread_t threads[LOADERS];

	pthread_mutex_lock(&ml.lock);
	ml.start = mono_now();
	ml.started = true;
	if (!list) {
		ml.end = ml.start;
		pthread_mutex_unlock(&ml.lock);
		return;
	}
	deps = deps_text();
	if (!deps)
		snprintf(ml.error, sizeof(ml.error), "%s: %s", MODULE_DEPS_FILE, strerror(errno));
	else
		add_list(deps, list);
	compute_chains();
	free(deps);
	free(list);
	ml.running = LOADERS;
	for (int i = 0; i < LOADERS; i++) {
		if (pthread_create(&threads[i], NULL, loader, NULL)) {
			ml.running--;
			continue;
		}
		pthread_detach(threads[i]);
	}
	if (!ml.running)
		ml.end = mono_now();
	pthread_mutex_unlock(&ml.lock);
}

int modules_wait(struct json_object *wanted, struct json_object *timings, char *err, size_t errlen)
{
	struct json_object *each = json_object_new_object();
	double waited = mono_now();
	int ret = 0;

	pthread_mutex_lock(&ml.lock);
	if (!ml.started) {
		/* Started without --init: set-up loads the host's list itself. */
		ml.started = true;
		ml.start = ml.end = mono_now();
	}
	while (ml.running)
		pthread_cond_wait(&ml.cond, &ml.lock);
	waited = (mono_now() - waited) * 1000.0;
	/* What the host asks for now and the command line did not name: load it here, in order. */
	if (!ml.error[0] && wanted) {
		char *deps = NULL;

		for (size_t i = 0; i < json_object_array_length(wanted); i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(wanted, i));
			bool soft = name[0] == '?';
			int idx;

			if (find_mod(soft ? name + 1 : name) >= 0)
				continue;
			if (!deps && !(deps = deps_text())) {
				snprintf(ml.error, sizeof(ml.error), "%s: %s", MODULE_DEPS_FILE, strerror(errno));
				break;
			}
			if (add_mod(deps, soft ? name + 1 : name, soft))
				break;
			idx = ml.nr - 1;
			ml.running = 1;
			ml.mods[idx].state = MOD_TODO;
			pthread_mutex_unlock(&ml.lock);
			loader(NULL);
			pthread_mutex_lock(&ml.lock);
		}
		free(deps);
	}
	if (ml.error[0]) {
		snprintf(err, errlen, "%s", ml.error);
		ret = -1;
	}
	for (int i = 0; i < ml.nr; i++) {
		struct mod *m = &ml.mods[i];

		json_object_object_add(each, m->name, json_object_new_double(m->ms));
		if (!ret && m->state == MOD_FAILED && !m->soft) {
			snprintf(err, errlen, "%s (the kernel's reason is on the console)", m->why);
			ret = -1;
		}
	}
	json_object_object_add(timings, "modules", json_object_new_double((ml.end - ml.start) * 1000.0));
	json_object_object_add(timings, "moduleWait", json_object_new_double(waited));
	json_object_object_add(timings, "moduleLoads", each);
	pthread_mutex_unlock(&ml.lock);
	return ret;
}
