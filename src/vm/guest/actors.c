// SPDX-License-Identifier: MIT
/*
 * daxlab guest agent: the actor registry (see actors.h). The agent keeps a slot per
 * actor: its socket (non-blocking), the actions it accepted and has not seen end, and
 * the actor's mapping as the actor reported it. Actors run actor_main() (actor_main.c)
 * in a forked child, or daxlab-verbs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "actors.h"
#include "ops.h"

#define VERBS_PROGRAM TOOL_DIR "/daxlab-verbs"
#define PENDING_MAX 64
#define LISTENERS_MAX 4

struct pending {
	int id;
	int started;
	double t_start;		/* guest monotonic time of its "start" */
	char op[24];
};

struct slot {
	struct actor pub;
	int sock;
	struct pending pending[PENDING_MAX];
	int nr_pending;
	int status;		/* wait status once reaped */
};

static struct slot slots[ACTORS_MAX];
static int nr_slots;
static actor_listener listeners[LISTENERS_MAX];
static int nr_listeners;

int actors_count(void)
{
	return nr_slots;
}

const struct actor *actor_at(int i)
{
	return i >= 0 && i < nr_slots ? &slots[i].pub : NULL;
}

static struct slot *slot_find(const char *name)
{
	for (int i = 0; i < nr_slots; i++)
		if (!strcmp(slots[i].pub.name, name))
			return &slots[i];
	return NULL;
}

const struct actor *actor_find(const char *name)
{
	struct slot *s = slot_find(name);

	return s ? &s->pub : NULL;
}

int actors_add_listener(actor_listener fn)
{
	if (nr_listeners == LISTENERS_MAX)
		return -1;
	listeners[nr_listeners++] = fn;
	return 0;
}

static void notify(struct slot *s, const char *op)
{
	for (int i = 0; i < nr_listeners; i++)
		listeners[i](&s->pub, op);
}

static void pending_remove(struct slot *s, int i)
{
	memmove(&s->pending[i], &s->pending[i + 1], (s->nr_pending - i - 1) * sizeof(s->pending[0]));
	s->nr_pending--;
}

/* Follow what the actor reports: which actions are running, its mapping. */
static void track(struct slot *s, struct json_object *msg)
{
	const char *kind = jstr(msg, "kind", ""), *phase = jstr(msg, "phase", ""), *op = jstr(msg, "op", "");
	struct json_object *result;
	int id = jint(msg, "id", -1), i;

	if (strcmp(kind, "action"))
		return;
	for (i = 0; i < s->nr_pending && s->pending[i].id != id; i++)
		;
	if (!strcmp(phase, "start")) {
		if (i < s->nr_pending) {
			s->pending[i].started = 1;
			s->pending[i].t_start = json_object_get_double(json_object_object_get(msg, "t"));
		}
		s->pub.busy = 1;
		return;
	}
	if (i < s->nr_pending)
		pending_remove(s, i);
	s->pub.busy = 0;
	if (jint(msg, "ret", -1) < 0 || !json_object_object_get_ex(msg, "result", &result))
		return;
	if (!strcmp(op, "mmap")) {
		struct actor_mapping *m = &s->pub.map;

		m->valid = 1;
		m->mapped = 1;
		m->addr = strtoul(jstr(result, "addr", "0"), NULL, 0);
		m->length = jint(result, "length", 0);
		m->anonymous = jbool(result, "anonymous", 0);
		snprintf(m->path, sizeof(m->path), "%s", jstr(result, "path", ""));
		m->offset = jint(result, "offset", 0);
		m->gen++;
	} else if (!strcmp(op, "munmap")) {
		s->pub.map.mapped = 0;
	}
}

/* Relay what the actor sent. Returns the number of records read. */
static int relay(struct slot *s, int max)
{
	static char buf[ACTOR_MSG_MAX];
	int count = 0;

	while (s->sock >= 0 && count < max) {
		ssize_t n = recv(s->sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		struct json_object *msg;
		char op[24];
		int end;

		if (n <= 0)
			break;
		count++;
		buf[n] = '\0';
		msg = json_tokener_parse(buf);
		if (!msg || !json_object_is_type(msg, json_type_object)) {
			json_object_put(msg);
			continue;
		}
		track(s, msg);
		end = !strcmp(jstr(msg, "kind", ""), "action") && !strcmp(jstr(msg, "phase", ""), "end");
		snprintf(op, sizeof(op), "%s", jstr(msg, "op", ""));
		channel_send(msg);
		if (end)
			notify(s, op);
	}
	return count;
}

static void on_actor_socket(int fd, short revents, void *ctx)
{
	struct slot *s = ctx;

	(void)fd;
	/* Readable and nothing to read: the actor closed its end (it died). The tick reaps it. */
	if (!relay(s, 64) && (revents & (POLLIN | POLLHUP | POLLERR)))
		agent_unwatch_fd(s->sock);
}

static void send_orphan_end(struct slot *s, struct pending *p)
{
	struct json_object *msg = json_object_new_object();
	int st = s->status;

	jset(msg, "kind", json_object_new_string("action"));
	jset(msg, "id", json_object_new_int(p->id));
	jset(msg, "actor", json_object_new_string(s->pub.name));
	jset(msg, "op", json_object_new_string(p->op));
	jset(msg, "phase", json_object_new_string("end"));
	jset(msg, "ret", json_object_new_int(-1));
	if (!p->started) {
		/* Queued behind the action the actor died in: never ran. */
		jset(msg, "errno", json_object_new_int(ECANCELED));
		jset(msg, "error", json_object_new_string(actor_errno_name(ECANCELED)));
	} else if (WIFSIGNALED(st)) {
		jset(msg, "signal", json_object_new_string(actor_signal_name(WTERMSIG(st))));
	} else {
		jset(msg, "error", json_object_new_string("the actor exited during the action"));
	}
	if (p->started)
		jset(msg, "ms", jms(mono_now() - p->t_start));
	channel_send(msg);
}

static void reap(struct slot *s, int status)
{
	struct json_object *msg = json_object_new_object();

	s->status = status;
	relay(s, INT_MAX);
	agent_unwatch_fd(s->sock);
	close(s->sock);
	s->sock = -1;
	for (int i = 0; i < s->nr_pending; i++)
		send_orphan_end(s, &s->pending[i]);
	s->nr_pending = 0;
	s->pub.alive = 0;
	s->pub.busy = 0;
	s->pub.map.mapped = 0;
	jset(msg, "kind", json_object_new_string("actor-exit"));
	jset(msg, "actor", json_object_new_string(s->pub.name));
	jset(msg, "pid", json_object_new_int(s->pub.pid));
	if (WIFSIGNALED(status))
		jset(msg, "signal", json_object_new_string(actor_signal_name(WTERMSIG(status))));
	else
		jset(msg, "status", json_object_new_int(WEXITSTATUS(status)));
	channel_send(msg);
	notify(s, NULL);
}

/* waitpid per actor, never waitpid(-1): exec's children are run.c's to reap. */
static void actors_tick(double now)
{
	(void)now;
	for (int i = 0; i < nr_slots; i++) {
		struct slot *s = &slots[i];
		int status;

		if (s->pub.alive && waitpid(s->pub.pid, &status, WNOHANG) == s->pub.pid)
			reap(s, status);
	}
}

static int valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len >= ACTOR_NAME_MAX)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* The child of actor-start for program "verbs": the socket on fd 3, then exec. */
static void __attribute__((noreturn)) exec_verbs(const char *name, int sock)
{
	sigset_t none;

	if (sock != 3) {
		dup2(sock, 3);		/* the copy has no FD_CLOEXEC */
	} else {
		fcntl(3, F_SETFD, 0);
	}
	close_range(4, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(VERBS_PROGRAM, "daxlab-verbs", name, (char *)NULL);
	_exit(127);
}

static void cmd_actor_start(int id, struct json_object *req)
{
	const char *name = jstr(req, "actor", ""), *program = jstr(req, "program", "agent");
	struct json_object *result;
	struct slot *s = slot_find(name);
	int sv[2], verbs = !strcmp(program, "verbs");
	pid_t pid;

	if (!valid_name(name)) {
		send_error(id, "actor-start", "actor names are 1-15 characters of [A-Za-z0-9_.-]", name);
		return;
	}
	if (!verbs && strcmp(program, "agent")) {
		send_error(id, "actor-start", "program is \"agent\" (the default) or \"verbs\"", program);
		return;
	}
	if (verbs && access(VERBS_PROGRAM, X_OK)) {
		send_error(id, "actor-start", "this guest image has no " VERBS_PROGRAM " (host without libibverbs-dev?)", name);
		return;
	}
	if (s && s->pub.alive) {
		send_error(id, "actor-start", "an actor of that name is running", name);
		return;
	}
	if (!s && nr_slots == ACTORS_MAX) {
		send_error(id, "actor-start", "too many actors", NULL);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		send_error(id, "actor-start", strerror(errno), "socketpair");
		return;
	}
	pid = fork();
	if (pid < 0) {
		send_error(id, "actor-start", strerror(errno), "fork");
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		if (verbs)
			exec_verbs(name, sv[1]);
		actor_main(name, sv[1]);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (!s)
		s = &slots[nr_slots++];
	memset(s, 0, sizeof(*s));
	snprintf(s->pub.name, sizeof(s->pub.name), "%s", name);
	s->pub.pid = pid;
	s->pub.alive = 1;
	s->sock = sv[0];
	agent_watch_fd(s->sock, POLLIN, on_actor_socket, s);
	result = json_object_new_object();
	jset(result, "pid", json_object_new_int(pid));
	jset(result, "program", json_object_new_string(verbs ? "verbs" : "agent"));
	send_reply(id, result);
}

static struct slot *running_actor(int id, const char *stage, struct json_object *req)
{
	const char *name = jstr(req, "actor", "");
	struct slot *s = slot_find(name);
	char msg[128];

	if (!s) {
		send_error(id, stage, "no such actor", name);
		return NULL;
	}
	if (!s->pub.alive) {
		if (WIFSIGNALED(s->status))
			snprintf(msg, sizeof(msg), "the actor is dead (killed by %s)", actor_signal_name(WTERMSIG(s->status)));
		else
			snprintf(msg, sizeof(msg), "the actor is dead (exited with status %d)", WEXITSTATUS(s->status));
		send_error(id, stage, msg, name);
		return NULL;
	}
	return s;
}

static void cmd_actor_kill(int id, struct json_object *req)
{
	const char *signame = jstr(req, "signal", "SIGKILL");
	int sig = actor_signal_parse(signame);
	struct slot *s = running_actor(id, "actor-kill", req);
	struct json_object *result;

	if (!s)
		return;
	if (sig < 0) {
		send_error(id, "actor-kill", "unknown signal", signame);
		return;
	}
	if (kill(s->pub.pid, sig)) {
		send_error(id, "actor-kill", strerror(errno), NULL);
		return;
	}
	result = json_object_new_object();
	jset(result, "pid", json_object_new_int(s->pub.pid));
	jset(result, "signal", json_object_new_string(actor_signal_name(sig)));
	send_reply(id, result);
}

static void cmd_act(int id, struct json_object *req)
{
	const char *op = jstr(req, "op", "");
	struct slot *s;
	struct json_object *result;
	const char *text;

	if (!actor_op_find(op)) {
		send_error(id, "act", "unknown op", op);
		return;
	}
	s = running_actor(id, "act", req);
	if (!s)
		return;
	if (s->nr_pending == PENDING_MAX) {
		send_error(id, "act", "the actor has too many actions queued", s->pub.name);
		return;
	}
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(text) >= ACTOR_MSG_MAX) {
		send_error(id, "act", "command too long for an actor", NULL);
		return;
	}
	/* Non-blocking: an actor stuck in a syscall must never stall the agent. */
	if (send(s->sock, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		send_error(id, "act", errno == EAGAIN ? "the actor's command queue is full" : strerror(errno),
			   s->pub.name);
		return;
	}
	s->pending[s->nr_pending].id = id;
	s->pending[s->nr_pending].started = 0;
	snprintf(s->pending[s->nr_pending].op, sizeof(s->pending[0].op), "%s", op);
	s->nr_pending++;
	result = json_object_new_object();
	jset(result, "accepted", json_object_new_boolean(1));
	jset(result, "id", json_object_new_int(id));
	send_reply(id, result);
}

void actors_init(void)
{
	actor_signals_init();
	agent_register_cmd("actor-start", cmd_actor_start);
	agent_register_cmd("actor-kill", cmd_actor_kill);
	agent_register_cmd("act", cmd_act);
	agent_register_tick(actors_tick);
}
