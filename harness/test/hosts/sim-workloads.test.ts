// The simulated guests' workloads (hosts/sim/workloads.ts): a planted slowdown applies to the build
// it names, matched as driver versions compare (9.1.7 is builtin:9.1.7 = 9.1.7.0), and to no other;
// a block workload on a device with no PV disk is a guest error.
import t from 'tap';
import { SimState } from '../../src/hosts/sim/host-state';
import { SimWorkloads } from '../../src/hosts/sim/workloads';
import { block, bootedHost, specs } from './sim-fixture';

t.test('ioSlowdown: the build named as a person writes it, and only that build', async (t) => {
  const w = new SimWorkloads(new SimState({ specs, builds: { '9.1.7': { ioSlowdown: 4 } } }));
  t.equal(w.ioSlowdown('9.1.7.0'), 4);
  t.equal(w.ioSlowdown('9.1.7'), 4);
  t.equal(w.ioSlowdown('9.1.8.0'), 1, 'another build runs at full speed');
  t.equal(w.ioSlowdown(''), 1, 'nothing installed');
  t.equal(new SimWorkloads(new SimState({ specs })).ioSlowdown('9.1.7.0'), 1, 'no builds configured');
});

t.test('a block workload on a VIF is refused as a guest error naming the device', async (t) => {
  const { host, g } = await bootedHost();
  t.teardown(() => host.close());
  await t.rejects(host.agent(g).blockWorkload(block({ device: 'vif/0' })), { kind: 'guest', code: 'SIM_NO_PV_DISK', message: /vif\/0 has no PV disk/ });
});
