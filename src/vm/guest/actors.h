/* SPDX-License-Identifier: MIT */
/*
 * daxlab guest agent: actors. An actor is a forked process named after the actor
 * (its comm) that runs a scenario's actions one at a time, in order, connected to
 * the agent by a SOCK_SEQPACKET socketpair. The agent never blocks on an actor.
 *
 * Files: actors.c (the agent's registry of actors, the commands below), actor_main.c
 * (the actor process), op_table.c and ops_*.c (the ops and their syscalls),
 * verbs_main.c (daxlab-verbs), signals.c.
 *
 * Commands (see ActorOp and HostCommand in src/lab/protocol.ts):
 *   actor-start {actor, program?}  -> {pid, program}
 *                                  program "verbs": the actor runs in daxlab-verbs, the
 *                                  same loop built dynamically linked with libibverbs
 *                                  (rdma_reg_mr / rdma_dereg_mr), exec'ed on its socket
 *   actor-kill  {actor, signal?}   -> {pid, signal}          (default SIGKILL)
 *   act         {actor, op, ...}   -> {accepted: true, id}   then "action" messages
 * Messages: "action" (phase start/end), "signal" (a caught signal, e.g. the lease
 * break), "actor-exit" (status or signal).
 */
#ifndef DAXLAB_ACTORS_H
#define DAXLAB_ACTORS_H

#define ACTOR_NAME_MAX 16	/* comm: 15 characters and the NUL */
#define ACTORS_MAX 16

/* The actor's current mapping, or its last one: kept after munmap. */
struct actor_mapping {
	int valid;			/* the actor has mapped something */
	int mapped;			/* still mapped (0 after munmap or exit) */
	unsigned long addr;
	unsigned long length;
	int anonymous;			/* MAP_ANONYMOUS: no file */
	char path[256];			/* absolute path of the mapped file, "" when anonymous */
	long long offset;		/* file offset of addr */
	unsigned int gen;		/* bumped on every new mapping */
};

struct actor {
	char name[ACTOR_NAME_MAX];
	int pid;
	int alive;			/* 0 once reaped (the slot and its mapping are kept) */
	int busy;			/* inside an action: its "start" was relayed, its "end" not yet */
	struct actor_mapping map;
};

void actors_init(void);

/* Actors in start order, dead ones included (a name reused by actor-start reuses its slot). */
int actors_count(void);
const struct actor *actor_at(int i);
const struct actor *actor_find(const char *name);

/*
 * Called in the agent after an action's "end" message was relayed (op is the action's
 * op, e.g. "touch", "mmap") and after an actor was reaped (op is NULL). An observer can
 * read /proc/<pid>/pagemap of a->map here while the pages are still mapped.
 */
typedef void (*actor_listener)(const struct actor *a, const char *op);
int actors_add_listener(actor_listener fn);

/* signals.c: names as the protocol spells them: "SIGBUS", "SIGRTMIN+1", "EFAULT". */
void actor_signals_init(void);
const char *actor_signal_name(int sig);
int actor_signal_parse(const char *name);
const char *actor_errno_name(int err);

#endif
