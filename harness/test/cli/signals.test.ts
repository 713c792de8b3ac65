// How the winpv command takes SIGINT/SIGTERM (harness/bin/winpv): the first asks the command to
// stop, and a run then tears down what it made and writes complete reports. GNU timeout, which CI
// scripts wrap commands in (.ci/lab does), signals the command and then its whole process group,
// so winpv gets one SIGTERM twice at once; taking the second for "exit now" left the lab's guests
// running and the run without reports (CI's lab leg, 2026-12-06).
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('two signals at once are one request: the run stops, tears down and writes its reports', async (t) => {
  const reports = mkdtempSync(join(tmpdir(), 'winpv-signals-'));
  // the catalogue three times over on the simulator: long enough that the signal lands mid-run
  const child = spawn(process.execPath, [join(root, 'harness', 'bin', 'winpv'), 'run', '--workers', '1', '--repeat-each', '3', '--db', 'none', '--report-dir', reports, '--reporter', 'none'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | string>((done) => child.on('close', (code, sig) => done(code ?? String(sig))));
  t.teardown(() => void child.kill('SIGKILL'));
  // the run has started once its run directory holds a trace (bounded: 5 minutes on a loaded machine)
  const started = () => readdirSync(reports).some((d) => existsSync(join(reports, d, 'trace.jsonl')));
  for (let i = 0; i < 3000 && !started(); i++) await sleep(100);
  t.ok(started(), 'the run started');
  // Two signals at once. The same signal sent twice in one breath is often merged by the kernel
  // while the first is pending, and the simulator tears down in less time than a second copy takes
  // to come; two different signals are never merged, so both reach the handler together, as GNU
  // timeout's two copies do on a host whose teardown takes seconds.
  child.kill('SIGTERM');
  child.kill('SIGINT');
  let bound: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<string>((r) => (bound = setTimeout(() => r('still running 240 s after the signals'), 240_000)))]);
  clearTimeout(bound);
  t.equal(code, 1, `the run ended as an interrupted run does (a check not ok), not exit 130 at once: ${stderr.slice(-800)}`);
  const tap = join(reports, 'latest', 'results.tap');
  t.ok(existsSync(tap), 'the reports were written (latest/results.tap)');
  if (existsSync(tap)) t.match(readFileSync(tap, 'utf8'), /^Bail out! interrupted/m, 'TAP says the run was interrupted');
  for (const f of ['junit.xml', 'summary.json', 'report.html']) t.ok(existsSync(join(reports, 'latest', f)), `${f} written`);
  // the simulator's guests torn down under pending watch events must not throw (an unhandled
  // rejection in a simulator worker printed its stack and ended that process)
  t.notMatch(stderr, /Error|unhandled/i, 'nothing thrown on the way out');
});
