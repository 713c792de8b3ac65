// The MAC a guest's VIF gets on a real host (hosts/guest-mac.ts): derived from the run, owner and
// device, locally administered and unicast; a MAC the scenario fixed is replaced, and the replacement said.
import t from 'tap';
import { guestMac, withRunMac } from '../../src/hosts/guest-mac';

t.test('guestMac: stable, distinct per run, owner and device, locally administered unicast', async (t) => {
  t.equal(guestMac('r', 'i/win1', 0), guestMac('r', 'i/win1', 0));
  const macs = new Set([guestMac('r', 'i/win1', 0), guestMac('r', 'i/win1', 1), guestMac('r', 'i/win2', 0), guestMac('s', 'i/win1', 0)]);
  t.equal(macs.size, 4);
  for (const m of macs) {
    t.match(m, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const first = parseInt(m.slice(0, 2), 16);
    t.equal(first & 0x03, 0x02, `${m}: locally administered, unicast`);
  }
});

t.test('withRunMac: a scenario\'s fixed MAC is replaced and the replacement said', async (t) => {
  const said: string[] = [];
  const vif = { devid: 1, mac: '00:16:3e:00:00:01', backend: { x: '1' } };
  const out = withRunMac('run1', 'inst/win1', vif, (m) => said.push(m));
  t.equal(out.mac, guestMac('run1', 'inst/win1', 1));
  t.same(out.backend, { x: '1' }, 'the rest of the VIF kept');
  t.equal(vif.mac, '00:16:3e:00:00:01', 'the scenario\'s VIF untouched');
  t.equal(said.length, 1);
  t.match(said[0], /guest inst\/win1 vif 1: MAC .* instead of the scenario's 00:16:3e:00:00:01, which would collide/);
});

t.test('withRunMac: no MAC, or the run\'s own in another case, is not a replacement', async (t) => {
  const said: string[] = [];
  t.equal(withRunMac('r', 'o', { devid: 0 }, (m) => said.push(m)).mac, guestMac('r', 'o', 0));
  withRunMac('r', 'o', { devid: 0, mac: guestMac('r', 'o', 0).toUpperCase() }, (m) => said.push(m));
  t.same(said, [], 'nothing said');
});
