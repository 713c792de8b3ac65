import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpecs, checkSpecFiles, defaultSpecDir, loadSpecs, specDigests } from '../../src/spec';
import { WinpvError } from '../../src/model/errors';
import { expandHardwareIds, findKey, keyValueProblem } from '../../src/model/spec-eval';
import { shippedDir } from './mutate';

t.test('defaultSpecDir is the repository drivers-spec/, whatever the working directory', async (t) => {
  t.equal(defaultSpecDir(), shippedDir);
  t.ok(existsSync(join(defaultSpecDir(), 'driver-spec.xsd')));
});

t.test('the five shipped specs load without a problem', async (t) => {
  const r = checkSpecs(shippedDir);
  t.same(r.problems, []);
  t.same([...r.specs.keys()].sort(), ['xenbus', 'xeniface', 'xennet', 'xenvbd', 'xenvif']);
  const specs = loadSpecs();
  t.equal(specs.size, 5);
  const digests = specDigests(r);
  t.same(Object.keys(digests).sort(), ['xenbus', 'xeniface', 'xennet', 'xenvbd', 'xenvif']);
  t.match(digests.xenvbd, /^[0-9a-f]{64}$/);
});

t.test('the specs agree with the facts', async (t) => {
  const s = loadSpecs(shippedDir);
  const xenbus = s.get('xenbus')!;
  const xenvif = s.get('xenvif')!;
  const xennet = s.get('xennet')!;
  const xenvbd = s.get('xenvbd')!;
  const xeniface = s.get('xeniface')!;

  // Platform device and vendor ranges.
  t.same(expandHardwareIds(xenbus).sort(), ['PCI\\VEN_5853&DEV_0001', 'PCI\\VEN_5853&DEV_0002', 'PCI\\VEN_5853&DEV_C000&SUBSYS_C0005853&REV_01'].sort());
  t.same(xenbus.identity.vendorPrefixes.map((v) => v.prefix), ['XP', 'XN', 'XS']);
  t.same(xenbus.identity.vendorPrefixes.find((v) => v.prefix === 'XN')!.deviceRange, [0xc200, 0xc2ff]);
  // Children bind one exact revision that their parent advertises, under every vendor prefix.
  t.ok(expandHardwareIds(xenvif).includes('XENBUS\\VEN_XP0001&DEV_VIF&REV_0900000B'));
  t.ok(expandHardwareIds(xenvbd).includes('XENBUS\\VEN_XN0002&DEV_VBD&REV_0900000B'));
  t.ok(expandHardwareIds(xennet).includes('XENVIF\\VEN_XSC000&DEV_NET&REV_09000005'));
  t.ok(expandHardwareIds(xeniface).includes('XENBUS\\VEN_XP0001&DEV_IFACE&REV_0900000B'));
  t.ok(xenbus.revisions.some((r) => r.id === '0900000B'));
  t.ok(xenvif.revisions.some((r) => r.id === '09000005'));
  t.same(xenbus.revisions.find((r) => r.id === '0900000C')!.interfaces.find((i) => i.name === 'EMULATED'), { name: 'EMULATED', version: 3, provider: 'XENFILT' });
  // Build order.
  t.same(xennet.build.dependsOn, ['xenvif']);
  t.same(xenvif.build.dependsOn, ['xenbus']);

  // blkif: ring-page-order 0..4 capped by the backend, queues by the backend, x86_64-abi.
  const vbd = xenvbd.device!;
  t.equal(vbd.type, 'vbd');
  const order = findKey(vbd.keys, 'frontend', 'ring-page-order')!;
  t.same([order.min, order.max], [0, 4]);
  t.same(order.constraints!.map((c) => [c.op, c.ref]), [['<=', { side: 'backend', name: 'max-ring-page-order' }]]);
  t.equal(findKey(vbd.keys, 'frontend', 'protocol')!.value, 'x86_64-abi');
  t.same(findKey(vbd.keys, 'frontend', 'multi-queue-num-queues')!.constraints![0].ref, { side: 'backend', name: 'multi-queue-max-queues' });
  t.equal(findKey(vbd.keys, 'backend', 'multi-queue-max-queues')!.default, '1');
  t.same(findKey(vbd.keys, 'frontend', 'ring-ref<i>')!.conditions, [{ ref: { side: 'frontend', name: 'ring-page-order' } }]);
  t.same(findKey(vbd.keys, 'frontend', 'ring-ref')!.requiredStates, [3, 4]);
  t.equal(xenvbd.ring!.maxRingPageOrder, 4);
  t.equal(xenvbd.ring!.abi, 'blkif');
  t.same(xenvbd.unplug!.maskBits.map((b) => b.bit), [0, 3]);
  t.same(xenvbd.unplug!.requests, ['DISKS']);
  t.ok(vbd.frontendTransitions.some((x) => x.phase === 'connect' && x.from === 1 && x.to === 3 && x.peerStates?.join() === '2'));

  // netif: split event channels as alternatives, multi-queue, control ring.
  const vif = xenvif.device!;
  const ev = ['event-channel', 'event-channel-tx', 'event-channel-rx'].map((n) => findKey(vif.keys, 'frontend', n)!);
  t.same(ev.map((k) => k.alternativeGroup), ['event-channel', 'event-channel', 'event-channel']);
  t.same(ev[0].conditions, [{ ref: { side: 'backend', name: 'feature-split-event-channels' }, negate: true }]);
  t.ok(vif.frontendTransitions.some((x) => x.phase === 'connect' && x.from === 1 && x.to === 4), 'xenvif goes from Initialising straight to Connected');
  t.equal(xenvif.ring!.abi, 'netif');
  t.equal(xenvif.ring!.maxRingPageOrder, 0);
  t.ok(xenvif.guestKeys.some((k) => k.name === 'feature/hotplug/vif' && k.requiredFrom === 1));
  t.ok(xenvif.guestKeys.some((k) => k.name === 'attr/vif/<id>/ipv4/<n>'));

  // Guest keys of the bus.
  const drivers = xenbus.guestKeys.find((k) => k.name === 'drivers/<N>')!;
  t.equal(keyValueProblem(drivers, 'Xen_Project XENBUS 9.1.0.123 '), undefined);
  t.equal(keyValueProblem(drivers, 'Xen_Project XENBUS 9.1.0.123 (DEBUG)'), undefined);
  t.ok(keyValueProblem(drivers, 'Xen Project XENBUS 9.1'), 'a malformed record is rejected');
  t.equal(xenbus.guestKeys.find((k) => k.name === 'control/feature-suspend')!.value, '1');
  t.same(xenbus.unplug!.protocol, { port: 0x10, magic: 0x49d2, blacklistedMagic: 0xd249, versionPort: 0x12 });
});

t.test('loadSpecs throws one input error with every problem; checkSpecs returns them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-spec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(shippedDir, dir, { recursive: true });
  writeFileSync(join(dir, 'xenhid.xml'), '<driver name="xenhid">\n  <identity/>\n</driver>\n');
  writeFileSync(join(dir, 'xencons.xml'), '<driver name="xencons">\n  <description>x\n</driver>\n');
  const r = checkSpecs(dir, dir);
  t.ok(r.problems.length >= 3);
  t.ok(r.problems.some((p) => p.location.file === 'xencons.xml' && p.rule === 'xml-wellformed'));
  t.ok(r.problems.some((p) => p.location.file === 'xenhid.xml' && p.rule === 'child-count'));
  t.equal(r.specs.size, 5, 'the good files are still loaded');
  const e = t.throws(() => loadSpecs(dir, dir)) as WinpvError;
  t.ok(e instanceof WinpvError);
  t.equal(e.code, 'SPEC_INVALID');
  t.equal(e.exitCode, 2);
  t.equal(e.problems.length, r.problems.length);
});

t.test('a missing or empty directory is a problem, not an exception', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-spec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(checkSpecs(dir, dir).problems.map((p) => p.rule), ['spec-dir']);
  t.same(checkSpecs(join(dir, 'nope'), dir).problems.map((p) => [p.rule, p.location.file]), [['spec-dir', 'nope']]);
  t.throws(() => loadSpecs(join(dir, 'nope')), { code: 'SPEC_INVALID' });
  t.same(checkSpecFiles([join(dir, 'none.xml')], dir).problems.map((p) => p.rule), ['xml-read']);
});
