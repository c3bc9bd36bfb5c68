// SPDX-License-Identifier: MIT
/*
 * daxlab guest agent: main loop. It announces itself ("ready"), then serves the
 * host's commands, one JSON object a line, each answered by a "reply" with its id.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "kstate/kstate.h"
#include "actors.h"
#include "modload.h"
#include "observer.h"
#include "ops.h"
#include "trace.h"

#define LINE_MAX_BYTES (1 << 20)

static double init_start = -1, modules_done = -1;

static void send_ready(void)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *boot = json_object_new_object();
	struct utsname u;
	double uptime = -1;
	char *text = read_text("/proc/uptime", 64);

	if (text)
		uptime = strtod(text, NULL);
	free(text);
	uname(&u);
	json_object_object_add(msg, "kind", json_object_new_string("ready"));
	json_object_object_add(msg, "release", json_object_new_string(u.release));
	json_object_object_add(msg, "version", json_object_new_string(u.version));
	json_object_object_add(msg, "machine", json_object_new_string(u.machine));
	json_object_object_add(msg, "pid", json_object_new_int(getpid()));
	json_object_object_add(boot, "initStart", json_object_new_double(init_start));
	json_object_object_add(boot, "modulesDone", json_object_new_double(modules_done));
	json_object_object_add(boot, "agentStart", json_object_new_double(uptime));
	json_object_object_add(msg, "uptime", boot);
	json_object_object_add(msg, "btf", json_object_new_boolean(!access("/sys/kernel/btf/vmlinux", R_OK)));
	json_object_object_add(msg, "kcore", json_object_new_boolean(!access("/proc/kcore", R_OK)));
	channel_send(msg);
}

/*
 * The heartbeat comes from its own thread, so that a long command (a kernel-text scan,
 * a kprobe registration, which take many seconds under TCG on a loaded host) never
 * silences it: only a guest that stops running does. The main loop marks its progress
 * at its beat points; each beat carries how long the loop has gone without one, so a
 * stuck loop shows as a growing stallMs (and its command times out on the host).
 */
static pthread_mutex_t beat_lock = PTHREAD_MUTEX_INITIALIZER;
static double last_call;
static double longest_gap;

void agent_beat(void)
{
	double now = mono_now();

	pthread_mutex_lock(&beat_lock);
	if (now - last_call > longest_gap)
		longest_gap = now - last_call;
	last_call = now;
	pthread_mutex_unlock(&beat_lock);
}

static void *beat_thread(void *unused)
{
	struct timespec period = { .tv_sec = (time_t)HEARTBEAT_PERIOD_S };
	long long beats = 0;

	(void)unused;
	for (;;) {
		struct json_object *msg;
		double now, stall;

		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &period, NULL) == EINTR)
			;
		now = mono_now();
		pthread_mutex_lock(&beat_lock);
		stall = now - last_call > longest_gap ? now - last_call : longest_gap;
		longest_gap = 0;
		pthread_mutex_unlock(&beat_lock);
		msg = json_object_new_object();
		json_object_object_add(msg, "kind", json_object_new_string("heartbeat"));
		json_object_object_add(msg, "seq", json_object_new_int64(++beats));
		json_object_object_add(msg, "stallMs", json_object_new_int((int)(stall * 1000)));
		channel_send(msg);
	}
	return NULL;
}

static void start_beating(void)
{
	pthread_t tid;
	sigset_t all, old;

	last_call = mono_now();
	/* Signals (SIGCHLD of actors and programs) stay with the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&tid, NULL, beat_thread, NULL))
		fprintf(stderr, "daxlab-agent: no heartbeat thread: %s\n", strerror(errno));
	else
		pthread_detach(tid);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void cmd_setup(int id, struct json_object *req)
{
	char err[512] = "", *output = NULL;
	const char *stage = "setup";
	struct json_object *hello = lab_setup(req, err, sizeof(err), &stage, &output);

	if (hello)
		send_reply(id, hello);
	else
		send_error(id, stage, err, output);
	free(output);
}

static void exec_done(struct run_result *res, void *ctx)
{
	struct json_object *result = json_object_new_object();

	json_object_object_add(result, "status", json_object_new_int(res->status));
	json_object_object_add(result, "stdout", json_object_new_string(res->out));
	json_object_object_add(result, "stderr", json_object_new_string(res->err));
	json_object_object_add(result, "timedOut", json_object_new_boolean(res->timed_out));
	send_reply((int)(intptr_t)ctx, result);
}

/*
 * Run a program in the guest (tests read kernel facts through it independently;
 * scenarios load null_blk with it). It runs beside the loop: snapshots go on.
 */
static void cmd_exec(int id, struct json_object *req)
{
	struct json_object *argv_json, *v;
	char *argv[64];
	int n, ret, timeout = 30000;

	if (!json_object_object_get_ex(req, "argv", &argv_json) ||
	    (n = json_object_array_length(argv_json)) < 1 || n > 62) {
		send_error(id, "exec", "exec needs argv: a non-empty array of at most 62 strings", NULL);
		return;
	}
	for (int i = 0; i < n; i++)
		argv[i] = (char *)json_object_get_string(json_object_array_get_idx(argv_json, i));
	argv[n] = NULL;
	if (json_object_object_get_ex(req, "timeoutMs", &v))
		timeout = json_object_get_int(v);
	ret = run_async(argv, timeout, exec_done, (void *)(intptr_t)id);
	if (ret)
		send_error(id, "exec", strerror(-ret), NULL);
}

static void cmd_poweroff(int id)
{
	send_reply(id, NULL);
	sync();
	umount2(LAB_MOUNTPOINT, MNT_DETACH);
	reboot(RB_POWER_OFF);
}

#define MAX_WATCHED_FDS 64
#define MAX_COMMANDS 32
#define MAX_TICKS 8

static struct {
	int fd;
	short events;
	fd_handler handler;
	void *ctx;
} watched[MAX_WATCHED_FDS];
static int nr_watched;

static struct {
	const char *name;
	cmd_handler handler;
} commands[MAX_COMMANDS];
static int nr_commands;

static tick_handler ticks[MAX_TICKS];
static int nr_ticks;

int agent_watch_fd(int fd, short events, fd_handler handler, void *ctx)
{
	if (nr_watched == MAX_WATCHED_FDS)
		return -1;
	watched[nr_watched].fd = fd;
	watched[nr_watched].events = events;
	watched[nr_watched].handler = handler;
	watched[nr_watched].ctx = ctx;
	nr_watched++;
	return 0;
}

void agent_unwatch_fd(int fd)
{
	for (int i = 0; i < nr_watched; i++) {
		if (watched[i].fd != fd)
			continue;
		watched[i] = watched[--nr_watched];
		return;
	}
}

void agent_register_cmd(const char *name, cmd_handler handler)
{
	if (nr_commands < MAX_COMMANDS) {
		commands[nr_commands].name = name;
		commands[nr_commands].handler = handler;
		nr_commands++;
	}
}

static double wake_at;

void agent_wake_at(double t)
{
	if (!wake_at || t < wake_at)
		wake_at = t;
}

void agent_register_tick(tick_handler handler)
{
	if (nr_ticks < MAX_TICKS)
		ticks[nr_ticks++] = handler;
}

/* The command the loop is in (its name is a registered constant), and the last one's end. */
static const char *running_cmd, *last_cmd;
static double cmd_start, last_cmd_end;

const char *agent_busy_at(double t)
{
	if (running_cmd)
		return cmd_start <= t ? running_cmd : NULL;
	return last_cmd && cmd_start <= t && last_cmd_end > t ? last_cmd : NULL;
}

static void dispatch(const char *line)
{
	struct json_object *req = json_tokener_parse(line), *v;
	const char *cmd;
	int id, i;

	if (!req || !json_object_is_type(req, json_type_object)) {
		send_error(-1, "protocol", "not a JSON object", line);
		goto out;
	}
	id = json_object_object_get_ex(req, "id", &v) ? json_object_get_int(v) : -1;
	cmd = json_object_object_get_ex(req, "cmd", &v) ? json_object_get_string(v) : "";
	for (i = 0; i < nr_commands; i++) {
		if (!strcmp(cmd, commands[i].name)) {
			running_cmd = commands[i].name;
			cmd_start = mono_now();
			commands[i].handler(id, req);
			running_cmd = NULL;
			last_cmd = commands[i].name;
			last_cmd_end = mono_now();
			break;
		}
	}
	if (i == nr_commands)
		send_error(id, "protocol", "unknown command", cmd);
out:
	json_object_put(req);
}

static char line_buf[LINE_MAX_BYTES];
static size_t line_used;

static void on_channel(int fd, short revents, void *ctx)
{
	char *nl;
	ssize_t n;

	(void)ctx;
	if (revents & POLLHUP) {
		/* No host connected: wait for one instead of spinning. */
		usleep(100 * 1000);
		return;
	}
	n = read(fd, line_buf + line_used, sizeof(line_buf) - 1 - line_used);
	if (n <= 0)
		return;
	line_used += n;
	line_buf[line_used] = '\0';
	while ((nl = memchr(line_buf, '\n', line_used))) {
		*nl = '\0';
		if (nl > line_buf)
			dispatch(line_buf);
		line_used -= nl + 1 - line_buf;
		memmove(line_buf, nl + 1, line_used);
	}
	if (line_used == sizeof(line_buf) - 1) {
		send_error(-1, "protocol", "command line longer than 1 MiB dropped", NULL);
		line_used = 0;
	}
}

static void cmd_ping(int id, struct json_object *req)
{
	(void)req;
	send_reply(id, NULL);
}

/* "ready" again, then the reply: a guest restored from a warm start says it is up. */
static void cmd_ready(int id, struct json_object *req)
{
	(void)req;
	send_ready();
	send_reply(id, NULL);
}

static void cmd_poweroff_req(int id, struct json_object *req)
{
	(void)req;
	cmd_poweroff(id);
}

static double uptime_now(void)
{
	char *text = read_text("/proc/uptime", 64);
	double t = text ? strtod(text, NULL) : -1;

	free(text);
	return t;
}

static int modules_floor;

/*
 * --init: the agent does init's early work (init.sh only starts it and powers off).
 * --modules-floor (with --init, as PID 1): load the command line's modules as a lab boot
 * does, then power off: the benchmark's floor with the kernel's own module work in it.
 */
static int parse_args(int argc, char **argv)
{
	int early = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--init"))
			early = 1;
		else if (!strcmp(argv[i], "--modules-floor"))
			modules_floor = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "--init-start"))
			init_start = strtod(argv[++i], NULL);
		else if (i + 1 < argc && !strcmp(argv[i], "--modules-done"))
			modules_done = strtod(argv[++i], NULL);
	}
	return early;
}

static void power_off_after_modules(void)
{
	struct json_object *timings = json_object_new_object();
	char err[256] = "";

	if (modules_wait(NULL, timings, err, sizeof(err)))
		fprintf(stderr, "daxlab-agent: modules floor: %s\n", err);
	json_object_put(timings);
	reboot(RB_POWER_OFF);
	_exit(1);
}

int main(int argc, char **argv)
{
	int fd;

	/* The op table, for the host's test that its catalogue and ours agree. */
	if (argc == 2 && !strcmp(argv[1], "--list-ops")) {
		for (const struct actor_op *op = actor_ops; op->name; op++)
			printf("%s\n", op->name);
		return 0;
	}
	if (parse_args(argc, argv)) {
		early_mounts();
		if (init_start < 0)
			init_start = uptime_now();
		/* The modules load beside everything below; setup waits for them. */
		modules_start();
		if (modules_floor)
			power_off_after_modules();
	}
	signal(SIGPIPE, SIG_IGN);
	fd = channel_open();
	if (fd < 0)
		return 1;
	/* The channel's modules (virtio) are loaded by now. */
	if (modules_done < 0)
		modules_done = uptime_now();
	agent_register_cmd("setup", cmd_setup);
	agent_register_cmd("exec", cmd_exec);
	agent_register_cmd("ping", cmd_ping);
	agent_register_cmd("ready", cmd_ready);
	agent_register_cmd("poweroff", cmd_poweroff_req);
	agent_watch_fd(fd, POLLIN, on_channel, NULL);
	/* Module init calls go here. */
	run_init();
	actors_init();
	observer_init();
	trace_init();
	refwatch_init();
	send_ready();
	start_beating();
	/* The kernel-text scans of the probes take seconds under TCG: they beat too. */
	kstate_progress = agent_beat;
	for (;;) {
		struct pollfd pfds[MAX_WATCHED_FDS];
		int n = nr_watched;

		for (int i = 0; i < n; i++)
			pfds[i] = (struct pollfd){ .fd = watched[i].fd, .events = watched[i].events };
		struct timespec ts = { 0 };
		double wait = 0.010;

		/* about every 10 ms, or sooner when a tick asked for a time (a sample) */
		if (wake_at) {
			double d = wake_at - mono_now();

			wait = d < 0 ? 0 : d < wait ? d : wait;
			wake_at = 0;
		}
		ts.tv_nsec = (long)(wait * 1e9);
		if (ppoll(pfds, n, nr_ticks ? &ts : NULL, NULL) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++) {
			if (!pfds[i].revents)
				continue;
			/* A handler may unwatch fds: look the entry up again by fd. */
			for (int j = 0; j < nr_watched; j++) {
				if (watched[j].fd == pfds[i].fd) {
					watched[j].handler(pfds[i].fd, pfds[i].revents, watched[j].ctx);
					break;
				}
			}
		}
		for (int i = 0; i < nr_ticks; i++)
			ticks[i](mono_now());
		agent_beat();
	}
}
