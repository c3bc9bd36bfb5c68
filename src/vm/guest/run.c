// SPDX-License-Identifier: MIT
/* Run a guest program with an argv array and capture what it prints. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

#define RUN_OUTPUT_MAX (1 << 20)

struct sink {
	char *buf;
	size_t len;
};

static void sink_read(int fd, struct sink *s, int *open_fds)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n <= 0) {
		(*open_fds)--;
		return;
	}
	if (s->len + n > RUN_OUTPUT_MAX)
		n = RUN_OUTPUT_MAX - s->len;
	s->buf = realloc(s->buf, s->len + n + 1);
	memcpy(s->buf + s->len, chunk, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

/* fork + exec with stdout and stderr on pipes; never through a shell. */
static pid_t spawn(char *const argv[], int *out_fd, int *err_fd)
{
	int out[2], err[2];
	pid_t pid;

	if (pipe2(out, O_CLOEXEC))
		return -1;
	if (pipe2(err, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		close(out[0]);
		close(err[0]);
		return -1;
	}
	*out_fd = out[0];
	*err_fd = err[0];
	return pid;
}

static int exit_status(int wstatus)
{
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

int run_argv(char *const argv[], int timeout_ms, struct run_result *res)
{
	int open_fds = 2, wstatus, out_fd, err_fd;
	struct sink so = { calloc(1, 1), 0 }, se = { calloc(1, 1), 0 };
	struct pollfd fds[2];
	double deadline = mono_now() + timeout_ms / 1000.0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	pid = spawn(argv, &out_fd, &err_fd);
	if (pid < 0) {
		free(so.buf);
		free(se.buf);
		return -errno;
	}
	fds[0] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = err_fd, .events = POLLIN };
	while (open_fds > 0) {
		int left = (int)((deadline - mono_now()) * 1000);

		if (left <= 0) {
			res->timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		/* The agent waits here (mkfs, modprobe): it still beats. */
		agent_beat();
		if (poll(fds, 2, left < 250 ? left : 250) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
				int before = open_fds;

				sink_read(fds[i].fd, i ? &se : &so, &open_fds);
				if (open_fds != before)
					fds[i].fd = -1;
			}
		}
	}
	close(out_fd);
	close(err_fd);
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	res->status = exit_status(wstatus);
	res->out = so.buf;
	res->err = se.buf;
	return 0;
}

/*
 * The same, without blocking the agent: the pipes are polled by the main loop and
 * the child is reaped from a tick, so snapshots and events keep flowing while a
 * slow program (modprobe null_blk takes seconds under TCG) runs.
 */
#define MAX_ASYNC_RUNS 8

static struct async_run {
	int used;
	pid_t pid;
	int fds[2];
	struct sink sinks[2];
	int open;
	double deadline;
	int timed_out;
	run_done_fn done;
	void *ctx;
} runs[MAX_ASYNC_RUNS];

static void on_async_fd(int fd, short revents, void *ctx)
{
	struct async_run *r = ctx;
	int i = fd == r->fds[0] ? 0 : 1, before = r->open;

	(void)revents;
	sink_read(fd, &r->sinks[i], &r->open);
	if (r->open != before) {
		agent_unwatch_fd(fd);
		close(fd);
		r->fds[i] = -1;
	}
}

static void async_tick(double now)
{
	for (int i = 0; i < MAX_ASYNC_RUNS; i++) {
		struct async_run *r = &runs[i];
		struct run_result res;
		int wstatus;

		if (!r->used)
			continue;
		if (!r->timed_out && now > r->deadline) {
			kill(r->pid, SIGKILL);
			r->timed_out = 1;
		}
		/* A grandchild may keep the pipes open: stop reading a second after a kill. */
		for (int j = 0; j < 2 && r->timed_out && now > r->deadline + 1; j++) {
			if (r->fds[j] >= 0) {
				agent_unwatch_fd(r->fds[j]);
				close(r->fds[j]);
				r->fds[j] = -1;
				r->open--;
			}
		}
		if (r->open > 0 || waitpid(r->pid, &wstatus, WNOHANG) != r->pid)
			continue;
		res.status = exit_status(wstatus);
		res.out = r->sinks[0].buf;
		res.err = r->sinks[1].buf;
		res.timed_out = r->timed_out;
		r->used = 0;
		r->done(&res, r->ctx);
		run_result_free(&res);
	}
}

int run_async(char *const argv[], int timeout_ms, run_done_fn done, void *ctx)
{
	struct async_run *r = NULL;

	for (int i = 0; i < MAX_ASYNC_RUNS && !r; i++)
		if (!runs[i].used)
			r = &runs[i];
	if (!r)
		return -EBUSY;
	memset(r, 0, sizeof(*r));
	r->pid = spawn(argv, &r->fds[0], &r->fds[1]);
	if (r->pid < 0)
		return -errno;
	r->used = 1;
	r->open = 2;
	r->deadline = mono_now() + timeout_ms / 1000.0;
	r->done = done;
	r->ctx = ctx;
	r->sinks[0].buf = calloc(1, 1);
	r->sinks[1].buf = calloc(1, 1);
	agent_watch_fd(r->fds[0], POLLIN, on_async_fd, r);
	agent_watch_fd(r->fds[1], POLLIN, on_async_fd, r);
	return 0;
}

void run_init(void)
{
	agent_register_tick(async_tick);
}

void run_result_free(struct run_result *res)
{
	free(res->out);
	free(res->err);
}
