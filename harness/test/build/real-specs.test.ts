// The build toolkit against the repository's own drivers-spec/: rendered packages parse cleanly
// and pass verification through the real `winpv package verify` command line, and a stand-in
// builder driven by the real specs produces a set that verifies too.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { buildMain } from '../../src/cli/commands/build';
import { openBuilder } from '../../src/build/builder';
import { defaultSpecDir, loadSpecs } from '../../src/spec/load';
import { readDriverInf, renderInf } from '../../src/inf/index';
import { makePackageSet } from '../fixtures/build/package-set';
import { signingWorkspace, captureOutput } from '../fixtures/build/workspace';
import { startStandinBuilder } from '../fixtures/build/standin-builder';

const specs = loadSpecs(defaultSpecDir());
const ws = signingWorkspace(t, 'winpv-realspec-');
const { skip, work } = ws;

t.test('every real spec renders an INF that parses cleanly for every vendor', async (t) => {
  t.same([...specs.keys()].sort(), ['xenbus', 'xeniface', 'xennet', 'xenvbd', 'xenvif']);
  for (const spec of specs.values()) {
    for (const v of spec.identity.vendorPrefixes) {
      const inf = readDriverInf(renderInf(spec, { version: '9.1.0.1', vendorPrefix: v.prefix }), spec.identity.inf);
      t.same(inf.problems, [], `${spec.name} for ${v.prefix}`);
      t.same(inf.services.map((s) => s.name), spec.identity.services, `${spec.name}: services`);
    }
  }
  const monitor = readDriverInf(renderInf(specs.get('xenbus')!, { version: '9.1.0.1', vendorPrefix: 'XS' }), 'xenbus.inf').services.find((s) => s.name === 'xenbus_monitor');
  t.match(monitor, { serviceType: 0x10, startType: 2, serviceBinary: '%11%\\xenbus_monitor.exe' }, 'a Win32 helper service');
});

t.test('winpv package verify passes a signed set rendered from the real specs (exit 0)', { skip }, async (t) => {
  const root = join(work, 'set');
  makePackageSet(root, specs.values(), ws.signer, { vendorPrefix: 'XS' });
  const io = captureOutput();
  const code = await main(['package', 'verify', root, '--ca-file', ws.signer.cert], io);
  if (code !== 0) t.comment(io.text() + io.errText());
  t.equal(code, 0, 'exit 0');
  t.notMatch(io.text(), /^not ok/m);
  t.match(io.text(), /ok \d+ - xennet\/x64 revisions: binds xenvif revision\(s\) 09000005/);
  t.match(io.text(), /ok \d+ - xenbus\/x64 services: services xenbus, xenfilt, xenbus_monitor as in the spec/);
});

t.test('winpv package verify on the real specs catches a child bound to a retired bus revision (exit 1)', { skip }, async (t) => {
  const root = join(work, 'badset');
  makePackageSet(root, specs.values(), ws.signer, { vendorPrefix: 'XS', revisions: { xenvbd: ['09000007'] } });
  const io = captureOutput();
  const code = await main(['package', 'verify', root, '--ca-file', ws.signer.cert], io);
  t.equal(code, 1);
  t.match(io.text(), /not ok \d+ - xenvbd\/x64 revisions: revision mismatch with xenbus\n  ---\n  check: "revisions"\n  driver: "xenvbd"\n  at: "xenvbd\/x64\/xenvbd\.inf:\d+ \[Inst\.NTamd64\]/);
  t.match(io.text(), /binds xenbus revision 09000007, which xenbus does not advertise \(09000008, 09000009, 0900000A, 0900000B, 0900000C\)/);
});

t.test('winpv build with the real specs against the stand-in builder, then verify', { skip }, async (t) => {
  const sftpRoot = mkdtempSync(join(work, 'sftp-'));
  const server = await startStandinBuilder({ specs, signer: ws.signer, sftpRoot, password: 'pw' });
  t.teardown(() => server.close());
  const io = captureOutput();
  const ctx = {
    argv: ['--builder', `ssh://builder@127.0.0.1:${server.port}`, '--host-key', server.hostKeyFingerprint, '--build-version', '9.1.1.7', '--vendor', 'XN', '--out', join(work, 'build')],
    env: { WINPV_SSH_PASSWORD: 'pw' },
    cwd: work,
    out: io.out,
    err: io.err,
    verbose: false,
    signal: new AbortController().signal,
  };
  const code = await buildMain(ctx, { loadSpecs, openBuilder });
  if (code !== 0) t.comment(io.text());
  t.equal(code, 0, 'build exits 0');
  const order = [...io.text().matchAll(/^ok \d+ - build (\w+)/gm)].map((m) => m[1]);
  t.equal(order.length, 5, 'all five built');
  t.same(order, ['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface'], 'xenbus before xenvif before xennet; xenvbd; xeniface');
  const v = captureOutput();
  const verified = await main(['package', 'verify', join(work, 'build', '9.1.1.7'), '--ca-file', ws.signer.cert], v);
  if (verified !== 0) t.comment(v.text());
  t.equal(verified, 0, 'the built set verifies');
});
