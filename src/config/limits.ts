// The bounds every scenario and profile is held to before anything boots. The schema says
// what shape a value has; this says whether the value makes sense for the lab: a mapping
// the guest can hold, a duration a run can wait, a path inside the lab's directories, a
// signal Linux has, a page inside the mapping it indexes. A mistake found here is the
// scenario's, "could not test" (125), never a kernel finding.
import { parseDuration, parseSize } from './units.js';
import { ACTOR_OP_NAMES, ACTOR_OPS } from '../wire/ops.js';

export const LIMITS = {
  /** A scenario or profile file larger than this is not one a person wrote. */
  fileBytes: 4 * 2 ** 20,
  /** Nesting depth of untrusted JSON (scenarios need about 8). */
  depth: 48,
  /** Values (objects, arrays, scalars) in one untrusted document. */
  nodes: 200_000,
  /** One string. */
  stringLength: 16 * 2 ** 10,
  /** A size in a scenario: a file or a mapping on the lab's NVDIMM or tmpfs. */
  scenarioBytes: 2 ** 40,
  /** A duration in a scenario (a sleep, a timeout, a time bound). */
  scenarioMs: 60 * 60_000,
  /** The guest's RAM and each NVDIMM: QEMU and the guest kernel need at least this much. */
  memoryMin: 256 * 2 ** 20,
  memoryMax: 256 * 2 ** 30,
  nvdimmMin: 128 * 2 ** 20,
  nvdimmMax: 2 ** 40,
  /** QEMU takes memory sizes in whole MiB here (and NVDIMM labels align to 2 MiB). */
  memoryAlign: 2 * 2 ** 20,
  /**
   * The boot watchdog. 0 and timer overflows are refused; a second is allowed although no
   * kernel boots that fast: it is how a user (and the hung-boot test) sees the watchdog fire.
   */
  bootTimeoutMinMs: 1_000,
  bootTimeoutMaxMs: 60 * 60_000,
  /**
   * A step's `timeout` (how long its synchronous action may take before the run calls it
   * hung, a violated "returns": exit 1). Below this, the lab's own round trip to the agent
   * would be reported as the kernel's hang; a timeout of 0 made every action a finding.
   */
  actionTimeoutMinMs: 100,
} as const;

export type Problem = { path: PropertyKey[]; message: string };

// ---------------------------------------------------------------------------------------
// Untrusted JSON as a whole: depth, size, control characters, a byte-order mark.

/**
 * Control characters in text would reach the user's terminal (escape sequences in a
 * title): every string becomes safe to print, with visible pictures instead.
 */
export function neutralise(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u0080-\u009f]/g, (ch) => {
    const code = ch.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return '\ufffd';
  });
}

/** JSON text as people save it: a UTF-8 byte-order mark (some editors write one) is not an error. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Walk untrusted JSON without recursion (a 100,000-level document must not overflow our
 * stack): problems with depth, size and string length, and a copy whose strings are safe
 * to print. The copy is returned only when there are no problems.
 */
export function checkDocument(data: unknown): { data: unknown; problems: Problem[] } {
  const problems: Problem[] = [];
  let nodes = 0;
  const root: { v: unknown } = { v: undefined };
  type Frame = { value: unknown; path: PropertyKey[]; set: (v: unknown) => void };
  const stack: Frame[] = [{ value: data, path: [], set: (v) => (root.v = v) }];
  while (stack.length) {
    const { value, path, set } = stack.pop()!;
    if (++nodes > LIMITS.nodes) {
      problems.push({ path: [], message: `more than ${LIMITS.nodes} values: not a document a person wrote` });
      break;
    }
    if (path.length > LIMITS.depth) {
      problems.push({ path: path.slice(0, 6), message: `nested deeper than ${LIMITS.depth} levels` });
      break;
    }
    if (typeof value === 'string') {
      if (value.length > LIMITS.stringLength) problems.push({ path, message: `a string of ${value.length} characters (at most ${LIMITS.stringLength})` });
      set(neutralise(value));
    } else if (Array.isArray(value)) {
      const copy: unknown[] = new Array(value.length);
      set(copy);
      value.forEach((v, i) => stack.push({ value: v, path: [...path, i], set: (x) => (copy[i] = x) }));
    } else if (value !== null && typeof value === 'object') {
      const copy: Record<string, unknown> = {};
      set(copy);
      for (const [k, v] of Object.entries(value)) {
        // A key named __proto__ must stay a key: define, never assign.
        stack.push({ value: v, path: [...path, k], set: (x) => Object.defineProperty(copy, k, { value: x, enumerable: true, writable: true, configurable: true }) });
      }
    } else set(value);
    if (problems.length >= 20) break;
  }
  return { data: problems.length ? data : root.v, problems };
}

/** Parse untrusted JSON text, after the checks a file gets: size, BOM. */
export function parseDocument(text: string): unknown {
  if (text.length > LIMITS.fileBytes) throw new Error(`${text.length} bytes: larger than ${LIMITS.fileBytes} bytes, not a file a person wrote`);
  return JSON.parse(stripBom(text));
}

// ---------------------------------------------------------------------------------------
// Values.

const signalNames = new Set([
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'IOT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM',
  'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'POLL', 'PWR', 'SYS',
]);

/** A signal as the agent spells it: "SIGKILL", "KILL", "SIGRTMIN+1", "RTMAX-2", "9". */
export function signalProblem(text: string): string | null {
  const name = text.toUpperCase().replace(/^SIG/, '');
  if (signalNames.has(name)) return null;
  const rt = /^RTM(IN|AX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const n = Number(rt[3] ?? 0);
    if ((rt[1] === 'IN' && rt[2] !== '-' && n <= 30) || (rt[1] === 'AX' && rt[2] !== '+' && n <= 30)) return null;
  }
  if (/^\d+$/.test(name) && Number(name) >= 1 && Number(name) <= 64) return null;
  return `"${text}" is not a Linux signal (examples: SIGKILL, SIGTERM, SIGIO, SIGRTMIN+1)`;
}

/**
 * A signal an expectation waits for is compared with what the agent reports ("SIGIO",
 * "SIGRTMIN+1"): "IO", "sigio" or "29" would never match, a violated expectation (exit 1)
 * of the scenario's own making. `kill` takes any spelling; expectations take that one.
 */
export function expectedSignalProblem(text: string): string | null {
  const name = text.toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(name)) return `"${text}": an expectation names the signal as the agent reports it (SIGKILL, SIGIO, ...), not by number`;
  return text === `SIG${name}` ? null : `"${text}": write it as the agent reports it, "SIG${name}" (it is compared as written)`;
}

/** mmap flags the agent knows by name (src/vm/guest/ops_mmap.c), or a number. */
export const MMAP_FLAGS = [
  'MAP_SHARED', 'MAP_PRIVATE', 'MAP_SHARED_VALIDATE', 'MAP_SYNC', 'MAP_POPULATE', 'MAP_ANONYMOUS', 'MAP_ANON',
  'MAP_NORESERVE', 'MAP_LOCKED', 'MAP_HUGETLB', 'MAP_FIXED_NOREPLACE',
] as const;

export function mmapFlagProblem(text: string): string | null {
  if ((MMAP_FLAGS as readonly string[]).includes(text)) return null;
  if (/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(text) && Number(text) <= 0xffffffff) return null;
  return `"${text}" is not an mmap flag (one of ${MMAP_FLAGS.join(', ')}, or a number such as "0x80000")`;
}

/**
 * Paths a scenario names live inside the lab: relative to the run's directory on the DAX
 * mount, "$tmp/..." on the guest's tmpfs, or one of the lab's devices ("$devdax",
 * "$nullb"). Never absolute, never "..": a scenario must not reach the guest's /etc.
 */
export function pathProblem(text: string): string | null {
  if (text === '$devdax' || text === '$nullb') return null;
  const rest = text.startsWith('$tmp/') ? text.slice(5) : text;
  const how = 'a path relative to the run\'s directory ("victim"), "$tmp/name" on tmpfs, "$devdax" or "$nullb"';
  if (rest.startsWith('/')) return `"${text}" is absolute: scenarios name ${how}`;
  if (rest.startsWith('$')) return `"${text}": the only variables are $tmp/, $devdax and $nullb`;
  if (rest.split('/').some((part) => part === '..')) return `"${text}" leaves the lab's directory (".."): scenarios name ${how}`;
  if (!rest || rest.includes('\0') || rest.length > 255) return `"${text}" is not ${how}`;
  return null;
}

export function sizeProblem(value: string | number, max: number = LIMITS.scenarioBytes): string | null {
  let bytes: number;
  try {
    bytes = parseSize(value);
  } catch (err) {
    return (err as Error).message;
  }
  if (!Number.isSafeInteger(bytes) || bytes < 0) return `${JSON.stringify(value)} is not a size a run can use`;
  if (bytes > max) return `${JSON.stringify(value)} is larger than ${max / 2 ** 30} GiB`;
  return null;
}

/** A duration's milliseconds when it names no guest quantity; null otherwise (or when it does not parse). */
function constantMs(value: string | number): number | null {
  if (typeof value === 'number') return value;
  let ms = 0;
  let sign = 1;
  for (const term of value.trim().split(/\s+([+-])\s+/)) {
    if (term === '+' || term === '-') sign = term === '+' ? 1 : -1;
    else {
      try {
        ms += sign * parseDuration(term);
      } catch {
        return null;
      }
    }
  }
  return ms;
}

/**
 * A step's `timeout` for its synchronous action: long enough for the lab's round trip, and
 * longer than the action's own sleep (else the step is a "hang" of the scenario's making).
 */
export function actionTimeoutProblem(timeout: string | number, op: { op?: unknown; for?: unknown } | undefined): string | null {
  const ms = constantMs(timeout);
  if (ms === null) return null;
  if (ms < LIMITS.actionTimeoutMinMs) {
    return `${JSON.stringify(timeout)}: an action's timeout is at least ${LIMITS.actionTimeoutMinMs} ms (shorter, the lab's own round trip to the guest would be reported as a hang)`;
  }
  const sleep = op?.op === 'sleep' && (typeof op.for === 'string' || typeof op.for === 'number') ? constantMs(op.for) : null;
  if (sleep !== null && sleep >= ms) return `${JSON.stringify(timeout)} is not longer than the step's own sleep (${JSON.stringify(op!.for)}): the sleep would be reported as a hang`;
  return null;
}

/**
 * A scenario's duration: a sum of durations and guest quantities (src/lab/scenario.ts
 * parses it; guest quantities are taken as 0 here, the run checks them again). The
 * constant part must not be negative and must be within what a run can wait.
 */
export function durationProblem(value: string | number, max: number = LIMITS.scenarioMs): string | null {
  let ms = 0;
  let namesGuest = false;
  if (typeof value === 'number') ms = value;
  else {
    let sign = 1;
    for (const term of value.trim().split(/\s+([+-])\s+/)) {
      if (term === '+' || term === '-') sign = term === '+' ? 1 : -1;
      else if (/^[a-z][a-z-]*$/.test(term)) namesGuest = true;
      else {
        try {
          ms += sign * parseDuration(term);
        } catch {
          return null; // the schema reports the syntax
        }
      }
    }
  }
  if (!Number.isFinite(ms)) return `${JSON.stringify(value)} is not a finite duration`;
  if (ms < 0 && !namesGuest) return `${JSON.stringify(value)} is negative`;
  if (ms > max) return `${JSON.stringify(value)} is longer than ${max / 60_000} minutes`;
  return null;
}

// ---------------------------------------------------------------------------------------
// A parsed scenario, every value.

const DURATION_KEYS = new Set(['within', 'for', 'notBefore', 'idleWithin', 'timeout', 'blockedLongerThan', 'completion']);
/** The actor ops that name pages of the actor's mapping (from the op catalogue). */
const PAGE_OPS = new Set<string>(ACTOR_OP_NAMES.filter((name) => 'pages' in ACTOR_OPS[name].scenario.shape));
const PAGE = 4096;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The values of a scenario that passed the schema: durations, signals, sizes, mmap flags,
 * paths, and page indexes against the mapping they index (the actor's largest mapping
 * so far; a page outside it would be a SIGBUS of our making, not the kernel's).
 */
export function scenarioValueProblems(scenario: { steps: unknown[]; hangDetector?: unknown; needs?: unknown }): Problem[] {
  const problems: Problem[] = [];
  const add = (path: PropertyKey[], message: string | null) => {
    if (message) problems.push({ path, message });
  };
  // Durations and signals wherever they are: predicates nest (waitFor.until, expect[]).
  const walk = (value: unknown, path: PropertyKey[], depth: number) => {
    if (depth > LIMITS.depth) return;
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, [...path, i], depth + 1));
    if (!isObject(value)) return;
    for (const [key, v] of Object.entries(value)) {
      const at = [...path, key];
      if (DURATION_KEYS.has(key) && (typeof v === 'string' || typeof v === 'number')) add(at, durationProblem(v));
      else if (key === 'signal' && typeof v === 'string') add(at, signalProblem(v) ?? (at.includes('expect') || at.includes('until') ? expectedSignalProblem(v) : null));
      else if (key !== 'result' && key !== 'where') walk(v, at, depth + 1);
    }
  };
  walk({ hangDetector: scenario.hangDetector, needs: scenario.needs }, [], 0);
  const mapped = new Map<string, number>();
  scenario.steps.forEach((raw, i) => {
    if (!isObject(raw)) return;
    const path: PropertyKey[] = ['steps', i];
    walk(raw, path, 0);
    const actor = typeof raw.actor === 'string' ? raw.actor : undefined;
    const op = isObject(raw.do) ? raw.do : undefined;
    const pagesWithin = (pages: unknown, who: string | undefined, at: PropertyKey[]) => {
      if (!Array.isArray(pages) || !who) return;
      const limit = mapped.get(who);
      if (limit === undefined) return add(at, `${who} has no mapping at this step: an mmap step of ${who} comes first`);
      const outside = pages.filter((p) => typeof p === 'number' && p >= limit);
      if (outside.length) add(at, `page ${outside[0]} is outside ${who}'s mapping (${limit} page${limit === 1 ? '' : 's'}: indexes 0..${limit - 1})`);
    };
    // The timeout of an action the step waits for (an async one is not waited for).
    const timeout = raw.timeout;
    if ((typeof timeout === 'string' || typeof timeout === 'number') && op && raw.async !== true && !durationProblem(timeout)) add([...path, 'timeout'], actionTimeoutProblem(timeout, op));
    if (op) {
      for (const key of ['length', 'offset', 'size'] as const) {
        const v = op[key];
        if (typeof v === 'string' || typeof v === 'number') add([...path, 'do', key], sizeProblem(v));
      }
      if (Array.isArray(op.flags)) op.flags.forEach((f, k) => typeof f === 'string' && add([...path, 'do', 'flags', k], mmapFlagProblem(f)));
      for (const key of ['path', 'device'] as const) if (typeof op[key] === 'string') add([...path, 'do', key], pathProblem(op[key]));
      // A length already refused says enough: its pages are not checked against it.
      if (op.op === 'mmap' && actor && sizeProblem(op.length as string | number)) mapped.set(actor, Infinity);
      else if (op.op === 'mmap' && actor) {
        const pages = Math.ceil(parseSize(op.length as string | number) / PAGE);
        if (pages === 0) add([...path, 'do', 'length'], 'a mapping of 0 bytes (mmap refuses it)');
        mapped.set(actor, Math.max(mapped.get(actor) ?? 0, pages));
      }
      if (PAGE_OPS.has(String(op.op))) pagesWithin(op.pages, actor, [...path, 'do', 'pages']);
    }
    if (isObject(raw.watch)) pagesWithin(raw.watch.pages, (raw.watch.actor as string | undefined) ?? actor, [...path, 'watch', 'pages']);
    if (isObject(raw.race) && typeof raw.race.file === 'string') add([...path, 'race', 'file'], pathProblem(raw.race.file));
  });
  return problems;
}
