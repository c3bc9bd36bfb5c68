// npm run bench: every benchmark of the lab, each printing ratios measured in one run.
import { bootBench } from './boot.js';
import { observerBench } from './observer.js';
import { recordBench } from './record.js';
import { tuiBench } from './tui.js';

const only = process.argv[2];
if (!only || only === 'boot') await bootBench(Number(process.env.BENCH_RUNS ?? 3));
if (!only || only === 'observer') await observerBench();
if (!only || only === 'tui') await tuiBench(Number(process.env.BENCH_RUNS ?? 3));
if (!only || only === 'record') await recordBench(Number(process.env.BENCH_RUNS ?? 5));
