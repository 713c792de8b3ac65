// `npm run test:times [-- --from FILE] [tap args]`: where `npm test`'s time goes. Runs the suite with
// tap's TAP reporter (or reads a TAP log written earlier with --from) and lists the slowest test
// files, each with the reason it is slow (slow-tests.ts) and its slowest subtests, and the suite's
// wall time. Times
// of files running beside each other on a shared machine are comparable with each other, not with
// another day's; figures are printed, never asserted.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { slowReason } from './slow-tests';

export interface FileTime {
  file: string;
  ms: number;
  ok: boolean;
  /** Direct subtests, slowest first. */
  subtests: { name: string; ms: number }[];
}

const TIME = /^(\s*)(not ok|ok) \d+ - (.*?)(?: # time=([\d.]+)ms)?\s*$/;

/** The top-level results of a TAP stream (one per test file) with their direct subtests' times. */
export function parseTapTimes(tap: string): FileTime[] {
  const files: FileTime[] = [];
  let pending: { name: string; ms: number }[] = [];
  for (const line of tap.split('\n')) {
    const m = TIME.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const ms = m[4] ? Number(m[4]) : 0;
    // a file's direct subtests are at depth 1; they come before the file's own line (depth 0)
    if (depth === 1) pending.push({ name: m[3]!.replace(/ # SKIP.*$/, ' (skipped)'), ms });
    else if (depth === 0) {
      files.push({ file: m[3]!, ms, ok: m[2] === 'ok', subtests: pending.sort((a, b) => b.ms - a.ms) });
      pending = [];
    }
  }
  return files;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatSlowest(files: readonly FileTime[], count = 10, wallMs?: number): string {
  const total = files.reduce((s, f) => s + f.ms, 0);
  const slow = [...files].sort((a, b) => b.ms - a.ms).slice(0, count);
  const out = [`${files.length} test files, ${secs(total)} summed${wallMs !== undefined ? `, ${secs(wallMs)} wall` : ''}; the slowest ${slow.length}:`];
  for (const [i, f] of slow.entries()) {
    out.push(`${String(i + 1).padStart(2)}. ${secs(f.ms).padStart(8)} ${(((f.ms / total) * 100).toFixed(1) + '%').padStart(6)}  ${f.file}${f.ok ? '' : '  (not ok)'}`);
    const why = slowReason(f.file);
    if (why) out.push(`              why: ${why}`);
    const top = f.subtests.slice(0, 2).filter((s) => s.ms > 0);
    if (top.length) out.push(`              slowest: ${top.map((s) => `${s.name} (${secs(s.ms)})`).join('; ')}`);
  }
  return out.join('\n') + '\n';
}

function main(argv: string[]): number {
  const i = argv.indexOf('--from');
  if (i >= 0) {
    process.stdout.write(formatSlowest(parseTapTimes(readFileSync(argv[i + 1]!, 'utf8'))));
    return 0;
  }
  const t0 = Date.now();
  const r = spawnSync('npx', ['tap', '--reporter=tap', ...argv], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(formatSlowest(parseTapTimes(r.stdout ?? ''), 10, Date.now() - t0));
  return r.status ?? 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
