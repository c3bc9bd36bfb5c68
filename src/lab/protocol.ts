// The wire protocol between the guest agent and the host: one JSON object a line.
// These schemas are shared by the channel (validation), the reducer and the recorder.
import { z } from 'zod';

const base = { t: z.number() };

export const readyMessage = z.object({
  ...base,
  kind: z.literal('ready'),
  release: z.string(),
  version: z.string(),
  machine: z.string(),
  uptime: z.object({ initStart: z.number(), modulesDone: z.number(), agentStart: z.number() }),
  btf: z.boolean(),
  kcore: z.boolean(),
});

export const agentError = z.object({
  stage: z.string(),
  message: z.string(),
  output: z.string().optional(),
});

export const replyMessage = z.discriminatedUnion('ok', [
  z.object({ ...base, kind: z.literal('reply'), id: z.number(), ok: z.literal(true), result: z.unknown() }),
  z.object({ ...base, kind: z.literal('reply'), id: z.number(), ok: z.literal(false), error: agentError }),
]);

export const agentMessage = z.union([readyMessage, replyMessage]);

export type ReadyMessage = z.infer<typeof readyMessage>;
export type ReplyMessage = z.infer<typeof replyMessage>;
export type AgentMessage = z.infer<typeof agentMessage>;

/** What the agent answers to "setup": the lab as the guest sees it. */
export const helloResult = z.object({
  timings: z.object({ modules: z.number(), namespace: z.number(), mkfs: z.number(), mount: z.number() }),
  nvdimms: z.array(
    z
      .object({
        slot: z.number(),
        region: z.string(),
        dev: z.string(),
        mode: z.string(),
        size: z.number(),
        blockdev: z.string().optional(),
        align: z.number().optional(),
        daxregion: z.unknown().optional(),
      })
      .passthrough(),
  ),
  mount: z.object({ device: z.string(), mountpoint: z.string(), fstype: z.string(), options: z.string() }),
  statx: z.object({ dax: z.boolean().optional(), maskHasDax: z.boolean().optional(), error: z.string().optional() }),
});
export type HelloResult = z.infer<typeof helloResult>;

export const execResult = z.object({
  status: z.number(),
  stdout: z.string(),
  stderr: z.string(),
  timedOut: z.boolean(),
});
export type ExecResult = z.infer<typeof execResult>;

export type SetupCommand = {
  cmd: 'setup';
  modules: string[];
  nvdimms: Array<{ slot: number; mode: 'fsdax' | 'devdax' }>;
  fs: { type: 'xfs' | 'ext4'; mkfs: string[]; mount: string[] };
  sysctls: Record<string, string>;
};

export type HostCommand =
  | SetupCommand
  | { cmd: 'exec'; argv: string[]; timeoutMs?: number }
  | { cmd: 'ping' }
  | { cmd: 'ready' }
  | { cmd: 'poweroff' };

export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly line: string,
  ) {
    super(message);
  }
}

/** Parse one line from the agent; a malformed line is an error naming the line, never a crash. */
export function parseAgentLine(line: string): AgentMessage {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (err) {
    throw new ProtocolError(`agent sent a line that is not JSON (${(err as Error).message})`, line);
  }
  const result = agentMessage.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ProtocolError(`agent message does not match the protocol at ${issue.path.join('.') || 'top level'}: ${issue.message}`, line);
  }
  return result.data;
}
