import { syntheticRun } from '../../src/bench/report-run';
import { writeReports } from '../../src/report/files';
import { performance } from 'node:perf_hooks';
import { statSync } from 'node:fs';
const r = syntheticRun(2000);
console.log(r.events.length);
const t0 = performance.now();
writeReports('/tmp/rep-big', r.summary, { runId: 'big', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T01:00:00Z', inputs: [], command: 'run' }, r.events);
console.log('ms', performance.now() - t0, statSync('/tmp/rep-big/report.html').size);
