import t from 'tap';
import { devicesFor, readDriverInf, renderHardwareIds, renderInf } from '../../src/inf';
import { testSpecs } from '../fixtures/build/specs';

const specs = testSpecs();

t.test('every spec renders an INF that parses back without problems', async (t) => {
  for (const spec of specs.values()) {
    const text = renderInf(spec, { version: '9.1.0.42', vendorPrefix: 'XP' });
    const inf = readDriverInf(text, spec.identity.inf);
    t.same(inf.problems, [], `${spec.name}: no problems`);
    t.equal(inf.version.driverVer?.value.version, '9.1.0.42');
    t.equal(inf.version.class?.value, spec.identity.deviceClass);
    t.same(inf.services.map((s) => s.name), spec.identity.services, `${spec.name}: services`);
    const sys = spec.identity.files.filter((f) => f.kind === 'sys').map((f) => f.name);
    t.same(inf.copyFiles.map((c) => c.source).sort(), sys.sort(), `${spec.name}: copied files`);
    t.equal(inf.version.catalogFiles[0]?.name, `${spec.name}.cat`);
  }
});

t.test('hardware IDs: prefix and revisions filled; <device> from the platform device ids', async (t) => {
  t.same(renderHardwareIds(specs.get('xenvif')!, 'XN'), ['XENBUS\\VEN_XN0001&DEV_VIF&REV_09000009', 'XENBUS\\VEN_XN0002&DEV_VIF&REV_09000009', 'XENBUS\\VEN_XNC200&DEV_VIF&REV_09000009']);
  t.same(renderHardwareIds(specs.get('xenbus')!, 'XP'), ['PCI\\VEN_5853&DEV_0001', 'PCI\\VEN_5853&DEV_0002'], 'no vendor device id: no vendor PCI id');
  t.same(renderHardwareIds(specs.get('xenbus')!, 'XS')[2], 'PCI\\VEN_5853&DEV_C000&SUBSYS_C0005853&REV_01');
  const inf = readDriverInf(renderInf(specs.get('xennet')!, { version: '1.2.3.4', vendorPrefix: 'XN', archs: ['x64'], revisions: ['0900000B'] }), 'xennet.inf');
  t.same(devicesFor(inf, 'x64').map((d) => d.hardwareId), ['XENVIF\\VEN_XN0001&DEV_NET&REV_0900000B', 'XENVIF\\VEN_XN0002&DEV_NET&REV_0900000B', 'XENVIF\\VEN_XNC200&DEV_NET&REV_0900000B'], 'revisions override');
  t.same(devicesFor(inf, 'x86'), [], 'only x64 rendered');
});

t.test('quotes in descriptions survive the round trip', async (t) => {
  const spec = { ...specs.get('xeniface')!, description: 'Interface "raw"' };
  const inf = readDriverInf(renderInf(spec, { version: '1.0.0.0', vendorPrefix: 'XP' }), 'xeniface.inf');
  t.equal(inf.devices[0].description, 'Xen Project Interface "raw"');
});
