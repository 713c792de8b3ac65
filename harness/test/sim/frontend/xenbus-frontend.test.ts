// The xenbus side of the simulated Windows frontends against a backend that takes as long as the lab's
// Linux backends to react (sim/timings.ts LAB_FIGURES_MS.backendReaction, 234 ms): like win-xenvif and
// win-xenvbd frontend.c (FrontendClose, FrontendPrepare), each state of a close or a reconnect is
// written only once the backend followed the previous one, so a reboot never leaves a backend behind.
// Before this model the frontends wrote Closing, Closed and Initialising back to back: the VIF was
// Closed while netback was still Connected and the disk's blkback, left Closing, never came back.
import t, { type Test } from 'tap';
import { SimHost } from '../../../src/hosts/sim';
import type { GuestRef } from '../../../src/model/host';
import { XenbusState } from '../../../src/model/xenbus';
import { LAB_FIGURES_MS } from '../../../src/sim/timings';
import { shape, specs, untilConnected } from '../../hosts/sim-fixture';

const DEVS = ['vbd/51712', 'vif/0'] as const;

interface StateWrite {
  dev: string;
  side: 'frontend' | 'backend';
  state: number;
}

async function slowHost(t: Test): Promise<{ host: SimHost; g: GuestRef }> {
  const host = new SimHost({ specs });
  await host.open({ emit: () => undefined }, { seed: 9 });
  t.teardown(() => host.close());
  const g = await host.createGuest(shape({ timings: { backendReactionMs: LAB_FIGURES_MS.backendReaction } }), 'slow');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  return { host, g };
}

/** Every state either end of the guest's devices writes from now on, in order. */
async function recordStates(host: SimHost, g: GuestRef): Promise<StateWrite[]> {
  const seen: StateWrite[] = [];
  for (const dev of DEVS) {
    const fe = `/local/domain/${g.domid}/device/${dev}`;
    const be = (await host.xenstore.read(`${fe}/backend`))!;
    for (const [side, path] of [['frontend', fe], ['backend', be]] as const) {
      await host.xenstore.watch(`${path}/state`, (p, v) => {
        if (p === `${path}/state` && v !== undefined && v !== null) seen.push({ dev, side, state: Number(v) });
      });
    }
  }
  return seen;
}

/** The frontend writes a Linux backend cannot follow: Closed while the backend has not reached
 *  Closing, Initialising after Closed while the backend has not reached Closed. */
function leftBehind(seen: readonly StateWrite[]): string[] {
  const out: string[] = [];
  for (const dev of DEVS) {
    let backend: number | undefined;
    let frontend: number | undefined;
    for (const w of seen.filter((x) => x.dev === dev)) {
      if (w.side === 'backend') {
        backend = w.state;
        continue;
      }
      if (w.state === frontend) continue; // the watch's first event repeats the current value
      if (w.state === XenbusState.Closed && backend !== XenbusState.Closing && backend !== XenbusState.Closed) out.push(`${dev}: Closed while the backend was ${backend}`);
      if (w.state === XenbusState.Initialising && frontend === XenbusState.Closed && backend !== XenbusState.Closed) out.push(`${dev}: Initialising after Closed while the backend was ${backend}`);
      frontend = w.state;
    }
  }
  return out;
}

t.test('a reboot against backends as slow as the lab\'s: each close and reconnect step waits for the backend', async (t) => {
  const { host, g } = await slowHost(t);
  t.ok(await untilConnected(host, g), 'both devices connected after the install\'s reboot');
  const seen = await recordStates(host, g);
  await host.rebootGuest(g);
  t.ok(await untilConnected(host, g), 'both devices connected again after the reboot');
  t.same(leftBehind(seen), [], 'no frontend state written before its backend followed the previous one');
  for (const dev of DEVS) {
    const fe = seen.filter((w) => w.dev === dev && w.side === 'frontend').map((w) => w.state);
    t.ok(fe.includes(XenbusState.Closing) && fe.includes(XenbusState.Closed), `${dev} closed through Closing and Closed (${fe.join(' ')})`);
  }
});

t.test('the close-no-wait fault writes them back to back, and the backend is left behind', async (t) => {
  const { host, g } = await slowHost(t);
  t.ok(await untilConnected(host, g));
  const seen = await recordStates(host, g);
  await host.faults!.inject({ name: 'close-no-wait', guest: 'win1', params: {} }, g);
  await host.rebootGuest(g);
  await host.clock.sleep(3000);
  t.not(leftBehind(seen), [], `the frontends outran the backend: ${leftBehind(seen).join('; ')}`);
});
