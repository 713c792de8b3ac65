// A local driver bundle on a XenAPI pool goes in as a disc: an ISO VDI of the pool's writable ISO SR
// (VDI.create + PUT /import_raw_vdi), in the guest's CD drive, removed when the step's bundle is
// cleaned up. Failures of the upload are a clear not ok and leave nothing on the pool.
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { poolWithGuest, startPool, leftovers, nestedBundle, XAPI_PW, GUEST_PW, type Pool } from '../../support/xapi-pool';
import { XapiFailure } from '../../support/xapi-server';
import { runPlanned } from '../../support/run-plan';
import { writeIsoImage } from '../../../src/inf/index';
import { discFileName, writableIsoSrs } from '../../../src/hosts/xapi/iso-disc';
import { collectGarbage } from '../../../src/hosts/xapi/gc';
import type { XapiSession } from '../../../src/hosts/xapi/session';
import type { DriverName } from '../../../src/model/spec';
import { scenario, src } from './pool-scenarios';
import { skipUnlessTool } from '../../fixtures/build/tools';

const DRIVERS: DriverName[] = ['xenbus', 'xenvif', 'xennet', 'xenvbd'];

async function runOne(pool: Pool, bundle: string) {
  const host = pool.host();
  const scenarios = [scenario('install-from-disc', [
    { kind: 'install-drivers', guest: 'win', bundle, reboot: true, source: src },
    { kind: 'wait', guest: 'win', path: 'device/vbd/832/state', equals: '4', timeoutMs: 10_000, source: src },
    { kind: 'block', guest: 'win', device: 'vbd/832', blockSize: 4096, queueDepth: 8, threads: 1, writePercent: 30, pattern: 'random', durationMs: 1000, verify: false, source: src },
  ])];
  // the real bundle opener: the manifest gives the version, an ISO bundle is handed over as it is
  const { outcome, trace, tap } = await runPlanned({ host, plan: scenarios, seed: 3, tap: true });
  return { host, trace, tap, outcome };
}

/** What went into CD drives on the pool: the VDI's name, its SR and the sha256 of its bytes. */
function watchDiscs(pool: Pool): { name: string; sr: string; sha256?: string }[] {
  const seen: { name: string; sr: string; sha256?: string }[] = [];
  const refs = new Set<string>();
  pool.srv.pool.listeners.add((cls, op, _ref, rec) => {
    if (cls !== 'VBD' || op === 'del' || !rec || rec.type !== 'CD' || rec.empty || refs.has(String(rec.VDI))) return;
    refs.add(String(rec.VDI));
    const vdi = pool.srv.pool.objects.get(String(rec.VDI))?.rec;
    const bytes = pool.srv.pool.content.get(String(rec.VDI));
    if (vdi) seen.push({ name: String(vdi.name_label), sr: String(pool.srv.pool.get(vdi.SR).name_label), ...(bytes ? { sha256: createHash('sha256').update(bytes).digest('hex') } : {}) });
  });
  return seen;
}

const sessionIds = (pool: Pool) => [...pool.srv.pool.sessions.keys()].map((s) => s.replace('OpaqueRef:', ''));

t.test('an ISO bundle runs end to end from an ISO VDI in the CD drive: every check ok, nothing left', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const dir = await nestedBundle('9.1.0.156');
  const iso = join(mkdtempSync(join(tmpdir(), 'winpv-iso-')), 'winpv-drivers-9.1.0.156.iso');
  await writeIsoImage(dir, iso, '9.1.0.156');
  const discs = watchDiscs(pool);
  const { host, trace, tap, outcome } = await runOne(pool, iso);
  t.comment(tap);
  t.equal(outcome.hostError, undefined);
  t.match(tap, /^ok \d+ - install-from-disc/m, 'the scenario passes every check');
  t.notMatch(tap, /^\s*not ok/m);
  const uploaded = discs.filter((d) => d.sha256);
  t.equal(uploaded.length, 1, 'one disc was uploaded and inserted');
  t.equal(uploaded[0]!.name, discFileName(host.runId, 'install-from-disc/win', '9.1.0.156'), 'named with the run id and the guest, as everything the run creates');
  t.equal(uploaded[0]!.sr, 'ISOs', 'into the ISO SR (a CD drive takes nothing else)');
  t.equal(uploaded[0]!.sha256, createHash('sha256').update(readFileSync(iso)).digest('hex'), 'the bundle ISO itself, byte for byte (not rebuilt)');
  const d = pool.doubles[0]!;
  t.ok(d.state.scripts.some((x) => x.includes(JSON.stringify('D:\\xenbus\\x64\\xenbus.inf'))), 'pnputil read the INF where the manifest says it is, on the disc');
  t.notOk([...d.state.files.keys()].some((k) => k.startsWith('C:\\winpv\\bundle')), 'nothing was copied over SFTP');
  const drivers = trace.events.find((e) => e.ev === 'drivers');
  t.ok(drivers && drivers.ev === 'drivers' && drivers.bound.length === 4 && drivers.bound.every((b) => b.version === '9.1.0.156'), 'the drivers bound at the manifest version');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
  t.equal(pool.srv.pool.content.size, 0, 'the ISO file is gone from the SR');
  t.equal(pool.srv.pool.all('task').length, 0, 'no task left');
  const text = JSON.stringify(trace.events) + tap;
  for (const secret of [XAPI_PW, GUEST_PW, ...sessionIds(pool)]) t.notMatch(text, secret, 'no password or session id in the trace or the TAP');
});

t.test('a directory bundle is written as an ISO and uploaded', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const dir = await nestedBundle('9.1.0.156');
  const discs = watchDiscs(pool);
  const { tap } = await runOne(pool, dir);
  t.match(tap, /^ok \d+ - install-from-disc/m, 'the scenario passes every check');
  t.equal(discs.filter((d) => d.sha256).length, 1, 'an ISO VDI went into the CD drive');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('an upload that fails is a clear not ok and leaves nothing behind', { skip: skipUnlessTool('xorriso') }, async (t) => {
  for (const how of ['refused', 'full'] as const) {
    const pool = await startPool({ guests: 1, dom0: true, ...(how === 'full' ? {} : {}) });
    t.teardown(() => pool.close());
    if (how === 'refused') pool.srv.pool.refuseImport = { status: 500, error: new XapiFailure('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', '']) };
    else pool.srv.pool.set(pool.srv.pool.isoSr, { physical_size: 64 * 1024, physical_utilisation: 0 });
    const dir = await nestedBundle('9.1.0.156');
    const { trace, tap, outcome } = await runOne(pool, dir);
    t.equal(outcome.hostError, undefined, `${how}: the pool still answers, so only this scenario failed`);
    t.match(tap, /^not ok \d+ - install-from-disc/m, `${how}: the scenario is not ok`);
    const end = trace.events.find((e) => e.ev === 'step.end' && !e.ok);
    const msg = end && end.ev === 'step.end' ? `${end.error?.code} ${end.error?.message}` : '';
    t.match(msg, how === 'refused' ? /XAPI_SR_BACKEND_FAILURE_44 .*uploading the bundle ISO \(\d+ bytes\) into SR 'ISOs' failed \(HTTP 500\): SR_BACKEND_FAILURE_44/ : /XAPI_VDI_IO_ERROR .*into SR 'ISOs' failed \(HTTP 500\): VDI_IO_ERROR\(Device I\/O errors\)/, `${how}: the step says why: ${msg}`);
    t.same(leftovers(pool.srv), [], `${how}: nothing left on the pool`);
    t.equal(pool.srv.pool.content.size, 0, `${how}: no file left in the SR`);
    t.equal(pool.srv.pool.all('task').length, 0, `${how}: no task left`);
    for (const secret of [XAPI_PW, ...sessionIds(pool)]) t.notMatch(JSON.stringify(trace.events) + tap, secret, `${how}: no session id in what the run wrote`);
  }
});

t.test('the test server answers import_raw_vdi and ISO SR VDIs the way XAPI does', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  const status = (path: string) => new Promise<number>((resolve, reject) => {
    const req = request(`${pool.srv.url}${path}`, { method: 'PUT', rejectUnauthorized: false, headers: { 'content-length': 4 } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end('abcd');
  });
  const iso = pool.srv.pool.all('VDI').find(([, v]) => v.name_label === 'winpv-9.1.0.iso')![0];
  t.equal(await status(`/import_raw_vdi?session_id=OpaqueRef:forged&vdi=${iso}&format=raw`), 401, 'no session: 401, nothing written');
  t.equal(pool.srv.pool.content.size, 0);
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  t.teardown(() => host.close());
  const s = (host as unknown as { session: XapiSession }).session;
  const e = await s.call('VDI.create', { name_label: 'x', SR: pool.srv.pool.isoSr, virtual_size: 4, type: 'user', sharable: false, read_only: false, other_config: {}, sm_config: { path: 'has space.iso' } }).catch((x: Error & { code?: string }) => x);
  t.match((e as { code?: string }).code, 'XAPI_SR_BACKEND_FAILURE_78', 'an ISO SR takes only [a-z0-9.-]+.iso|img file names');
  const disk = pool.srv.pool.all('VDI').find(([, v]) => v.name_label === 'win2022 base disk')![0];
  const cd = pool.srv.pool.all('VBD').find(([, v]) => v.type === 'CD')![0];
  const notIso = await s.call('VBD.insert', cd, disk).catch((x: Error & { code?: string }) => x);
  t.match((notIso as { code?: string }).code, 'XAPI_VDI_IS_NOT_ISO', 'a CD drive takes no VDI of a non-ISO SR');
  t.same(writableIsoSrs(s, {}).map((r) => r.name_label), ['ISOs'], 'the writable ISO SR is found');
  pool.srv.pool.set(pool.srv.pool.isoSr, { allowed_operations: ['scan'] });
  await s.waitFor('the SR update', 5000, () => (s.all('SR').some((r) => r.name_label === 'ISOs' && (r.allowed_operations as string[]).length === 1) ? true : undefined));
  t.same(writableIsoSrs(s, {}), [], 'an ISO SR that takes no new VDIs is not');
});

t.test('winpv xapi gc finds the disc of a run that died mid-install', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'died', { pool: { guests: 1 } });
  // the install hangs in the guest after the disc went in, and the run dies there
  const d = pool.doubles[0]!;
  const dir = await nestedBundle('9.1.0.7');
  const install = host.agent(g).installDrivers({ location: dir, version: '9.1.0.7', drivers: DRIVERS, onCleanup: () => undefined });
  await install;
  const s = (host as unknown as { session: XapiSession }).session;
  await s.close();
  t.ok(leftovers(pool.srv).some((l) => l.endsWith('.iso')), `the disc is left: ${leftovers(pool.srv).join(', ')}`);
  t.ok(d.state.cdLoaded, 'in the CD drive');
  const gcHost = pool.host();
  await gcHost.open(pool.sink, { seed: 2 });
  t.teardown(() => gcHost.close());
  const gs = (gcHost as unknown as { session: XapiSession }).session;
  const res = await collectGarbage(gs, { olderThanMs: 0, dryRun: false, exceptRun: gcHost.runId, now: new Date(Date.now() + 1000) });
  t.ok(res.removed.some((r) => r.name.endsWith('.iso')), 'gc removed the disc');
  t.same(leftovers(pool.srv), [], 'and everything else the run left');
  t.equal(pool.srv.pool.content.size, 0);
});

t.test('a pool without a writable ISO SR gets the bundle over SFTP; an isoSr that does not exist is an error', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  pool.srv.pool.set(pool.srv.pool.isoSr, { allowed_operations: ['scan'] });
  const { tap, trace } = await runOne(pool, await nestedBundle('9.1.0.156'));
  t.match(tap, /^ok \d+ - install-from-disc/m, 'the scenario passes');
  t.ok(pool.doubles[0]!.state.files.has('C:\\winpv\\bundle\\9.1.0.156\\xenbus\\x64\\xenbus.sys'), 'copied over SFTP, in the manifest\'s folders');
  t.ok(trace.events.some((e) => e.ev === 'log' && /no place for a bundle disc/.test(e.msg)), 'the log says why');
  t.equal(pool.srv.pool.calls.filter((c) => c.method.startsWith('HTTP PUT')).length, 0, 'nothing was uploaded');

  pool.cfg.isoSr = 'No such SR';
  const named = await runOne(pool, await nestedBundle('9.1.0.156'));
  t.match(named.tap, /^not ok \d+ - install-from-disc/m);
  const end = named.trace.events.find((e) => e.ev === 'step.end' && !e.ok);
  t.match(end && end.ev === 'step.end' ? end.error?.message : '', /no ISO SR 'No such SR'/, 'a named SR that is not there is an error, not a silent fallback');
  t.same(leftovers(pool.srv), []);
});

t.test('an iso: bundle whose ISO the pool does not have (gone since the preflight) is XAPI_NO_ISO, a host error naming the ISO and the SR', async (t) => {
  const { pool, host, guest } = await poolWithGuest(t, 'no-iso', { pool: { guests: 1 } });
  await t.rejects(host.insertIso!(guest, 'no-such.iso'), { code: 'XAPI_NO_ISO', kind: 'host', message: /no ISO 'no-such\.iso' in (SR '[^']+'|any ISO SR)/ });
  await host.destroyGuest(guest);
  await host.close();
  t.same(leftovers(pool.srv), [], 'nothing left');
});
