// The actor ops: one entry per op, and everything else follows it — the scenario schema
// (the op as people write it: sizes as "4K", durations as "lease-break-time + 2s"), the
// wire form the agent takes (the protocol's ActorOp: bytes, milliseconds, guest paths),
// how the engine turns one into the other, the TUI's few words for a step, and whether the
// TUI offers it as an intervention (and on which key). The guest's op table
// (src/vm/guest/op_table.c) names the same ops: test/unit/actor-ops.test.ts compares
// ACTOR_OP_NAMES with what the agent lists.
import { z } from 'zod';
import { durationValue, sizeValue, type DurationValue, type SizeValue } from '../config/units.js';

const pages = z.array(z.number().int().nonnegative()).min(1);
const wirePages = z.array(z.number().int().nonnegative());

/** What turning a scenario op into its wire form needs of the run. */
export type WireContext = {
  /** A scenario path ("victim", "$tmp/x", "$devdax", "$nullb", "/abs") as the guest path. */
  path(p: string): string;
  size(v: SizeValue): number;
  /** Milliseconds; guest quantities (lease-break-time) resolved. */
  duration(v: DurationValue): number;
};

/** An intervention the TUI may offer while a scenario runs: the op on a key. */
export type InterventionDef = { id: string; key: string; label: string };

type OpEntry<S extends z.ZodType, W extends z.ZodType> = {
  /** The op as a scenario writes it. */
  scenario: S;
  /** The op as the agent takes it. */
  wire: W;
  toWire(op: z.output<S>, at: WireContext): z.input<W>;
  /** A step's action in a few words ("mmap 64K MAP_SHARED"). */
  label(op: z.output<S>): string;
  intervention?: InterventionDef & { op: z.input<W> };
};

const entry = <S extends z.ZodType, W extends z.ZodType>(e: OpEntry<S, W>) => e;

/** An op with no fields: the same in a scenario and on the wire. */
function bare<N extends string>(op: N) {
  const schema = z.object({ op: z.literal(op) }).strict();
  return entry({ scenario: schema, wire: schema, toWire: (o) => o, label: (o) => o.op });
}

/** An op on pages of the actor's mapping: the same in a scenario and on the wire. */
function onPages<N extends string>(op: N) {
  const schema = z.object({ op: z.literal(op), pages }).strict();
  return entry({ scenario: schema, wire: z.object({ op: z.literal(op), pages: wirePages }), toWire: (o) => o, label: (o) => `${o.op} pages ${o.pages.join(',')}` });
}

const opt = <T>(key: string, v: T | undefined) => (v === undefined ? {} : { [key]: v });

export const ACTOR_OPS = {
  open: entry({
    scenario: z.object({ op: z.literal('open'), path: z.string().min(1), create: z.boolean().optional(), size: sizeValue.optional(), direct: z.boolean().optional(), readonly: z.boolean().optional() }).strict(),
    wire: z.object({ op: z.literal('open'), path: z.string(), create: z.boolean().optional(), size: z.number().optional(), direct: z.boolean().optional(), readonly: z.boolean().optional() }),
    toWire: (o, at) => ({ op: 'open' as const, path: at.path(o.path), ...opt('create', o.create), ...opt('size', o.size === undefined ? undefined : at.size(o.size)), ...opt('direct', o.direct), ...opt('readonly', o.readonly) }),
    label: (o) => `open ${o.path}${o.create ? ' (create)' : ''}`,
  }),
  close: bare('close'),
  mmap: entry({
    scenario: z
      .object({
        op: z.literal('mmap'),
        length: sizeValue,
        offset: sizeValue.optional(),
        /** MAP_* names or raw numbers as strings ("0x80000"). */
        flags: z.array(z.string().min(1)).default([]),
        prot: z.array(z.string().min(1)).optional(),
        anonymous: z.boolean().optional(),
      })
      .strict(),
    wire: z.object({ op: z.literal('mmap'), length: z.number(), offset: z.number().optional(), flags: z.array(z.string()), prot: z.array(z.string()).optional(), anonymous: z.boolean().optional() }),
    toWire: (o, at) => ({ op: 'mmap' as const, length: at.size(o.length), flags: o.flags, ...opt('offset', o.offset === undefined ? undefined : at.size(o.offset)), ...(o.prot ? { prot: o.prot } : {}), ...opt('anonymous', o.anonymous) }),
    label: (o) => `mmap ${o.length}${o.flags.length ? ` ${o.flags.join('|')}` : ''}${o.anonymous ? ' anonymous' : ''}`,
  }),
  munmap: bare('munmap'),
  touch: entry({
    scenario: z.object({ op: z.literal('touch'), pages, write: z.boolean().default(false) }).strict(),
    wire: z.object({ op: z.literal('touch'), pages: wirePages, write: z.boolean() }),
    toWire: (o) => o,
    label: (o) => `${o.write ? 'write' : 'read'}-fault pages ${o.pages.join(',')}`,
  }),
  vmsplice: onPages('vmsplice'),
  drain: { ...bare('drain'), intervention: { id: 'drain', key: 'd', label: 'drain the pipe', op: { op: 'drain' } } },
  io_uring_register: onPages('io_uring_register'),
  io_uring_unregister: bare('io_uring_unregister'),
  odirect: entry({
    scenario: z.object({ op: z.literal('odirect'), device: z.string().min(1), pages, write: z.boolean().default(false) }).strict(),
    wire: z.object({ op: z.literal('odirect'), device: z.string(), pages: wirePages, write: z.boolean() }),
    toWire: (o, at) => ({ op: 'odirect' as const, device: at.path(o.device), pages: o.pages, write: o.write }),
    label: (o) => `O_DIRECT ${o.write ? 'write' : 'read'} ${o.device} pages ${o.pages.join(',')}`,
  }),
  ftruncate: entry({
    scenario: z.object({ op: z.literal('ftruncate'), size: sizeValue }).strict(),
    wire: z.object({ op: z.literal('ftruncate'), size: z.number() }),
    toWire: (o, at) => ({ op: 'ftruncate' as const, size: at.size(o.size) }),
    label: (o) => `ftruncate to ${o.size}`,
  }),
  truncate: entry({
    scenario: z.object({ op: z.literal('truncate'), path: z.string().min(1), size: sizeValue }).strict(),
    wire: z.object({ op: z.literal('truncate'), path: z.string(), size: z.number() }),
    toWire: (o, at) => ({ op: 'truncate' as const, path: at.path(o.path), size: at.size(o.size) }),
    label: (o) => `truncate ${o.path} to ${o.size}`,
  }),
  fallocate: entry({
    scenario: z.object({ op: z.literal('fallocate'), mode: z.enum(['punch', 'zero', 'collapse', 'allocate']), offset: sizeValue, length: sizeValue }).strict(),
    wire: z.object({ op: z.literal('fallocate'), mode: z.enum(['punch', 'zero', 'collapse', 'allocate']), offset: z.number(), length: z.number() }),
    toWire: (o, at) => ({ op: 'fallocate' as const, mode: o.mode, offset: at.size(o.offset), length: at.size(o.length) }),
    label: (o) => `fallocate ${o.mode} ${o.offset}+${o.length}`,
  }),
  write: entry({
    scenario: z.object({ op: z.literal('write'), offset: sizeValue, length: sizeValue, byte: z.number().int().min(0).max(255).optional() }).strict(),
    wire: z.object({ op: z.literal('write'), offset: z.number(), length: z.number(), byte: z.number().optional() }),
    toWire: (o, at) => ({ op: 'write' as const, offset: at.size(o.offset), length: at.size(o.length), ...opt('byte', o.byte) }),
    label: (o) => o.op,
  }),
  read: entry({
    scenario: z.object({ op: z.literal('read'), offset: sizeValue, length: sizeValue }).strict(),
    wire: z.object({ op: z.literal('read'), offset: z.number(), length: z.number() }),
    toWire: (o, at) => ({ op: 'read' as const, offset: at.size(o.offset), length: at.size(o.length) }),
    label: (o) => o.op,
  }),
  lease: entry({
    scenario: z.object({ op: z.literal('lease'), type: z.enum(['read', 'write', 'unlock']), signal: z.string().optional() }).strict(),
    wire: z.object({ op: z.literal('lease'), type: z.enum(['read', 'write', 'unlock']), signal: z.string().optional() }),
    toWire: (o) => o,
    label: (o) => `lease ${o.type}${o.signal ? ` (${o.signal})` : ''}`,
    intervention: { id: 'release', key: 'u', label: 'release the lease', op: { op: 'lease', type: 'unlock' } },
  }),
  sleep: entry({
    scenario: z.object({ op: z.literal('sleep'), for: durationValue }).strict(),
    wire: z.object({ op: z.literal('sleep'), ms: z.number() }),
    toWire: (o, at) => ({ op: 'sleep' as const, ms: at.duration(o.for) }),
    label: (o) => `sleep ${o.for}`,
  }),
  exit: entry({
    scenario: z.object({ op: z.literal('exit'), status: z.number().int().min(0).max(255).optional() }).strict(),
    wire: z.object({ op: z.literal('exit'), status: z.number().optional() }),
    toWire: (o) => o,
    label: (o) => o.op,
  }),
  /** Store each page's data pattern (tag 1..2^32-1) through the mapping; SIGBUS per page is reported. */
  pattern_write: entry({
    scenario: z.object({ op: z.literal('pattern_write'), pages, tags: z.array(z.number().int().min(1).max(0xffffffff)).min(1) }).strict(),
    wire: z.object({ op: z.literal('pattern_write'), pages: wirePages, tags: z.array(z.number()) }),
    toWire: (o) => o,
    label: (o) => `${o.op} pages ${o.pages.join(',')}`,
  }),
  /**
   * What each page holds: its tag, 0 (zeros), 2^32 + tag (torn), -1 (neither), -2 (SIGBUS
   * on the mapping), -3 (read(2) came back short). via "read": pages index the file.
   */
  pattern_check: entry({
    scenario: z.object({ op: z.literal('pattern_check'), pages, via: z.enum(['mmap', 'read']).optional() }).strict(),
    wire: z.object({ op: z.literal('pattern_check'), pages: wirePages, via: z.enum(['mmap', 'read']).optional() }),
    toWire: (o) => o,
    label: (o) => `${o.op} pages ${o.pages.join(',')}`,
  }),
  /** ibv_reg_mr of each page (one MR a page); only actors started with program "verbs". */
  rdma_reg_mr: onPages('rdma_reg_mr'),
  rdma_dereg_mr: bare('rdma_dereg_mr'),
} as const;

export type ActorOpName = keyof typeof ACTOR_OPS;

/** Every op's wire name, in the catalogue's order (the guest's op_table.c names the same). */
export const ACTOR_OP_NAMES = Object.keys(ACTOR_OPS) as ActorOpName[];

type Entries = typeof ACTOR_OPS;
/** An op as a scenario writes it. */
export type ScenarioOp = { [K in ActorOpName]: z.output<Entries[K]['scenario']> }[ActorOpName];
/** An op as the agent takes it (sizes in bytes, offsets in bytes, pages as indices into the actor's mapping). */
export type ActorOp = { [K in ActorOpName]: z.input<Entries[K]['wire']> }[ActorOpName];

/** The same, as a scenario's JSON may give it (defaults not filled in). */
export type ScenarioOpInput = { [K in ActorOpName]: z.input<Entries[K]['scenario']> }[ActorOpName];

// The unions are built from the catalogue; their types are the mapped ones above.
export const scenarioOpSchema = z.discriminatedUnion(
  'op',
  ACTOR_OP_NAMES.map((name) => ACTOR_OPS[name].scenario) as unknown as [Entries['open']['scenario'], ...Array<Entries[ActorOpName]['scenario']>],
) as unknown as z.ZodType<ScenarioOp, ScenarioOpInput>;
export const wireOpSchema = z.discriminatedUnion('op', ACTOR_OP_NAMES.map((name) => ACTOR_OPS[name].wire) as unknown as [Entries['open']['wire'], ...Array<Entries[ActorOpName]['wire']>]);

type AnyEntry = { toWire(op: ScenarioOp, at: WireContext): ActorOp; label(op: ScenarioOp): string };
const entryOf = (op: ScenarioOp) => ACTOR_OPS[op.op] as unknown as AnyEntry;

/** A scenario op as the agent takes it. */
export function toWireOp(op: ScenarioOp, at: WireContext): ActorOp {
  return entryOf(op).toWire(op, at);
}

/** A scenario op in a few words. */
export function opLabel(op: ScenarioOp): string {
  return entryOf(op).label(op);
}

// ---------------------------------------------------------------------------------------
// Interventions: ops the TUI offers on a key while a scenario runs, and SIGKILL to an actor.

export type Intervention = InterventionDef & { op: ActorOp | { op: 'kill' } };

const KILL: Intervention = { id: 'kill', key: 'K', label: 'kill', op: { op: 'kill' } };

/** Every intervention the TUI may offer, with its key (the key registry reads them here). */
export function interventionKeys(): readonly Intervention[] {
  const ops = ACTOR_OP_NAMES.flatMap((name) => {
    const iv = (ACTOR_OPS[name] as { intervention?: Intervention }).intervention;
    return iv ? [iv] : [];
  });
  return [...ops, KILL];
}

/** An intervention by id ("drain", "release", "kill"), or by a scenario's "kill:<actor>". */
export function interventionOf(id: string): Intervention | null {
  return interventionKeys().find((iv) => iv.id === id.split(':')[0]) ?? null;
}
