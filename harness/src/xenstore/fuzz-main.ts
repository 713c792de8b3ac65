// `npm run fuzz`: node harness/dist/xenstore/fuzz-main.js [--count N] [--seed S]
// Runs the seeded fuzzer against an in-process server and exits 1 on any violation.
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzz';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '1000000' }, seed: { type: 'string' } }, strict: true });
  const count = Number.parseInt(values.count!, 10);
  const seed = values.seed !== undefined ? Number.parseInt(values.seed, 10) : Date.now() % 1_000_000;
  if (!Number.isFinite(count) || count < 1 || !Number.isFinite(seed)) {
    process.stderr.write('usage: fuzz-main.js [--count N] [--seed S]\n');
    return 2;
  }
  const started = Date.now();
  process.stdout.write(`xenstore fuzz: seed ${seed}, ${count} packets\n`);
  const r = await runFuzz({
    seed,
    count,
    onProgress: (n) => {
      if (n % 100_000 < 2000) process.stdout.write(`  ${n} packets, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  });
  const secs = (Date.now() - started) / 1000;
  process.stdout.write(
    `xenstore fuzz: ${r.packets} packets, ${r.replies} replies, ${r.events} watch events, ${r.disconnects} disconnects, ${r.canaryChecks} canary checks, ${secs.toFixed(1)} s\n`,
  );
  if (r.violations.length) {
    process.stdout.write(`FAILED (seed ${seed}):\n${r.violations.map((v) => `  ${v}`).join('\n')}\n`);
    return 1;
  }
  process.stdout.write('ok: no crash, no hang, every reply valid, every disconnect legitimate\n');
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`xenstore fuzz: crashed: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 3;
  },
);
