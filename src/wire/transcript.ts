// Transcripts: every line of a run, written as it happens, replayable into the same state.
//
// Format (JSONL, one record a line, UTF-8, each line ends with "\n"):
//   {"dir":"meta","format":"daxlab-transcript","version":1,"wall":"2026-11-21T11:40:00.000Z"}   first line
//   {"dir":"agent","ms":1520.3,"line":"<the agent's raw line, exactly as received>"}
//   {"dir":"host","ms":1520.4,"msg":{"kind":"command","t":9.31,"id":7,"command":{"cmd":"act",...}}}
// `ms` is host time in milliseconds since the recorder opened (for pacing a replay and for
// seeing host-side latency); `t` inside messages is the guest clock. Agent lines are kept
// raw, so a malformed or cut line is in the transcript as the host received it. Host
// records carry a HostNote (protocol.ts): run-start, run-end, command, protocol-error.
//
// Writing: one synchronous write(2) per record on a file opened for this run, so a
// crash of daxlab loses nothing it had written (the kernel has the bytes); close()
// fsyncs. A few microseconds a record: far below a 50 Hz snapshot stream.
//
// Replay re-validates each agent line with an AgentLineDecoder (snapshot deltas rebuilt into
// full snapshots, as the live channel does) and turns a bad one into the
// same protocol-error message the live path makes, stamped with the same `t`: folding
// a replay gives the state the live run had. A protocol-error host record right after
// the agent line it was made from is therefore not repeated on replay; any other one
// (none is written today) is replayed as recorded.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { AgentLink } from './link.js';
import {
  AgentLineDecoder,
  hostNote,
  ProtocolError,
  type AgentMessage,
  type CommandNote,
  type HostCommand,
  type HostMessage,
  type HostNote,
  type ProtocolErrorNote,
  type RunEndNote,
  type RunStartNote,
} from './protocol.js';

export const TRANSCRIPT_FORMAT = 'daxlab-transcript';
export const TRANSCRIPT_VERSION = 1;

export type TranscriptHeader = { dir: 'meta'; format: typeof TRANSCRIPT_FORMAT; version: number; wall?: string };
export type TranscriptRecord =
  | TranscriptHeader
  | { dir: 'agent'; ms: number; line: string }
  | { dir: 'host'; ms: number; msg: HostNote };

// ---------------------------------------------------------------------------------------
// The live path's conversions, shared with replay so both make identical messages.

/** The protocol-error message for a line the agent sent that is not valid protocol. */
export function protocolErrorMessage(err: { message: string; line: string }, t: number): ProtocolErrorNote {
  return { kind: 'protocol-error', t, message: err.message, line: err.line };
}

/** The command message for a command as the channel wrote it (id included). */
export function commandMessage(wire: { id: number } & HostCommand, t: number): CommandNote {
  const { id, ...command } = wire;
  return { kind: 'command', t, id, command: command as HostCommand };
}

/** Host-side notes take the guest time of the latest agent message seen (never moving back). */
function advance(t: number, m: AgentMessage): number {
  return Math.max(t, m.t);
}

// ---------------------------------------------------------------------------------------
// Writing.

export type RecorderOptions = {
  /** Milliseconds, monotonic (default performance.now). */
  clock?: () => number;
  /** The header's wall-clock time (default: now). */
  wall?: string;
};

export class TranscriptRecorder {
  records = 0;
  bytes = 0;
  /** The first write error; after it nothing more is written and `unwritten` counts what was lost. */
  error: Error | null = null;
  unwritten = 0;
  private fd: number | null;
  private readonly clock: () => number;
  private readonly t0: number;

  private constructor(
    readonly file: string,
    fd: number,
    options: RecorderOptions,
  ) {
    this.fd = fd;
    this.clock = options.clock ?? (() => performance.now());
    this.t0 = this.clock();
    const header: TranscriptHeader = {
      dir: 'meta',
      format: TRANSCRIPT_FORMAT,
      version: TRANSCRIPT_VERSION,
      wall: options.wall ?? new Date().toISOString(),
    };
    this.write(header);
  }

  /** Create (or overwrite) a transcript file and write its header. Throws when the file cannot be opened. */
  static open(file: string, options: RecorderOptions = {}): TranscriptRecorder {
    return new TranscriptRecorder(file, fs.openSync(file, 'w'), options);
  }

  get closed(): boolean {
    return this.fd === null;
  }

  /** An agent line, raw. */
  agent(line: string): void {
    this.write({ dir: 'agent', ms: this.ms(), line });
  }

  /** A host-side note (run-start, run-end, command, protocol-error). */
  host(msg: HostNote): void {
    this.write({ dir: 'host', ms: this.ms(), msg });
  }

  /** fsync and close; later records count as unwritten. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fs.fsyncSync(fd);
    } catch (err) {
      this.error ??= err as Error;
    }
    fs.closeSync(fd);
  }

  private ms(): number {
    return Math.round((this.clock() - this.t0) * 10) / 10;
  }

  // Never throws: a recorder sits in channel listeners, and a full disk must not take the
  // run down. The first error is kept for the caller to report.
  private write(record: TranscriptRecord): void {
    if (this.fd === null || this.error) {
      this.unwritten++;
      return;
    }
    const buf = Buffer.from(`${JSON.stringify(record)}\n`);
    try {
      let off = 0;
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off);
    } catch (err) {
      this.error = err as Error;
      this.unwritten++;
      return;
    }
    this.records++;
    this.bytes += buf.length;
  }
}

// ---------------------------------------------------------------------------------------
// Following a live channel.

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RunNoteInput = DistributiveOmit<RunStartNote | RunEndNote, 't'>;

export type RunFeed = {
  /** Guest time of the latest agent message seen (0 before the first). */
  readonly lastT: number;
  /** Stamp a run-start / run-end with lastT, record it and dispatch it. */
  note(input: RunNoteInput): HostNote;
  /** Stop listening (the recorder stays open: close it yourself). */
  detach(): void;
};

/**
 * The live message stream of a channel: agent messages, protocol errors and the commands
 * the host sent, as HostMessages in the order they happened — dispatched to the reducer
 * and/or written to a transcript.
 */
export function followChannel(
  channel: AgentLink,
  options: { dispatch?: (message: HostMessage) => void; recorder?: TranscriptRecorder },
): RunFeed {
  const { dispatch, recorder } = options;
  let lastT = 0;
  const onLine = (line: string) => recorder?.agent(line);
  const onMessage = (m: AgentMessage) => {
    lastT = advance(lastT, m);
    dispatch?.(m);
  };
  const onProtocolError = (err: ProtocolError) => {
    const note = protocolErrorMessage(err, lastT);
    recorder?.host(note);
    dispatch?.(note);
  };
  const onSent = (wire: { id: number } & HostCommand) => {
    const note = commandMessage(wire, lastT);
    recorder?.host(note);
    dispatch?.(note);
  };
  channel.on('line', onLine);
  channel.on('message', onMessage);
  channel.on('protocol-error', onProtocolError);
  channel.on('sent', onSent);
  return {
    get lastT() {
      return lastT;
    },
    note(input) {
      const note = { ...input, t: lastT } as HostNote;
      recorder?.host(note);
      dispatch?.(note);
      return note;
    },
    detach() {
      channel.off('line', onLine);
      channel.off('message', onMessage);
      channel.off('protocol-error', onProtocolError);
      channel.off('sent', onSent);
    },
  };
}

/** Record everything a channel receives and sends. */
export function attachRecorder(channel: AgentLink, recorder: TranscriptRecorder): RunFeed {
  return followChannel(channel, { recorder });
}

// ---------------------------------------------------------------------------------------
// Replay.

export type TranscriptProblem = {
  /** 1-based line number in the transcript. */
  lineNo: number;
  /**
   * truncated: the last line has no newline and does not parse (the writer died mid-line);
   * corrupt: a complete line that is not a transcript record; empty: no header at all.
   */
  kind: 'truncated' | 'corrupt' | 'empty';
  detail: string;
  /** The start of the offending text. */
  text: string;
};

export type ReplayItem =
  | { type: 'header'; header: TranscriptHeader }
  | { type: 'message'; ms: number; message: HostMessage }
  | { type: 'problem'; problem: TranscriptProblem };

export type ReplayEntry = { ms: number; message: HostMessage };

export type Replay = {
  header: TranscriptHeader | null;
  entries: ReplayEntry[];
  messages: HostMessage[];
  problems: TranscriptProblem[];
};

/** The transcript's lines, split on "\n" bytes (never inside a UTF-8 sequence), read in chunks. */
function* lines(file: string): Generator<{ lineNo: number; text: string; terminated: boolean }> {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry: Buffer = Buffer.alloc(0);
    let lineNo = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
        yield { lineNo: ++lineNo, text: data.toString('utf8', start, nl), terminated: true };
        start = nl + 1;
      }
      carry = Buffer.from(data.subarray(start)); // a copy: `chunk` is reused
    }
    if (carry.length) yield { lineNo: ++lineNo, text: carry.toString('utf8'), terminated: false };
  } finally {
    fs.closeSync(fd);
  }
}

const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

/**
 * Read a transcript back as the message sequence the live run produced. Damage (a cut
 * last line, a corrupt line) is reported as a problem, never thrown; a file that is not
 * a daxlab transcript at all (or a newer version of it) throws.
 */
export function* readTranscript(file: string): Generator<ReplayItem> {
  let headerSeen = false;
  let lastT = 0;
  /** Snapshot deltas rebuilt into full snapshots, as the live channel did. */
  const decoder = new AgentLineDecoder();
  /** The raw line of the protocol error replay just derived from the previous record. */
  let derivedFrom: string | null = null;
  for (const { lineNo, text, terminated } of lines(file)) {
    const problem = (kind: TranscriptProblem['kind'], detail: string): ReplayItem => ({
      type: 'problem',
      problem: { lineNo, kind, detail, text: clip(text) },
    });
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      derivedFrom = null;
      yield terminated
        ? problem('corrupt', `not JSON (${(err as Error).message})`)
        : problem('truncated', `the last line is cut after ${Buffer.byteLength(text)} bytes (the writer stopped mid-line)`);
      continue;
    }
    const r = (record ?? {}) as Record<string, unknown>;
    if (!headerSeen) {
      if (r.dir !== 'meta' || r.format !== TRANSCRIPT_FORMAT) throw new Error(`${file} is not a daxlab transcript (line ${lineNo} is not its header)`);
      if (typeof r.version !== 'number' || r.version > TRANSCRIPT_VERSION)
        throw new Error(`${file} is a version ${String(r.version)} transcript; this daxlab reads version ${TRANSCRIPT_VERSION}`);
      headerSeen = true;
      yield { type: 'header', header: r as TranscriptHeader };
      continue;
    }
    const ms = typeof r.ms === 'number' ? r.ms : 0;
    if (r.dir === 'agent' && typeof r.line === 'string') {
      derivedFrom = null;
      if (!r.line.trim()) continue; // the channel never passes on blank lines
      try {
        const message = decoder.decode(r.line);
        lastT = advance(lastT, message);
        yield { type: 'message', ms, message };
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        derivedFrom = r.line;
        yield { type: 'message', ms, message: protocolErrorMessage(err, lastT) };
      }
      continue;
    }
    if (r.dir === 'host') {
      const parsed = hostNote.safeParse(r.msg);
      const previous = derivedFrom;
      derivedFrom = null;
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        yield problem('corrupt', `host record does not match at msg.${issue.path.join('.')}: ${issue.message}`);
        continue;
      }
      const message = parsed.data;
      if (message.kind === 'protocol-error' && previous !== null && message.line === previous) continue;
      yield { type: 'message', ms, message };
      continue;
    }
    derivedFrom = null;
    if (r.dir === 'meta') continue; // a repeated header: nothing to replay
    yield problem('corrupt', 'not a transcript record (expected an agent line, a host note or a header)');
  }
  if (!headerSeen) yield { type: 'problem', problem: { lineNo: 0, kind: 'empty', detail: 'the transcript has no header', text: '' } };
}

export function replayTranscript(file: string): Replay {
  const replay: Replay = { header: null, entries: [], messages: [], problems: [] };
  for (const item of readTranscript(file)) {
    if (item.type === 'header') replay.header = item.header;
    else if (item.type === 'problem') replay.problems.push(item.problem);
    else {
      replay.entries.push({ ms: item.ms, message: item.message });
      replay.messages.push(item.message);
    }
  }
  return replay;
}
