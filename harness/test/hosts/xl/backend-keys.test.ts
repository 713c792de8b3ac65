import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendKeyWriter, captureTree, compareDriverKeys, normalizeValue } from '../../../src/hosts/xl/backend-keys';
import { Dom0 } from '../../../src/hosts/xl/dom0';
import { XlXenstore } from '../../../src/hosts/xl/xenstore';
import { FakeDom0 } from './fake-dom0';

interface Fixture {
  captured: { how: string };
  vbd: { backend: Record<string, { value: string; writer: string }>; frontend: Record<string, string> };
  vif: { backend: Record<string, { value: string; writer: string }>; frontend: Record<string, string> };
}
const fixture = JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'lab', 'backend-keys.json'), 'utf8')) as Fixture;
const values = (r: Record<string, { value: string }>): Record<string, string> => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.value]));

t.test('the fixture says how it was captured and holds both ends Connected', async (t) => {
  t.match(fixture.captured.how, /winpv lab up/);
  for (const kind of ['vbd', 'vif'] as const) {
    t.equal(fixture[kind].backend.state!.value, '4');
    t.equal(fixture[kind].frontend.state, '4');
  }
  t.equal(fixture.vbd.backend['feature-persistent']!.writer, 'driver');
  t.equal(fixture.vbd.backend['hotplug-status']!.writer, 'hotplug-script');
  t.equal(fixture.vif.backend.mac!.writer, 'toolstack');
});

t.test('the comparison reports missing, extra and different driver keys, and ignores toolstack keys', async (t) => {
  const real = values(fixture.vbd.backend);
  t.same(compareDriverKeys('vbd', real, real), { missing: [], extra: [], values: [] });
  const other: Record<string, string> = { ...real, 'feature-made-up': '1', 'max-ring-page-order': '2', params: '/elsewhere' };
  delete other['feature-barrier'];
  delete other['hotplug-status'];
  const d = compareDriverKeys('vbd', real, other);
  t.same(d.missing, ['feature-barrier']);
  t.same(d.extra, ['feature-made-up']);
  t.same(d.values, [['max-ring-page-order', '4', '2']]);
});

t.test('normalization hides per-run values only', async (t) => {
  t.equal(normalizeValue('ring-ref', '8'), '<number>');
  t.equal(normalizeValue('event-channel-tx', '9'), '<number>');
  t.equal(normalizeValue('frontend', '/local/domain/5/device/vbd/51712'), '/local/domain/<domid>/device/vbd/51712');
  t.equal(normalizeValue('max-ring-page-order', '4'), '4');
  t.equal(backendKeyWriter('vbd', 'sectors'), 'driver');
  t.equal(backendKeyWriter('vif', 'bridge'), 'toolstack');
});

t.test('captureTree walks a device directory through the xenstore view', async (t) => {
  const fake = new FakeDom0();
  fake.xs.set('/b/state', '4');
  fake.xs.set('/b/q/queue-0/ring-ref', '8');
  const tree = await captureTree(new XlXenstore(new Dom0(fake, 'f')), '/b');
  t.same(tree, { 'q/queue-0/ring-ref': '8', state: '4' });
});
