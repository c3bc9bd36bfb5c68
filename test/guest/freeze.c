// SPDX-License-Identifier: MIT
/*
 * Freeze threads of a process with ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT, one
 * thread each) and hold them until killed: the other threads go on. On QEMU's vCPU
 * threads this is a guest whose kernel stopped running while QEMU itself still runs
 * and answers QMP. Test helper of the kill trials (test/guest/killTrial.ts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int frozen = 0;

	for (int i = 1; i < argc; i++) {
		pid_t tid = atoi(argv[i]);
		int status;

		if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) || ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
			fprintf(stderr, "freeze: thread %d: %s\n", tid, strerror(errno));
			continue;
		}
		if (waitpid(tid, &status, __WALL) == tid)
			frozen++;
	}
	printf("frozen %d\n", frozen);
	fflush(stdout);
	/*
	 * Hold them: a stop for a signal is left stopped (never resumed). A thread that dies
	 * (SIGKILL of its process) is reaped here, or its process could never be reaped by
	 * its parent; when none is left, the freezer is done.
	 */
	while (frozen > 0) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL);

		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			frozen--;
	}
	return 0;
}
