// SPDX-License-Identifier: MIT
/*
 * The virtio-serial port to the host. Without udev there is no /dev/virtio-ports/
 * symlink: find the vportNpM whose sysfs name is ours.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static int channel_fd = -1;
/* The heartbeat thread sends too: one message is one write of its whole line. */
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;

static int find_port(char *dev, size_t len)
{
	DIR *dir = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int found = -1;

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		char path[300];
		char *name;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
		name = read_text(path, 256);
		if (name && !strcmp(name, AGENT_PORT_NAME)) {
			snprintf(dev, len, "/dev/%s", de->d_name);
			found = 0;
		}
		free(name);
		if (!found)
			break;
	}
	closedir(dir);
	return found;
}

int channel_open(void)
{
	char dev[300];
	int tries;

	/*
	 * The port shows up when virtio_console has probed, loaded beside us by the agent's
	 * module loaders (modload.c): allow it a minute on a slow emulated guest (the host's
	 * boot watchdog ends a boot that takes longer).
	 */
	for (tries = 0; tries < 1200; tries++) {
		if (!find_port(dev, sizeof(dev))) {
			channel_fd = open(dev, O_RDWR | O_CLOEXEC);
			if (channel_fd >= 0)
				return channel_fd;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "daxlab-agent: no virtio-serial port named %s\n", AGENT_PORT_NAME);
	return -1;
}

static void write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(channel_fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* The host went away: nothing to tell it any more. */
			return;
		}
		buf += n;
		len -= n;
	}
}

void channel_send(struct json_object *msg)
{
	const char *text;

	if (!json_object_object_get_ex(msg, "t", NULL))
		json_object_object_add(msg, "t", json_object_new_double(mono_now()));
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&send_lock);
	write_all(text, strlen(text));
	write_all("\n", 1);
	pthread_mutex_unlock(&send_lock);
	json_object_put(msg);
}

void send_reply(int id, struct json_object *result)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "kind", json_object_new_string("reply"));
	json_object_object_add(msg, "id", json_object_new_int(id));
	json_object_object_add(msg, "ok", json_object_new_boolean(1));
	json_object_object_add(msg, "result", result ? result : json_object_new_object());
	channel_send(msg);
}

void send_error(int id, const char *stage, const char *message, const char *output)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *error = json_object_new_object();

	json_object_object_add(error, "stage", json_object_new_string(stage ? stage : "agent"));
	json_object_object_add(error, "message", json_object_new_string(message));
	if (output)
		json_object_object_add(error, "output", json_object_new_string(output));
	json_object_object_add(msg, "kind", json_object_new_string("reply"));
	json_object_object_add(msg, "id", json_object_new_int(id));
	json_object_object_add(msg, "ok", json_object_new_boolean(0));
	json_object_object_add(msg, "error", error);
	channel_send(msg);
}
