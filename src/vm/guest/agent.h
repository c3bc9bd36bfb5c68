/* SPDX-License-Identifier: MIT */
/*
 * daxlab guest agent: shared declarations.
 *
 * The agent speaks JSON lines over the virtio-serial port org.daxlab.agent.
 * Every message it sends carries "t" (guest CLOCK_MONOTONIC, seconds) and "kind".
 */
#ifndef DAXLAB_AGENT_H
#define DAXLAB_AGENT_H

#include <json-c/json.h>
#include <stddef.h>

#include "util.h"

#define AGENT_PORT_NAME "org.daxlab.agent"
#define LAB_MOUNTPOINT "/mnt/dax"
#define TOOL_DIR "/usr/libexec/daxlab"

/* channel.c */
int channel_open(void);
void channel_send(struct json_object *msg);
void send_reply(int id, struct json_object *result);
void send_error(int id, const char *stage, const char *message, const char *output);

/* run.c: run a program (never through a shell), capture its output. */
struct run_result {
	int status;		/* exit code, or 128 + signal */
	char *out;		/* stdout, NUL-terminated, malloc'ed */
	char *err;		/* stderr, NUL-terminated, malloc'ed */
	int timed_out;
};
int run_argv(char *const argv[], int timeout_ms, struct run_result *res);
void run_result_free(struct run_result *res);
/* Without blocking the agent's loop: @done runs from the loop when the program ended. */
typedef void (*run_done_fn)(struct run_result *res, void *ctx);
int run_async(char *const argv[], int timeout_ms, run_done_fn done, void *ctx);
void run_init(void);

/* setup.c: namespaces, mkfs, mount, statx. */
struct json_object *lab_setup(struct json_object *req, char *err, size_t errlen,
			      const char **stage, char **output);

/*
 * agent.c: the main loop. Modules register the fds they want polled and the
 * commands they serve; each module has one init function called from main().
 */
typedef void (*fd_handler)(int fd, short revents, void *ctx);
typedef void (*cmd_handler)(int id, struct json_object *req);
int agent_watch_fd(int fd, short events, fd_handler handler, void *ctx);
void agent_unwatch_fd(int fd);
void agent_register_cmd(const char *name, cmd_handler handler);
/*
 * The command that held the agent's loop at time @t (mono_now()): the one running
 * now or the last one, if it had started by @t and not ended; NULL if none. The observer names
 * it for the snapshots it could not take.
 */
const char *agent_busy_at(double t);
/*
 * The heartbeat: one {"kind":"heartbeat"} a second from the agent's own thread, so the
 * host notices within seconds when the guest stops running (a hung guest kernel, frozen
 * vCPUs). agent_beat() marks the main loop's progress (called from the loop and from the
 * agent's long synchronous work); each beat says how long the loop went without a mark.
 */
#define HEARTBEAT_PERIOD_S 1.0
void agent_beat(void);

/* Called from the main loop about every 10 ms and after every poll wake-up. */
typedef void (*tick_handler)(double now);
void agent_register_tick(tick_handler handler);
/* Run the ticks again no later than @t (guest monotonic seconds): a tick asks anew each time. */
void agent_wake_at(double t);

#endif
