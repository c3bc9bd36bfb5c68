// SPDX-License-Identifier: MIT
/*
 * daxlab-verbs: the actor loop again, built as a dynamically linked program so that
 * libibverbs can load its provider (rxe). The agent forks, puts the actor's socket
 * on fd 3 and execs us (program "verbs" of actor-start).
 */
#include <fcntl.h>
#include <stdio.h>

#include "ops.h"

int main(int argc, char **argv)
{
	if (argc != 2 || fcntl(3, F_GETFD) < 0) {
		fprintf(stderr, "usage: daxlab-verbs <actor name>, with the agent's socket on fd 3\n");
		return 2;
	}
	actor_signals_init();
	actor_main(argv[1], 3);
}
