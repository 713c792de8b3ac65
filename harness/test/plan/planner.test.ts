import t from 'tap';
import { plan, expand, faultsUsed, fnv1a, inShard, parseShard, combinations } from '../../src/plan/planner';
import { FAULTS, type FaultName } from '../../src/model/catalog';
import type { Step } from '../../src/model/scenario';
import { scenario, sleep } from '../fixtures/scenarios';

const s = (name: string, tags: string[], extra = {}) => scenario(name, [sleep(1)], { tags, ...extra });

t.test('matrix expansion: every combination, ${var} in strings and templated typed values', async (t) => {
  t.same(combinations([{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['x', 'y'] }]), [
    { a: '1', b: 'x' }, { a: '1', b: 'y' }, { a: '2', b: 'x' }, { a: '2', b: 'y' },
  ]);
  const base = s('mp', ['nightly'], {
    title: 'order ${order}',
    matrix: [{ name: 'order', values: ['0', '3'] }],
    templated: [{ at: ['guests', 0, 'vbds', 0, 'ringPageOrder'], template: '${order}', as: 'int' }],
  });
  const [a, b] = expand(base);
  t.equal(a.id, 'mp[order=0]');
  t.equal(b.scenario.title, 'order 3');
  t.equal(b.scenario.guests[0].vbds[0].ringPageOrder, 3);
  t.equal(a.scenario.guests[0].vbds[0].ringPageOrder, 0);
  t.equal(base.guests[0].vbds[0].ringPageOrder, undefined, 'the loaded scenario is not modified');
  t.same(b.scenario.matrix, []);
  t.equal(b.scenario.source, base.source);
});

t.test('filters: tags (any), grep on id or title', async (t) => {
  const all = [s('a', ['smoke']), s('b', ['nightly']), s('c', ['lab'])];
  t.same(plan(all, { seed: 1, tags: ['smoke', 'nightly'] }).instances.map((i) => i.id), ['a', 'b']);
  t.same(plan(all, { seed: 1, grep: '^C$' }).instances.map((i) => i.id), ['c']);
});

t.test('capability skips carry the reason', async (t) => {
  const p = plan([s('m', ['x'], { needs: ['migrate', 'windows-guest'] })], { seed: 1, capabilities: new Set(['windows-guest']), hostKind: 'xl' });
  t.equal(p.instances[0].skip, "host xl lacks 'migrate'");
});

t.test('a fault the host cannot inject skips the instance with the reason; supported faults run', async (t) => {
  const src = { file: 'scenarios/test.xml', line: 1 };
  const fault = (name: FaultName): Step => ({ kind: 'fault', source: src, fault: { name, guest: 'win', params: {} } });
  const nested = s('nested', ['x'], {
    needs: ['windows-guest', 'fault-injection'],
    steps: [{ kind: 'parallel', source: src, branches: [[sleep(1)], [{ kind: 'repeat', source: src, count: 2, steps: [fault('missed-notify')] }]] }],
  });
  const wide = s('wide', ['x'], { needs: ['windows-guest', 'fault-injection'], faults: [{ name: 'slow-backend', params: {} }], steps: [fault('guest-crash')] });
  const crash = s('crash', ['x'], { needs: ['windows-guest', 'fault-injection'], steps: [fault('guest-crash')] });
  t.same(faultsUsed(nested), ['missed-notify'], 'found inside repeat inside parallel');
  t.same(faultsUsed(wide).sort(), ['guest-crash', 'slow-backend']);
  const xl = new Set<FaultName>(['guest-crash', 'backend-closing', 'surprise-unplug']);
  const p = plan([nested, wide, crash], { seed: 1, capabilities: new Set(['windows-guest', 'fault-injection']), faults: xl, hostKind: 'xl' });
  t.equal(p.instances[0].skip, "host xl cannot inject 'missed-notify' (it injects backend-closing, guest-crash, surprise-unplug)");
  t.equal(p.instances[1].skip, "host xl cannot inject 'slow-backend' (it injects backend-closing, guest-crash, surprise-unplug)");
  t.equal(p.instances[2].skip, undefined, 'a scenario whose faults the host injects is planned to run');
  const all = plan([nested, wide, crash], { seed: 1, capabilities: new Set(['windows-guest', 'fault-injection']), faults: new Set(Object.keys(FAULTS) as FaultName[]), hostKind: 'sim' });
  t.same(all.instances.map((i) => i.skip), [undefined, undefined, undefined], 'a host injecting every fault skips none');
  const noCap = plan([nested], { seed: 1, capabilities: new Set(['windows-guest']), faults: xl, hostKind: 'xapi' });
  t.equal(noCap.instances[0].skip, "host xapi lacks 'fault-injection'", 'a missing capability is the reason first');
});

t.test('shards partition the instances, stably by id', async (t) => {
  const all = Array.from({ length: 40 }, (_, i) => s(`sc${i}`, ['x']));
  const ids = (k: number, n: number) => plan(all, { seed: 1, shard: { index: k, count: n } }).instances.map((i) => i.id);
  const union = [...ids(1, 3), ...ids(2, 3), ...ids(3, 3)].sort();
  t.same(union, all.map((x) => x.name).sort(), 'every instance in exactly one shard');
  t.ok(ids(1, 3).length > 0 && ids(2, 3).length > 0 && ids(3, 3).length > 0);
  const more = [...all, s('new-one', ['x'])];
  const before = ids(2, 3);
  const after = plan(more, { seed: 1, shard: { index: 2, count: 3 } }).instances.map((i) => i.id).filter((id) => id !== 'new-one');
  t.same(after, before, 'adding a scenario does not move the others');
  t.equal(inShard('sc1', { index: (fnv1a('sc1') % 3) + 1, count: 3 }), true);
  t.same(parseShard('2/4'), { index: 2, count: 4 });
  t.match(parseShard('5/4'), /1 <= k <= n/);
  t.match(parseShard('x'), /k\/n/);
});

t.test('a builtin bundle the host has no artefact for skips the instance with what to provide; named ones, our own by convention, and the simulator run', async (t) => {
  const src = { file: 'scenarios/test.xml', line: 1 };
  const install = (bundle: string): Step => ({ kind: 'install-drivers', guest: 'win', bundle, reboot: true, source: src });
  const scs = [scenario('other-vendor', [install('builtin:9.0.0@XS'), install('builtin:9.1.0')]), scenario('ours', [install('builtin:9.0.0'), install('builtin:9.1.0')]), scenario('named', [install('builtin:9.1.0@XS')])];
  const pool = { named: { '9.1.0@XS': 'iso:XenServer-VM-Tools-9.1.0.iso' }, ownByConvention: true, where: 'the "bundles" of pool' };
  const p = plan(scs, { seed: 1, capabilities: new Set(['windows-guest']), hostKind: 'xapi', builtinArtefacts: pool });
  t.match(p.instances[0]!.skip, /^host xapi has no artefact for builtin:9\.0\.0@XS \(the Xen PV tools of vendor XS, version 9\.0\.0\), a model only the simulator has: name the real one in the "bundles" of pool, "9\.0\.0@XS": "iso:<its ISO file on the pool's ISO SR>" or "<absolute path of a bundle directory, ISO or zip with manifest\.json>"$/);
  t.equal(p.instances[1]!.skip, undefined, 'our own releases: winpv-<version>.iso on the pool, by convention');
  t.equal(p.instances[2]!.skip, undefined, 'a named artefact runs');
  const noConvention = plan(scs, { seed: 1, capabilities: new Set(['windows-guest']), builtinArtefacts: { ...pool, ownByConvention: false } });
  t.match(noConvention.instances[1]!.skip, /builtin:9\.0\.0 \(our drivers' release 9\.0\.0\).*; and for builtin:9\.1\.0 /, 'every missing one is named');
  t.ok(plan(scs, { seed: 1, capabilities: new Set(['windows-guest']) }).instances.every((i) => !i.skip), 'the simulator (no artefacts given) has every builtin');
});
