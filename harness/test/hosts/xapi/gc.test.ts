import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo as io } from '../../support/cli-io';
import { poolWithGuest, startPool, shape, leftovers, makeBundle, XAPI_PW } from '../../support/xapi-pool';
import { main } from '../../../src/cli/main';
import { parseAge } from '../../../src/hosts/xapi/gc';
import { XapiSession } from '../../../src/hosts/xapi/session';
import { Secret } from '../../../src/model/secret';


t.test('parseAge', async (t) => {
  t.equal(parseAge('0'), 0);
  t.equal(parseAge('30m'), 30 * 60e3);
  t.equal(parseAge('6h'), 6 * 3600e3);
  t.equal(parseAge('2d'), 2 * 86400e3);
  t.equal(parseAge('soon'), undefined);
});

t.test('winpv xapi gc cleans a deliberately orphaned VM and leaves the rest of the pool alone', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());

  // A run that "crashes": it builds and starts a guest, then its process dies (the session just ends).
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  const g = await host.createGuest(shape('win1'), 'orphan');
  await host.startGuest(g);
  await host.snapshot!.snapshot(g, 'before-install');
  const s = (host as unknown as { session: XapiSession }).session;
  await s.close();
  // A loose tagged VDI, as a crash between VDI.create and VBD.create leaves.
  const s2 = await XapiSession.open({ url: pool.srv.url, user: 'root', password: new Secret(XAPI_PW), insecure: true });
  await s2.call('VDI.create', { name_label: 'loose', SR: pool.srv.pool.defaultSr, virtual_size: 2 ** 20, type: 'user', sharable: false, read_only: false, other_config: { 'winpv-run': 'older-run', 'winpv-created': '2026-01-01T00:00:00.000Z' } });
  // Something that is not winpv's.
  const theirs = await s2.callAsync<string>('VM.clone', pool.srv.pool.templateRef, 'production database');
  await s2.close();
  t.ok(leftovers(pool.srv).length >= 3, `left behind: ${leftovers(pool.srv).join(', ')}`);

  const dir = mkdtempSync(join(tmpdir(), 'winpv-gc-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ hosts: { pool: { url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW', insecure: true } } }));
  const env = { TEST_POOL_PW: XAPI_PW, HOME: dir };

  const young = io();
  t.equal(await main(['xapi', 'gc', '--host', 'pool', '--config', config], { ...young, env }), 0);
  t.match(young.text().out, /kept +VM winpv:.*younger than the threshold/, 'the default threshold (1h) keeps a run that may still be going');
  t.match(young.text().out, /removed VDI loose/, 'an old loose VDI goes');

  const dry = io();
  t.equal(await main(['xapi', 'gc', '--host', 'pool', '--config', config, '--older-than', '0', '--dry-run'], { ...dry, env }), 0);
  t.match(dry.text().out, /dry run/);

  const all = io();
  t.equal(await main(['xapi', 'gc', '--host', 'pool', '--config', config, '--older-than', '0'], { ...all, env }), 0);
  t.match(all.text().out, /removed VM winpv:/);
  t.same(leftovers(pool.srv), ['VM production database'], 'only what winpv did not create is left');
  t.ok(pool.srv.pool.objects.has(theirs));
  for (const x of [young, dry, all]) t.notMatch(x.text().out + x.text().err, XAPI_PW, 'the password is never printed');

  const bad = io();
  t.equal(await main(['xapi', 'gc', '--host', 'pool', '--config', config, '--older-than', 'soon'], { ...bad, env }), 2);
  const nopw = io();
  t.equal(await main(['xapi', 'gc', '--host', 'pool', '--config', config], { ...nopw, env: { HOME: dir } }), 2, 'no password: a usage error');
  const tls = io();
  writeFileSync(config, JSON.stringify({ hosts: { pool: { url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW' } } }));
  t.equal(await main(['xapi', 'gc', '--host', 'pool', '--config', config], { ...tls, env }), 3, 'TLS verified: the self-signed pool is refused');
  t.match(tls.text().err, /TLS certificate/);
});

t.test('winpv xapi gc cleans what a run killed mid-suspend left: a suspended VM and its suspend image', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'killed-suspended', { pool: { guests: 1 } });
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 5), version: '9.1.0.5', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g);
  await host.suspend!.suspend(g);
  await (host as unknown as { session: XapiSession }).session.close(); // the run dies here
  t.same(leftovers(pool.srv).sort(), ['VDI Suspend image', `VM winpv:${host.runId}:killed-suspended/win1`, `VDI winpv:${host.runId}:killed-suspended/win1:hdb`].sort(), 'a suspended VM, its data disk and its suspend image are left');
  const dir = mkdtempSync(join(tmpdir(), 'winpv-gc-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ hosts: { pool: { url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW', insecure: true } } }));
  const out = io();
  t.equal(await main(['xapi', 'gc', '--host', 'pool', '--config', config, '--older-than', '0'], { ...out, env: { TEST_POOL_PW: XAPI_PW, HOME: dir } }), 0, out.text().err);
  t.same(leftovers(pool.srv), [], 'gc shut the suspended VM down (its suspend image goes with that) and removed it');
});
