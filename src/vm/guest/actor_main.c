// SPDX-License-Identifier: MIT
/*
 * The actor process (see actors.h): a loop that receives one command (one SEQPACKET
 * record), reports "start", runs the op from the op table, reports "end". Each report
 * is one record, written with one send(), so the signal handler's records never
 * interleave with them. The same loop runs in daxlab-agent's forked children and in
 * daxlab-verbs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"

struct actor_self actor_self = { .fd = -1, .pipe = { -1, -1 } };

/* A touch: where a SIGBUS/SIGSEGV jumps back to. */
sigjmp_buf touch_env;
volatile sig_atomic_t touch_armed;
void *volatile fault_addr;

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (touch_armed) {
		touch_armed = 0;
		fault_addr = si->si_addr;
		siglongjmp(touch_env, sig);
	}
	/* Not ours: let the default action end the actor (the agent reports the signal). */
	signal(sig, SIG_DFL);
}

static size_t put_str(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n + 1 < cap)
		buf[n++] = *s++;
	return n;
}

static size_t put_uint(char *buf, size_t n, size_t cap, unsigned long long v, int width)
{
	char digits[24];
	int len = 0;

	do {
		digits[len++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (len < width)
		digits[len++] = '0';
	while (len && n + 1 < cap)
		buf[n++] = digits[--len];
	return n;
}

/*
 * A signal the actor reports (the lease break, SIGUSR1...). Async-signal-safe: no
 * json-c, no stdio; a preformatted record, one non-blocking send().
 */
static void report_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct timespec ts;
	char buf[256];
	size_t n = 0;

	(void)uc;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = put_str(buf, n, sizeof(buf), "{\"kind\":\"signal\",\"actor\":\"");
	n = put_str(buf, n, sizeof(buf), actor_self.name);
	n = put_str(buf, n, sizeof(buf), "\",\"pid\":");
	n = put_uint(buf, n, sizeof(buf), actor_self.pid, 1);
	n = put_str(buf, n, sizeof(buf), ",\"signal\":\"");
	n = put_str(buf, n, sizeof(buf), actor_signal_name(sig));
	n = put_str(buf, n, sizeof(buf), "\"");
	/* F_SETSIG signals carry the band in si_code and the fd in si_fd. */
	if (si && si->si_code >= POLL_IN && si->si_code <= POLL_HUP) {
		n = put_str(buf, n, sizeof(buf), ",\"fd\":");
		n = put_uint(buf, n, sizeof(buf), (unsigned int)si->si_fd, 1);
	}
	n = put_str(buf, n, sizeof(buf), ",\"t\":");
	n = put_uint(buf, n, sizeof(buf), ts.tv_sec, 1);
	n = put_str(buf, n, sizeof(buf), ".");
	n = put_uint(buf, n, sizeof(buf), ts.tv_nsec, 9);
	n = put_str(buf, n, sizeof(buf), "}");
	send(actor_self.sock, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	errno = saved;
}

int catch_signal(int sig)
{
	struct sigaction sa = { .sa_sigaction = report_handler, .sa_flags = SA_SIGINFO | SA_RESTART };

	if (sig == SIGKILL || sig == SIGSTOP || sig == SIGBUS || sig == SIGSEGV)
		return sig == SIGBUS || sig == SIGSEGV ? 0 : -1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		return -1;
	actor_self.caught[sig] = 1;
	return 0;
}

static void actor_send(struct json_object *msg)
{
	const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	while (send(actor_self.sock, text, strlen(text), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	json_object_put(msg);
}

static struct json_object *action_msg(int id, const char *op, const char *phase, double t)
{
	struct json_object *msg = json_object_new_object();

	jset(msg, "kind", json_object_new_string("action"));
	jset(msg, "id", json_object_new_int(id));
	jset(msg, "actor", json_object_new_string(actor_self.name));
	jset(msg, "op", json_object_new_string(op));
	jset(msg, "phase", json_object_new_string(phase));
	jset(msg, "t", jtime(t));
	return msg;
}

static void run_action(struct json_object *req)
{
	int id = jint(req, "id", -1);
	const char *op = jstr(req, "op", "");
	const struct actor_op *def = actor_op_find(op);
	struct outcome o = { .result = json_object_new_object() };
	struct json_object *end;
	double t0, t1;

	t0 = mono_now();
	actor_send(action_msg(id, op, "start", t0));
	errno = 0;
	if (def)
		o.ret = def->run(req, &o);
	else
		o.ret = refuse(&o, "unknown op");
	t1 = mono_now();
	end = action_msg(id, op, "end", t1);
	jset(end, "ret", json_object_new_int64(o.ret));
	if (o.err) {
		jset(end, "errno", json_object_new_int(o.err));
		jset(end, "error", json_object_new_string(actor_errno_name(o.err)));
	} else if (o.message) {
		jset(end, "error", json_object_new_string(o.message));
	}
	if (o.sig)
		jset(end, "signal", json_object_new_string(actor_signal_name(o.sig)));
	jset(end, "ms", jms(t1 - t0));
	jset(end, "result", o.result);
	actor_send(end);
	if (def && def->ends_actor)
		_exit((int)o.ret);
}

void actor_main(const char *name, int sock)
{
	static char buf[ACTOR_MSG_MAX];
	struct sigaction sa = { .sa_sigaction = fault_handler, .sa_flags = SA_SIGINFO };
	sigset_t all;

	/* Only the socket survives: the agent's channel and the observer's fds are not ours. */
	if (sock != 3) {
		dup2(sock, 3);
		sock = 3;
	}
	close_range(4, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, name);
	if (chdir("/"))
		_exit(127);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	snprintf(actor_self.name, sizeof(actor_self.name), "%s", name);
	actor_self.pid = getpid();
	actor_self.sock = sock;
	actor_self.page_size = sysconf(_SC_PAGESIZE);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	/* Reported when they arrive: SIGIO (a lease without F_SETSIG), SIGUSR1, SIGUSR2. */
	catch_signal(SIGIO);
	catch_signal(SIGUSR1);
	catch_signal(SIGUSR2);
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
		struct json_object *req;

		if (n == 0)
			_exit(0);	/* the agent is gone */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(126);
		}
		buf[n] = '\0';
		req = json_tokener_parse(buf);
		if (req)
			run_action(req);
		json_object_put(req);
	}
}
