// The TUI's fast paths, each behind a switch that only the benchmark turns off: bench/tui.tsx
// measures the path before them side by side with them, in one run. The lab runs with all on.
// Off or on, the screens show the same thing (test/unit/screens/fastpaths.test.tsx).
import React from 'react';

export const fastPaths = {
  /** The store queues messages and folds each frame's in one batch (reduceMany), not one reduce per message. */
  batchFold: true,
  /** View models memoised by the state slices they read; the timeline built only when shown or asked for. */
  memoViews: true,
  /**
   * The dashboard's boxes clip rows only: every line in them is truncated to its width
   * already, and a box that clips columns too has Ink slice each of its lines again
   * (an ANSI-aware slice) on every frame.
   */
  clipRowsOnly: true,
};

/**
 * `fn` of a state, memoised on the state slices it reads (compared by identity, the
 * reducer's states share what did not change): a frame that changed none of them gets
 * the value of the frame before. One entry: the screens ask about the latest state.
 */
export function bySlices<S, R>(slices: (s: S) => readonly unknown[], fn: (s: S) => R): (s: S) => R {
  let keys: readonly unknown[] | null = null;
  let value: R;
  return (s) => {
    if (!fastPaths.memoViews) return fn(s);
    const k = slices(s);
    if (keys && k.length === keys.length && k.every((x, i) => x === keys![i])) return value;
    value = fn(s);
    keys = k;
    return value;
  };
}

/** A value computed when first asked for (memoViews), or at once (the path before). */
export function lazy<T>(make: () => T): () => T {
  if (!fastPaths.memoViews) {
    const v = make();
    return () => v;
  }
  let done = false;
  let v: T;
  return () => {
    if (!done) (v = make()), (done = true);
    return v;
  };
}

/**
 * A panel that React renders again only when its props change, its `state` compared by the
 * slices the panel reads (memoViews): an unchanged panel keeps its elements, and Ink its
 * measured text.
 */
export function panelMemo<P extends { state: S }, S>(panel: (props: P) => React.ReactNode, slices: (s: S) => readonly unknown[]) {
  return React.memo(panel, (a, b) => {
    if (!fastPaths.memoViews) return false;
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof P>) if (k !== 'state' && a[k] !== b[k]) return false;
    const x = slices(a.state);
    const y = slices(b.state);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  });
}
