// npm run bench: every benchmark of the lab, each printing ratios measured in one run.
import { bootBench } from './boot.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
await bootBench(runs);
