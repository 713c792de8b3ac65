// iso:<name> from a scenario, end to end on the test pool: the runner resolves it, the XenAPI host
// inserts that ISO of the ISO SR, the Windows agent installs from the disc, drivers-bound judges it.
import t from 'tap';
import { startPool, leftovers, nestedBundle } from '../../support/xapi-pool';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPlanned } from '../../support/run-plan';
import { scenario, src } from './pool-scenarios';

t.test('install-drivers bundle="iso:winpv-9.1.0.iso" on a pool', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  const s = scenario('iso-bundle', [
    { kind: 'install-drivers', guest: 'win', bundle: 'iso:winpv-9.1.0.iso', reboot: true, source: src },
  ], { needs: ['windows-guest'], checks: [{ name: 'drivers-bound', params: {} }] });
  const { outcome, trace, tap } = await runPlanned({ host, plan: [s], seed: 5, tap: true });
  t.equal(outcome.hostError, undefined);
  const bound = outcome.summary.instances[0]!.checks.find((c) => c.check === 'drivers-bound')!;
  t.equal(bound.verdict, 'pass', bound.message);
  const drivers = trace.events.find((e) => e.ev === 'drivers');
  t.match(drivers, { expected: { version: '9.1.0' } }, 'the version the ISO\'s name carries is the one expected');
  t.match(tap, /ok \d+ - drivers-bound/);
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('a bundle for another architecture on a pool: refused before the guest is touched, nothing left', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  const dir = await nestedBundle('9.1.0.42');
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, arch: 'x86' }));
  const s = scenario('x86-bundle', [
    { kind: 'install-drivers', guest: 'win', bundle: dir, reboot: true, source: src },
  ], { needs: ['windows-guest'], checks: [{ name: 'drivers-bound', params: {} }] });
  const { outcome, trace } = await runPlanned({ host, plan: [s], seed: 5 });
  const failed = trace.events.find((e) => e.ev === 'step.end' && e.kind === 'install-drivers');
  t.match(failed, { ok: false, error: { code: 'BUNDLE_ARCH', message: /runs x64 Windows, but in the bundle .*manifest\.json the xenbus package is x86/ } }, 'the step says what and where');
  t.equal(outcome.summary.instances[0]!.verdict, 'fail');
  const d = pool.doubles[0]!;
  t.equal(d.state.store.size, 0, 'no driver package reached the guest');
  t.same([...d.state.files.keys()].filter((k) => k.startsWith('C:')), [], 'nothing copied into the guest');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool (no bundle ISO uploaded)');
});
