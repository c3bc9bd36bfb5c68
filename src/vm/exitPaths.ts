// The exit paths of a daxlab process with guests running: Ctrl-C, SIGTERM and SIGHUP stop
// every live guest cleanly (then exit with 128 + the signal); any exit at all, an
// exception of ours included, kills and reaps what is left synchronously.

/** What the exit paths need of a running guest. */
export type LiveGuest = { shutdown(): Promise<void>; killNow(): void };

/** Every live QEMU of this process. */
export const live = new Set<LiveGuest>();
let handlersInstalled = false;
/** The signal that is stopping us, or null (a live binding: read it where it is needed). */
export let stoppedBy: NodeJS.Signals | null = null;

/** The signal that is stopping us (Ctrl-C, SIGTERM), or null: nothing may start after one. */
export function interruption(): NodeJS.Signals | null {
  return stoppedBy;
}

export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    // Stay subscribed (process.on, not once): with no listener left, a second signal, or
    // signal-exit inside execa, would kill us before QEMU is reaped.
    if (stopping) return;
    stopping = true;
    stoppedBy = signal;
    process.stderr.write(`\ndaxlab: ${signal}: stopping the guest\n`);
    void Promise.allSettled([...live].map((s) => s.shutdown())).then(() => process.exit(code));
    // A shutdown that hangs must not keep us alive: the exit hook kills what is left.
    setTimeout(() => process.exit(code), 15_000).unref();
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('SIGHUP', () => onSignal('SIGHUP', 129));
  // Last resort on any exit, including an exception of ours: kill and reap synchronously.
  process.on('exit', () => {
    for (const s of live) s.killNow();
  });
}
