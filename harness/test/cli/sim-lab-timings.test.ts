// winpv sim lab-timings --compare: the figures a lab trace gives beside a committed timings fixture, each
// old -> new, and whether the lab's Xen and kernel are the ones the fixture's name says. A version
// mismatch exits 1 (CI's lab step fails, as capture-backend-keys.ts --check does); a timing difference
// is printed and never fails. --out-dir writes the refreshed JSON under the fixture's naming. The trace
// is a fixture written here (no lab needed).
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWinpv } from '../support/cli-io';
import { TraceWriter } from '../../src/trace/writer';
import { TRACE_SCHEMA, type TraceEventInput } from '../../src/model/trace';
import { compareLabTimings, labTimings, type LabTimings } from '../../src/hosts/sim/lab-timings';
import { timingsName, xenVersionOf } from '../../src/hosts/xl/backend-keys';

const FIXTURE = 'timings.xen-4.17.7.linux-6.1.0-57-amd64.json';

/** A lab run's trace: a boot to the first frontend state in 5000 ms, a backend reaction of 300 ms. */
function labTrace(dir: string): string {
  const file = join(dir, 'run-1', 'trace.jsonl');
  const w = new TraceWriter({ file });
  const fe = '/local/domain/3/device/vbd/51712/state';
  const be = '/local/domain/0/backend/vbd/3/51712/state';
  const at = (ms: number, e: Record<string, unknown>) => w.emitAt(e as unknown as TraceEventInput, ms);
  at(0, { ev: 'run.start', schema: TRACE_SCHEMA, seed: 1, host: { kind: 'xl', label: 'lab', capabilities: [] }, specs: {}, instances: ['lab-reboot'] });
  at(1000, { ev: 'guest', inst: 'lab-reboot', guest: 'lin', domid: 3, what: 'started' });
  at(1100, { ev: 'xs', inst: 'lab-reboot', path: fe, value: '1' });
  at(6000, { ev: 'xs', inst: 'lab-reboot', path: fe, value: '3' });
  at(6300, { ev: 'xs', inst: 'lab-reboot', path: be, value: '4' });
  w.close({ complete: true });
  return file;
}

/** The committed fixture's figures, as `winpv sim lab-timings` wrote them. */
function committed(dir: string, name: string, boot: number): string {
  const m = labTimings([]);
  const fx: LabTimings = { ...m, bootToFrontend: { ...m.bootToFrontend, n: 6, medianMs: boot }, backendReaction: { ...m.backendReaction, n: 35, medianMs: 234 } };
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ source: { xen: '4.17.7', kernel: '6.1.0-57-amd64' }, ...fx }));
  return file;
}

t.test('the comparison: versions from the fixture\'s name, each figure old and new', async (t) => {
  const now = labTimings([]);
  now.bootToFrontend = { ...now.bootToFrontend, n: 1, medianMs: 5000 };
  const fx = { bootToFrontend: { ...now.bootToFrontend, n: 6, medianMs: 5506 } };
  const same = compareLabTimings(FIXTURE, fx, now, { xen: '4.17.7', kernel: '6.1.0-57-amd64' });
  t.ok(same.versionsMatch);
  t.same(same.named, { xen: '4.17.7', kernel: '6.1.0-57-amd64' }, 'the versions the name gives');
  t.equal(compareLabTimings('lab.json', fx, now, { xen: '4.17.7', kernel: '6.1.0-57-amd64' }).named, null, 'a file not named with its versions');
  t.same(same.figures.find((f) => f.name === 'bootToFrontend'), { name: 'bootToFrontend', committed: { medianMs: 5506, n: 6 }, now: { medianMs: 5000, n: 1 }, deltaMs: -506 });
  t.same(same.figures.find((f) => f.name === 'xenstoreLatency')?.deltaMs, null, 'no figure on either side: no difference');
  t.notOk(compareLabTimings(FIXTURE, fx, now, { xen: '4.17.8', kernel: '6.1.0-57-amd64' }).versionsMatch, 'another Xen');
  t.notOk(compareLabTimings(FIXTURE, fx, now, { xen: '4.17.7', kernel: '6.1.0-58-amd64' }).versionsMatch, 'another kernel');
  t.equal(timingsName('4.17.7', '6.1.0-57-amd64'), FIXTURE);
  t.equal(xenVersionOf('host : lab\nxen_major              : 4\nxen_minor              : 17\nxen_extra              : .7\n'), '4.17.7', 'xl info');
});

t.test('lab-timings --compare: figures printed, versions matching exit 0, a timing difference never fails', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-lab-timings-'));
  const trace = labTrace(dir);
  const fx = committed(dir, FIXTURE, 5506);
  writeFileSync(join(dir, 'xl-info.txt'), 'xen_major              : 4\nxen_minor              : 17\nxen_extra              : .7\n');
  const r = await runWinpv(['sim', 'lab-timings', trace, '--xl-info', join(dir, 'xl-info.txt'), '--kernel', '6.1.0-57-amd64', '--compare', fx, '--out-dir', dir]);
  t.equal(r.code, 0, r.out + r.err);
  t.match(r.out, `wrote ${FIXTURE}`);
  t.match(r.out, `lab timings (Xen 4.17.7, Linux 6.1.0-57-amd64) vs ${FIXTURE}`);
  t.match(r.out, /versions: the lab's Xen and kernel are the fixture's/);
  t.match(r.out, /bootToFrontend +median 5506 ms \(n 6\) -> 5000 ms \(n 1\): -506 ms/);
  t.match(r.out, /backendReaction +median 234 ms \(n 35\) -> 300 ms \(n 1\): \+66 ms/);
  const written = JSON.parse(readFileSync(join(dir, FIXTURE), 'utf8'));
  t.same(written.source, { trace: 'run-1/trace.jsonl', host: 'lab', xen: '4.17.7', kernel: '6.1.0-57-amd64', instances: ['lab-reboot'] }, 'the refreshed JSON, named like the fixture');
  t.equal(written.bootToFrontend.medianMs, 5000);
});

t.test('lab-timings --out-dir: a directory not there yet is made (CI\'s artifacts folder on a fresh checkout)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-lab-timings-'));
  const trace = labTrace(dir);
  const out = join(dir, 'reports', 'ci-artifacts');
  const r = await runWinpv(['sim', 'lab-timings', trace, '--xen', '4.17.7', '--kernel', '6.1.0-57-amd64', '--out-dir', out]);
  t.equal(r.code, 0, r.out + r.err);
  t.equal(JSON.parse(readFileSync(join(out, FIXTURE), 'utf8')).source.xen, '4.17.7');
});

t.test('lab-timings --compare: a lab of other versions than the fixture\'s name fails, saying what to commit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-lab-timings-'));
  const trace = labTrace(dir);
  const fx = committed(dir, FIXTURE, 5000);
  const r = await runWinpv(['sim', 'lab-timings', trace, '--xen', '4.18.0', '--kernel', '6.1.0-57-amd64', '--compare', fx]);
  t.equal(r.code, 1, 'a version mismatch fails');
  t.match(r.out, /versions: MISMATCH: the lab runs Xen 4\.18\.0 \/ Linux 6\.1\.0-57-amd64, the fixture is for Xen 4\.17\.7 \/ Linux 6\.1\.0-57-amd64; commit the refreshed timings as timings\.xen-4\.18\.0\.linux-6\.1\.0-57-amd64\.json/);
  t.match(r.out, /bootToFrontend +median 5000 ms \(n 6\) -> 5000 ms \(n 1\): \+0 ms/, 'the figures still printed');
  t.notMatch(r.out, /"bootToFrontend"/, 'no JSON on stdout beside the comparison');
});

t.test('lab-timings: --compare without the versions, or the version twice, is bad input', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-lab-timings-'));
  const trace = labTrace(dir);
  const fx = committed(dir, FIXTURE, 5000);
  const noKernel = await runWinpv(['sim', 'lab-timings', trace, '--xen', '4.17.7', '--compare', fx]);
  t.equal(noKernel.code, 2);
  t.match(noKernel.err, /--compare and --out-dir need the host's versions/);
  const twice = await runWinpv(['sim', 'lab-timings', trace, '--xen', '4.17.7', '--xl-info', fx, '--kernel', 'k', '--compare', fx]);
  t.equal(twice.code, 2);
  const plain = await runWinpv(['sim', 'lab-timings', trace]);
  t.equal(plain.code, 0, 'without options: the JSON, as before');
  t.equal(JSON.parse(plain.out).bootToFrontend.medianMs, 5000);
});

t.test('CI\'s lab step compares the lab\'s timings with the committed fixture and keeps the refreshed file', async (t) => {
  const lab = readFileSync(join(__dirname, '..', '..', '..', '.ci', 'lab'), 'utf8');
  t.match(lab, /winpv sim lab-timings "\$trace" --xl-info [^\n]*--kernel "\$kernel" \\\n\s+--compare "\$timings" --out-dir reports\/ci-artifacts; \} \|\| status=1/);
  t.match(lab, /timings=\$\(ls harness\/test\/fixtures\/lab\/timings\.\*\.json/);
});
