// SPDX-License-Identifier: MIT
/*
 * daxlab guest agent: main loop. It announces itself ("ready"), then serves the
 * host's commands, one JSON object a line, each answered by a "reply" with its id.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"

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
	json_object_object_add(boot, "initStart", json_object_new_double(init_start));
	json_object_object_add(boot, "modulesDone", json_object_new_double(modules_done));
	json_object_object_add(boot, "agentStart", json_object_new_double(uptime));
	json_object_object_add(msg, "uptime", boot);
	json_object_object_add(msg, "btf", json_object_new_boolean(!access("/sys/kernel/btf/vmlinux", R_OK)));
	json_object_object_add(msg, "kcore", json_object_new_boolean(!access("/proc/kcore", R_OK)));
	channel_send(msg);
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

/* Run a program in the guest: tests use it to read kernel facts independently. */
static void cmd_exec(int id, struct json_object *req)
{
	struct json_object *argv_json, *v, *result;
	struct run_result res;
	char *argv[64];
	int n, timeout = 30000;

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
	if (run_argv(argv, timeout, &res)) {
		send_error(id, "exec", strerror(errno), NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "status", json_object_new_int(res.status));
	json_object_object_add(result, "stdout", json_object_new_string(res.out));
	json_object_object_add(result, "stderr", json_object_new_string(res.err));
	json_object_object_add(result, "timedOut", json_object_new_boolean(res.timed_out));
	run_result_free(&res);
	send_reply(id, result);
}

static void cmd_poweroff(int id)
{
	send_reply(id, NULL);
	sync();
	umount2(LAB_MOUNTPOINT, MNT_DETACH);
	reboot(RB_POWER_OFF);
}

static void dispatch(const char *line)
{
	struct json_object *req = json_tokener_parse(line), *v;
	const char *cmd;
	int id;

	if (!req || !json_object_is_type(req, json_type_object)) {
		send_error(-1, "protocol", "not a JSON object", line);
		goto out;
	}
	id = json_object_object_get_ex(req, "id", &v) ? json_object_get_int(v) : -1;
	cmd = json_object_object_get_ex(req, "cmd", &v) ? json_object_get_string(v) : "";
	if (!strcmp(cmd, "setup"))
		cmd_setup(id, req);
	else if (!strcmp(cmd, "exec"))
		cmd_exec(id, req);
	else if (!strcmp(cmd, "ping"))
		send_reply(id, NULL);
	else if (!strcmp(cmd, "ready"))
		send_ready();
	else if (!strcmp(cmd, "poweroff"))
		cmd_poweroff(id);
	else
		send_error(id, "protocol", "unknown command", cmd);
out:
	json_object_put(req);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--init-start"))
			init_start = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--modules-done"))
			modules_done = strtod(argv[i + 1], NULL);
	}
}

int main(int argc, char **argv)
{
	static char buf[LINE_MAX_BYTES];
	size_t used = 0;
	int fd;

	parse_args(argc, argv);
	fd = channel_open();
	if (fd < 0)
		return 1;
	send_ready();
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pfd.revents & POLLHUP) {
			/* No host connected: wait for one instead of spinning. */
			usleep(100 * 1000);
			continue;
		}
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			continue;
		used += n;
		buf[used] = '\0';
		while ((nl = memchr(buf, '\n', used))) {
			*nl = '\0';
			if (nl > buf)
				dispatch(buf);
			used -= nl + 1 - buf;
			memmove(buf, nl + 1, used);
		}
		if (used == sizeof(buf) - 1) {
			send_error(-1, "protocol", "command line longer than 1 MiB dropped", NULL);
			used = 0;
		}
	}
}
