// SPDX-License-Identifier: MIT
/* Signal and errno names as the protocol spells them: "SIGBUS", "SIGRTMIN+1", "EFAULT". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors.h"

static char sig_names[_NSIG][24];

void actor_signals_init(void)
{
	for (int sig = 1; sig < _NSIG; sig++) {
		const char *abbrev = sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

		if (abbrev)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIG%s", abbrev);
		else if (sig == SIGRTMIN)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIGRTMIN");
		else if (sig == SIGRTMAX)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIGRTMAX");
		else if (sig > SIGRTMIN && sig < SIGRTMAX)
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIGRTMIN+%d", sig - SIGRTMIN);
		else
			snprintf(sig_names[sig], sizeof(sig_names[sig]), "SIG%d", sig);
	}
}

/* Async-signal-safe once sig_names_init() ran (the table is only read). */
const char *actor_signal_name(int sig)
{
	if (sig <= 0 || sig >= _NSIG)
		return "SIG?";
	return sig_names[sig];
}

/* "SIGIO", "IO", "SIGRTMIN+1", "RTMAX-2", "9": the signal number, or -1. */
int actor_signal_parse(const char *name)
{
	char *end;
	long n;

	if (!name || !*name)
		return -1;
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	n = strtol(name, &end, 10);
	if (end != name && !*end)
		return n > 0 && n < _NSIG ? (int)n : -1;
	if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
		int base = !strncasecmp(name, "RTMIN", 5) ? SIGRTMIN : SIGRTMAX;

		name += 5;
		n = 0;
		if (*name) {
			n = strtol(name, &end, 10);
			if (end == name || *end)
				return -1;
		}
		n += base;
		return n >= SIGRTMIN && n <= SIGRTMAX ? (int)n : -1;
	}
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && !strcasecmp(abbrev, name))
			return sig;
	}
	return -1;
}

/* "EFAULT": errno names as the protocol spells them. */
const char *actor_errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "E?";
}
