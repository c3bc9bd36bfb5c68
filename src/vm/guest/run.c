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

int run_argv(char *const argv[], int timeout_ms, struct run_result *res)
{
	int out[2], err[2], open_fds = 2, wstatus;
	struct sink so = { calloc(1, 1), 0 }, se = { calloc(1, 1), 0 };
	struct pollfd fds[2];
	double deadline = mono_now() + timeout_ms / 1000.0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	fds[0] = (struct pollfd){ .fd = out[0], .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = err[0], .events = POLLIN };
	while (open_fds > 0) {
		int left = (int)((deadline - mono_now()) * 1000);

		if (left <= 0) {
			res->timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(fds, 2, left) < 0 && errno != EINTR)
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
	close(out[0]);
	close(err[0]);
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	res->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	res->out = so.buf;
	res->err = se.buf;
	return 0;
}

void run_result_free(struct run_result *res)
{
	free(res->out);
	free(res->err);
}
