// Faults on real Xen, end to end: `winpv run --host lab` on scenarios that must fail, and what a
// failing run must still deliver (not ok with diagnostics, valid TAP, no domain left in `xl list`);
// and the HVM user-image path, which must pass.
// Needs a running lab: .ci/lab sets WINPV_LAB_LIVE=1 after `winpv lab up`; by hand:
//   winpv lab up && WINPV_LAB_LIVE=1 npx tap harness/test/hosts/xl/lab-live.test.ts
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from 'tap-parser';

const root = join(__dirname, '..', '..', '..', '..');
const winpv = (args: string[]) => spawnSync(process.execPath, [join(root, 'harness', 'bin', 'winpv'), ...args], { cwd: root, encoding: 'utf8', timeout: 900_000 });

function parseTap(text: string): { ok: boolean; failures: { name: string; diag?: Record<string, unknown> }[] } {
  const failures: { name: string; diag?: Record<string, unknown> }[] = [];
  let ok = false;
  const p = new Parser({ passes: true }, (r) => (ok = r.ok));
  p.on('child', (c: Parser) => c.on('assert', (a: { ok: boolean; name: string; diag?: Record<string, unknown> }) => (a.ok ? undefined : failures.push(a))));
  p.end(text);
  return { ok, failures };
}

// Xen's hvm.c logs "d<domid>v<vcpu> Triple fault - invoking HVM shutdown action" before it acts
const TRIPLE_FAULT = /\bd\d+v\d+ Triple fault\b/;

if (!process.env.WINPV_LAB_LIVE) {
  t.plan(0, 'needs a running lab: set WINPV_LAB_LIVE=1 after `winpv lab up` (.ci/lab does)');
} else {
  // Three real-Xen runs under TCG take 4-8 minutes on a loaded machine, and an HVM image that
  // triple-faults runs twice; a run that fails otherwise waits out its 10-minute connect (about 30
  // minutes at worst), more than the suite's per-file timeout: this file raises its own (the comment
  // tells the tap runner in the parent).
  const LIVE_TIMEOUT_MS = 2_100_000;
  t.setTimeout(LIVE_TIMEOUT_MS);
  t.comment(`timeout=${LIVE_TIMEOUT_MS}`);
  // the check that must catch each fault (FAULTS in model/catalog), or the step that failed with it
  // (lab-fault-no-poorer-backend: a restore onto unchanged backends; the waits for renegotiated keys fail)
  const catcher: Record<string, RegExp> = { 'lab-fault-guest-crash': /^(guest-alive|steps)$/, 'lab-fault-backend-closing': /^(workload|steps)$/ };
  // a save and a restore under TCG (about 4 minutes on a quiet lab): CI runs the field scenario itself
  // (tag lab); its twin runs by hand with WINPV_LAB_FIELD=1 (it failed on its renegotiated-key wait, as
  // it must, on 2026-12-06)
  if (process.env.WINPV_LAB_FIELD) catcher['lab-fault-no-poorer-backend'] = /^steps$/;
  for (const scenario of Object.keys(catcher)) {
    t.test(`${scenario}: not ok with diagnostics, valid TAP, nothing left behind`, async (t) => {
      const reports = mkdtempSync(join(tmpdir(), 'winpv-lab-live-'));
      const r = winpv(['run', '--host', 'lab', '--reporter', 'none', '--report-dir', reports, join('harness', 'test', 'fixtures', 'lab', 'faults', `${scenario}.xml`)]);
      t.equal(r.status, 1, `winpv run exits 1 (a check failed): ${r.stderr.slice(-500)}`);
      const tap = readFileSync(join(reports, 'latest', 'results.tap'), 'utf8');
      t.match(tap, /^TAP version 14/);
      const parsed = parseTap(tap);
      t.notOk(parsed.ok, 'the run is not ok');
      t.ok(parsed.failures.length > 0, 'at least one not ok point');
      t.ok(parsed.failures.every((f) => f.diag && f.diag.check), 'every failure carries diagnostics naming its check');
      t.ok(parsed.failures.some((f) => catcher[scenario]!.test(String(f.diag?.check))), `caught by ${catcher[scenario]}: ${parsed.failures.map((f) => f.name).join('; ')}`);
      const left = winpv(['lab', 'ssh', '--', 'xl', 'list']);
      t.notMatch(left.stdout, /winpv-/, 'no domain of the run left in xl list');
      if (scenario === 'lab-fault-no-poorer-backend') {
        // the first wait for a renegotiated key is what failed, not the restore or the I/O
        const steps = parsed.failures.find((f) => f.diag?.check === 'steps');
        t.match(String(steps?.diag?.message), /wait for .*device\/vbd\/51712\/(ring-ref|multi-queue-num-queues)/, 'a wait for the renegotiated disk keys failed');
      }
      if (scenario === 'lab-fault-guest-crash') {
        // a real panic of the guest's kernel, seen by the xl backend's crash detection (not a destroy)
        const events = readFileSync(join(reports, 'latest', 'trace.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        const fault = events.find((e) => e.ev === 'fault' && e.name === 'guest-crash') as { detail?: { how?: string } } | undefined;
        t.match(fault?.detail?.how, /kernel panic/, 'the fault panicked the guest kernel');
        const crashed = events.find((e) => e.ev === 'guest' && e.what === 'crashed') as { detail?: { flags?: string } } | undefined;
        t.ok(crashed, 'crash detection reported the guest as crashed');
        t.match(crashed?.detail?.flags, /c/, 'xl list showed it crashed (kept by on_crash="preserve")');
        t.ok(events.some((e) => e.ev === 'log' && /Kernel panic/.test(String(e.msg))), 'the panic message from the guest console is in the trace');
      }
    });
  }

  // One run of the HVM image: its exit, TAP, trace, and what Xen logged while it ran. Xen's console
  // ring is cleared first (`xl dmesg -c`), so a triple fault in it is this run's: a guest that
  // triple-faults is rebooted by Xen (HVM shutdown action 1) and restarted by xl under a new domid
  // the trace never names, and each register dump pushes the first fault's line further back.
  // Xen's log is read every 20 s while the run goes on: a triple fault ends the run at once (SIGTERM,
  // on which winpv destroys what it created, as on Ctrl-C) instead of after its 10-minute wait for
  // frontends that a rebooting guest never connects (a lab whose HVM guest faulted at every boot spent
  // that wait twice).
  async function runHvmImage() {
    winpv(['lab', 'ssh', '--', 'xl', 'dmesg', '-c']);
    const reports = mkdtempSync(join(tmpdir(), 'winpv-lab-live-'));
    const child = spawn(process.execPath, [join(root, 'harness', 'bin', 'winpv'), 'run', '--host', 'lab', '--reporter', 'none', '--report-dir', reports, join('harness', 'test', 'fixtures', 'lab', 'lab-hvm-image.xml')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let status: number | null | undefined;
    const exited = new Promise<void>((done) => child.on('close', (code) => ((status = code), done())));
    let xen = '';
    while (status === undefined) {
      let tick: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (tick = setTimeout(r, 20_000)))]);
      clearTimeout(tick); // the run ended first: no timer keeps the file waiting
      if (status !== undefined) break;
      xen = winpv(['lab', 'ssh', '--', 'xl', 'dmesg']).stdout ?? '';
      if (TRIPLE_FAULT.test(xen)) {
        child.kill('SIGTERM');
        await exited;
      }
    }
    const r = { status, stderr };
    const tapFile = join(reports, 'latest', 'results.tap');
    const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
    const traceFile = join(reports, 'latest', 'trace.jsonl');
    const events = existsSync(traceFile) ? readFileSync(traceFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    // what Xen said (a triple fault or an emulation failure of the HVM guest is logged there)
    if (r.status !== 0) xen = winpv(['lab', 'ssh', '--', 'xl', 'dmesg']).stdout ?? xen;
    const tripleFault = TRIPLE_FAULT.test(xen);
    return { r, tap, events, xen, tripleFault };
  }
  const faultLines = (xen: string) => xen.split('\n').filter((l) => /Triple fault|RIP/.test(l)).join('\n');

  t.test('lab-hvm-image: the HVM user-image path, run with the lab\'s own HVM Linux disk, passes and leaves nothing behind', async (t) => {
    let run = await runHvmImage();
    // The lab's HVM guests run on QEMU's TCG emulation of AMD-V (nested under Xen under TCG), which
    // delivers a fault the stock Debian kernel never sees on hardware: the guest triple-faults at the
    // same kernel instruction (CI, 2026-12-06: d15v0 in a TSC read, and on a later CI run d16v0 after
    // its frontends had connected, the second run passing; a new machine, 2026-12-06: every
    // boot of three runs, in several places of the kernel). That, and only that, as Xen
    // logged it during the run, earns one more run; a second triple fault leaves the HVM path
    // unproven on this lab, reported as a TODO with Xen's words; any other failure fails the test.
    if (run.r.status !== 0 && run.tripleFault) {
      t.comment(`the HVM guest triple-faulted under the lab's nested emulation; running once more. Xen said:\n${faultLines(run.xen)}`);
      // what the stopped run said as it tore down (a lease it could not give back is said there)
      t.comment(`the stopped run (exit ${run.r.status}) said:\n${run.r.stderr.trim().split('\n').slice(-8).join('\n')}`);
      run = await runHvmImage();
      if (run.r.status !== 0 && run.tripleFault) {
        t.fail('the HVM image ran', { todo: `the lab's nested emulation triple-faulted the HVM guest on both runs; the HVM path is unproven on this lab. Xen said:\n${faultLines(run.xen)}` });
        t.notMatch(winpv(['lab', 'ssh', '--', 'xl', 'list']).stdout, /winpv-/, 'no domain of the run left in xl list');
        return;
      }
    }
    const { r, tap, events, xen } = run;
    // On a failure, what the guest's console said (the trace keeps its end when a guest halts or crashes).
    const said = events.filter((e) => e.ev === 'log' && e.level === 'error').map((e) => String(e.msg).slice(-2500)).join('\n');
    t.equal(r.status, 0, `winpv run exits 0: ${r.stderr.slice(-500)}\n${tap.slice(-1500)}\n${said}\n--- xl dmesg ---\n${xen}`);
    t.ok(parseTap(tap).ok, 'TAP all ok');
    const workloads = events.filter((e) => e.ev === 'workload') as unknown as { dev: string; result: { bytes: number; errors: number } }[];
    t.same(workloads.map((w) => w.dev).sort(), ['vbd/51728', 'vif/0'], 'block I/O on the scratch disk and traffic through netfront');
    t.ok(workloads.every((w) => w.result.bytes > 0 && w.result.errors === 0), 'both moved data without errors');
    t.ok(events.some((e) => e.ev === 'ring'), 'netback ring samples');
    t.notMatch(winpv(['lab', 'ssh', '--', 'xl', 'list']).stdout, /winpv-/, 'no domain of the run left in xl list');
    t.notMatch(winpv(['lab', 'ssh', '--', 'losetup', '-a']).stdout, /linux-hvm\.img/, 'the image\'s loop device released');
  });

  t.test('lab-fault-ssh-cut: the connection to dom0 cut mid-run gives Bail out, valid TAP, and the domain is still removed', async (t) => {
    const reports = mkdtempSync(join(tmpdir(), 'winpv-lab-live-'));
    const child = spawn(process.execPath, [join(root, 'harness', 'bin', 'winpv'), 'run', '--host', 'lab', '--reporter', 'none', '--report-dir', reports, join('harness', 'test', 'fixtures', 'lab', 'faults', 'lab-fault-ssh-cut.xml')], { cwd: root, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    // wait until the guest runs and its block workload is under way
    for (let i = 0; i < 120; i++) {
      const row = winpv(['lab', 'ssh', '--', 'xl', 'list']).stdout.split('\n').find((l) => /^winpv-(?:s\d+-)?lab-fault-ssh-cut-ref /.test(l)); // the name carries the run's lease slot (xl-config.ts domainName)
      const flags = row?.trim().split(/\s+/)[4];
      if (flags && !flags.includes('p')) break; // created and unpaused
      await new Promise((r) => setTimeout(r, 3000));
    }
    await new Promise((r) => setTimeout(r, 25_000));
    // Inside the lab's dom0 (our own VM): end every SSH session except the one running this command.
    winpv(['lab', 'ssh', '--', 'sh', '-c', 'for p in $(pgrep -f "sshd: root@notty"); do [ "$p" = "$PPID" ] || kill "$p"; done']);
    const code = await exited;
    t.equal(code, 3, 'winpv run exits 3 (host failure)');
    const tap = readFileSync(join(reports, 'latest', 'results.tap'), 'utf8');
    t.match(tap, /^Bail out!/m, 'TAP says where the run stopped');
    t.notOk(parseTap(tap).ok);
    t.notMatch(winpv(['lab', 'ssh', '--', 'xl', 'list']).stdout, /winpv-/, 'the domain was removed over a new connection');
  });
}
