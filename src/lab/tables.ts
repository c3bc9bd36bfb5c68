// Tables (pin accounting): one cell per row x column, with a "take" and a "release" phase,
// each what the engine measured around that step. The cell's facts are read once here;
// the CLI's text report and the TUI's report only lay them out.
import type { PageState } from '../wire/protocol.js';
import type { ActionRecord } from './state.js';

export type TableCell = Record<string, unknown>;
export type Table = { rows: string[]; columns: string[]; cells: Record<string, Record<string, { take?: TableCell; release?: TableCell }>> };

/** A cell as measured: the action's outcome, the page before and after, the vmstat pin counters' moves. */
export function tableCell(action: ActionRecord | null, prior: PageState | undefined, now: PageState | undefined, vmBefore: Record<string, number>, vmNow: Record<string, number>): TableCell {
  const vm = (key: string) => (vmNow[key] ?? NaN) - (vmBefore[key] ?? NaN);
  return {
    result: !action ? 'n/a' : action.end === null ? 'in flight' : (action.signal ?? action.error ?? 'ok'),
    ...(action?.ret !== undefined ? { ret: action.ret } : {}),
    refBefore: prior?.ref ?? null,
    refAfter: now?.ref ?? null,
    aboveIdleDelta: prior && now ? now.aboveIdle - prior.aboveIdle : null,
    pins: now?.pins ?? null,
    pinsDelta: prior && now ? now.pins - prior.pins : null,
    large: now ? now.flags.includes('head') : null,
    pinAcquiredDelta: vm('nr_foll_pin_acquired'),
    pinReleasedDelta: vm('nr_foll_pin_released'),
  };
}

export type CellFacts = {
  /** The take went through (returned ok, or its I/O is in flight). */
  taken: boolean;
  inFlight: boolean;
  /** "ok", "in flight", an errno name, a signal, "n/a". */
  result: string;
  aboveIdle: unknown;
  pins: unknown;
  acquired: unknown;
  released: unknown;
  /** The pin counters moved (worth saying on a refused take). */
  pinsMoved: boolean;
  /** The release gave back exactly what the take added; null without a release. */
  putBack: boolean | null;
};

export function cellFacts(cell: { take?: TableCell; release?: TableCell } | undefined): CellFacts | null {
  const take = cell?.take;
  if (!take) return null;
  return {
    taken: take.result === 'ok' || take.result === 'in flight',
    inFlight: take.result === 'in flight',
    result: String(take.result),
    aboveIdle: take.aboveIdleDelta,
    pins: take.pinsDelta,
    acquired: take.pinAcquiredDelta,
    released: take.pinReleasedDelta,
    pinsMoved: !!(Number(take.pinAcquiredDelta) || Number(take.pinReleasedDelta)),
    putBack: cell?.release ? cell.release.aboveIdleDelta === -Number(take.aboveIdleDelta) : null,
  };
}
