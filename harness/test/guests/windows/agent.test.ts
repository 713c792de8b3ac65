import t from 'tap';
import { WindowsAgent } from '../../../src/guests/windows/agent';
import { SshConnection } from '../../../src/remote/ssh';
import { Secret } from '../../../src/model/secret';
import { startWindowsDouble } from '../../support/windows-double';
import { makeBundle, rejects } from '../../support/xapi-pool';
import type { BlockWorkloadStep } from '../../../src/model/scenario';

const PW = 'planted-Agent-pw-1b7';


const blk = (over: Partial<BlockWorkloadStep> = {}): BlockWorkloadStep => ({ kind: 'block', guest: 'w', device: 'vbd/832', blockSize: 65536, queueDepth: 8, threads: 1, writePercent: 0, pattern: 'sequential', durationMs: 3000, verify: false, source: { file: 's.xml' }, ...over });

t.test('the Windows agent against the guest double over SSH', async (t) => {
  const d = await startWindowsDouble({ name: 'w', host: '127.0.0.1', user: 'Administrator', password: PW });
  t.teardown(() => d.close());
  let conn: SshConnection | undefined;
  const logs: string[] = [];
  const agent = new WindowsAgent({
    name: 'w',
    connect: async () => (conn ??= await SshConnection.connect({ host: d.host, port: d.port, user: 'Administrator', password: new Secret(PW), hostKeySha256: d.hostKeyFingerprint })),
    address: async () => d.host,
    log: (_l, m) => logs.push(m),
  });
  t.teardown(() => conn?.close());

  const before = await agent.driverStatus();
  t.same(before.bound, []);
  t.same(before.unplugged, { disks: false, nics: false });
  t.match(before.unbound[0]!.reason, /FAILED_INSTALL|Problem/);

  const e1 = await rejects(agent.installDrivers({ location: makeBundle('9.1.0', 3, ['xenbus']), version: '9.1.0.3', drivers: ['xenbus', 'xenvbd'] }));
  t.equal(e1.code, 'BUNDLE_DRIVER_MISSING');
  t.equal(e1.kind, 'input');
  const e2 = await rejects(agent.installDrivers({ location: makeBundle('9.1.0', 3, ['xenbus']), version: '9.1.0;rm', drivers: ['xenbus'] }));
  t.equal(e2.code, 'BUNDLE_VERSION', 'a version that is not a safe folder name is refused before anything runs');
  const e3 = await rejects(agent.installDrivers({ location: 'builtin:9.1.0', version: '9.1.0', drivers: ['xenbus'] }));
  t.equal(e3.code, 'BUNDLE_ISO_UNSUPPORTED', 'a builtin bundle needs a host that can insert the ISO');

  await agent.installDrivers({ location: makeBundle('9.1.0', 3), version: '9.1.0.3', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'], verifier: true });
  t.same(d.state.verifier, ['xenbus.sys', 'xenvif.sys', 'xennet.sys', 'xenvbd.sys'], 'Driver Verifier was enabled for the drivers');
  t.equal(agent.rebootPendingFor, '9.1.0.3');
  d.boot();
  const after = await agent.driverStatus();
  t.equal(after.bound.length, 4);
  t.same(after.unplugged, { disks: true, nics: true });

  d.state.failNextDiskspd = true;
  const e4 = await rejects(agent.blockWorkload(blk()));
  t.equal(e4.code, 'DISKSPD_REPORTED_ERROR', 'a diskspd document carrying <Error> fails the workload');
  d.state.verifyMismatches = 3;
  const r = await agent.blockWorkload(blk({ verify: true }));
  t.equal(r.result.verifyErrors, 3, 'blocks that read back different are data errors');
  t.match(d.state.scripts.at(-2)!, /"-si65536"/, 'sequential I/O');

  const e5 = await rejects(agent.netWorkload({ kind: 'net', guest: 'w', device: 'vif/0', threads: 1, direction: 'send', durationMs: 1000, source: { file: 's.xml' } }));
  t.equal(e5.code, 'NOT_IMPLEMENTED');

  d.state.crashDumps.push({ path: 'C:\\Windows\\Minidump\\112426-01.dmp', bytes: 262144 });
  t.same(await agent.findCrashDump(), { path: 'C:\\Windows\\Minidump\\112426-01.dmp', bytes: 262144 });

  const raw = await conn!.execLine('pnputil /enum-devices');
  t.not(raw.code, 0, 'the double (like the adapter) accepts only encoded PowerShell');
  t.ok(logs.some((l) => /needs a reboot/.test(l)));
});
