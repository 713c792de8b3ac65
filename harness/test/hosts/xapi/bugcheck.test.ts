// guest-bugcheck on a pool: a BSOD on purpose (NotMyFault /bugcheck in the guest, or an NMI from
// dom0's `xl trigger` for 0x80), the guest restarting by itself, and its dump collected with the
// stop code its header records; the crash-dump check judges that, and fails a stale or missing dump.
// Refusals before anything crashes: a CrashControl that promises no dump or no restart, no NMI
// crash dump, no NotMyFault in the guest.
import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { poolWithGuest, leftovers, rejects, startPool } from '../../support/xapi-pool';
import { runPlanned } from '../../support/run-plan';
import { scenario, src } from './pool-scenarios';
import type { ArtifactEvent, GuestEvent } from '../../../src/model/trace';
import type { WindowsDouble } from '../../support/windows-double';

const bugcheckScenario = (name: string, code: number) =>
  scenario(name, [{ kind: 'bugcheck', guest: 'win', code, source: src }], { needs: ['windows-guest', 'guest-bugcheck'], checks: [{ name: 'crash-dump', params: {} }, { name: 'guest-alive', params: {} }] });

async function runOnPool(t: Test, name: string, code: number, prepare: (d: WindowsDouble) => void) {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  prepare(pool.doubles[0]!);
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-bugcheck-'));
  const host = pool.host();
  const { outcome, trace, tap } = await runPlanned({ host, plan: [bugcheckScenario(name, code)], seed: 3, tap: true, artifactsDir: join(dir, 'artifacts') });
  t.comment(tap);
  return { pool, outcome, events: trace.events, tap };
}

t.test('NotMyFault /bugcheck 0xE2: the guest restarts, its dump is collected with stop code 0xE2, crash-dump ok; nothing left', async (t) => {
  const { pool, events, tap } = await runOnPool(t, 'bugcheck-e2', 0xe2, () => undefined);
  const bc = events.find((e): e is GuestEvent => e.ev === 'guest' && e.what === 'bugcheck');
  t.match(bc?.detail, { code: '0x000000E2', name: 'MANUALLY_INITIATED_CRASH', how: 'notmyfault /bugcheck' });
  t.ok(events.some((e) => e.ev === 'guest' && e.what === 'rebooted' && e.detail?.reason === 'bugcheck 0x000000E2'), 'the restart is the bugcheck\'s, not an unexpected one');
  t.notOk(events.some((e) => e.ev === 'guest' && (e.what === 'crashed' || (e.what === 'rebooted' && e.detail?.unexpected))), 'not reported as a crash or an unexpected reboot');
  const a = events.find((e): e is ArtifactEvent => e.ev === 'artifact' && e.kind === 'crash-dump');
  t.match(a, { bugcheck: '0x000000E2', source: 'C:\\Windows\\MEMORY.DMP' });
  t.ok(a?.path && a.bytes, 'the dump is in the report');
  t.same(pool.doubles[0]!.state.bugchecks, [0xe2]);
  t.match(tap, /^ {4}ok \d+ - crash-dump: 1 crash dump written for 1 bugcheck, 1 collected/m);
  t.match(tap, /^ok 1 - bugcheck-e2/m);
  t.same(leftovers(pool.srv), []);
});

t.test('a bugcheck that writes no dump (its page file too small): crash-dump is not ok, naming the missing dump', async (t) => {
  const { events, tap } = await runOnPool(t, 'bugcheck-stale', 0xe2, (d) => {
    d.state.dumpFails = true;
  });
  t.notOk(events.some((e) => e.ev === 'artifact' && e.bytes), 'no dump at all on a fresh clone');
  t.match(tap, /not ok \d+ - crash-dump: win: no crash dump after the bugcheck 0x000000E2/);
});

t.test('a stale MEMORY.DMP (an earlier crash, 0x1E) and a bugcheck that writes none: crash-dump names the stale stop code', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const d = pool.doubles[0]!;
  // this bugcheck writes no dump, and the MEMORY.DMP of an earlier crash (0x1E) is still there
  d.state.dumpFails = true;
  const restart = d.onRestart;
  d.onRestart = () => {
    d.writeCrashDump('full', undefined, [], 0x1e);
    restart?.();
  };
  const host = pool.host();
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-bugcheck-'));
  const { trace, tap } = await runPlanned({ host, plan: [bugcheckScenario('bugcheck-stale-dump', 0xe2)], seed: 3, tap: true, artifactsDir: join(dir, 'artifacts') });
  t.comment(tap);
  t.ok(trace.events.some((e) => e.ev === 'artifact' && e.bugcheck === '0x0000001E'), 'the host read the stale dump\'s stop code');
  t.match(tap, /not ok \d+ - crash-dump: win: the crash dump records stop code 0x0000001E, the guest bugchecked with 0x000000E2 \(a stale dump\?\)/);
});

t.test('an NMI from dom0 (stop code 0x80): xl trigger <domid> nmi, needs CrashControl\\NMICrashDump', async (t) => {
  const { pool, host, guest } = await poolWithGuest(t, 'nmi', { pool: { guests: 1 }, open: { artifactsDir: join(mkdtempSync(join(tmpdir(), 'winpv-xapi-nmi-')), 'artifacts') } });
  const d = pool.doubles[0]!;
  const domid = guest.domid;
  const refused = await rejects(host.bugcheck.bugcheck(guest, { code: 0x80 }));
  t.equal(refused.code, 'GUEST_CRASH_CONTROL');
  t.match(refused.message, /NMICrashDump is not 1, so an NMI does not bugcheck it/);
  t.equal(guest.domid, domid, 'nothing was crashed');
  t.notOk(pool.dom0!.ssh.commands.some((c) => c.startsWith('xl trigger')), 'and no NMI sent');
  d.state.crashControl.nmiCrashDump = true;
  await host.bugcheck.bugcheck(guest, { code: 0x80 });
  t.ok(pool.dom0!.ssh.commands.includes(`xl trigger ${domid} nmi`), 'dom0 sent the NMI to the guest\'s domain');
  t.not(guest.domid, domid, 'the guest is back in a new domain');
  t.ok(pool.events.some((e) => e.ev === 'artifact' && e.bugcheck === '0x00000080'), 'its dump records NMI_HARDWARE_FAILURE');
  await host.close();
  t.same(leftovers(pool.srv), []);
});

t.test('refused before anything crashes: no dump promised, no restart promised, no NotMyFault', async (t) => {
  const { pool, host, guest } = await poolWithGuest(t, 'refusals', { pool: { guests: 1 } });
  const d = pool.doubles[0]!;
  d.state.crashControl.crashDumpEnabled = 0;
  t.match((await rejects(host.bugcheck.bugcheck(guest, { code: 0xe2 }))).message, /CrashDumpEnabled is 0, so Windows writes no dump/);
  d.state.crashControl.crashDumpEnabled = 2;
  d.state.crashControl.autoReboot = false;
  t.match((await rejects(host.bugcheck.bugcheck(guest, { code: 0xe2 }))).message, /AutoReboot is 0, so Windows would stay at its blue screen/);
  d.state.crashControl.autoReboot = true;
  d.state.notMyFault = false;
  const e = await rejects(host.bugcheck.bugcheck(guest, { code: 0xe2 }));
  t.equal(e.code, 'GUEST_NOTMYFAULT_MISSING');
  t.same(d.state.bugchecks, [], 'the guest never bugchecked');
  await host.close();
  t.same(leftovers(pool.srv), []);
});
