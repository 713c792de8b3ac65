// Leases on a XenAPI pool (the XAPI test server's pool.other_config with MAP_DUPLICATE_KEY):
// one slot, two runs: one waits then runs; a killed holder's lease expires and is taken; a pool that
// drops gives a clean host error; a normal release leaves nothing behind.
import t from 'tap';
import { XapiSession } from '../../../src/hosts/xapi/session';
import { XapiLeaseStore } from '../../../src/hosts/xapi/lease';
import { acquireLease, forceRelease, listLeases } from '../../../src/hosts/lease';
import { Secret } from '../../../src/model/secret';
import { isWinpvError } from '../../../src/model/errors';
import { startXapiServer } from '../../support/xapi-server';
import { rejects } from '../../support/xapi-pool';

const PW = 'planted-lease-pw-5e21';
const open = (url: string) => XapiSession.open({ url, user: 'root', password: new Secret(PW), insecure: true });
const leaseKeys = (o: Record<string, string>) => Object.keys(o).filter((k) => k.startsWith('winpv-lease'));

t.test('capacity 1, two runs: the second waits with a message, then runs when the first releases', async (t) => {
  const srv = await startXapiServer({ user: 'root', password: PW, tls: true });
  t.teardown(() => srv.close());
  const [s1, s2] = [await open(srv.url), await open(srv.url)];
  t.teardown(() => Promise.all([s1.close(), s2.close()]));
  const [a, b] = [await XapiLeaseStore.of(s1), await XapiLeaseStore.of(s2)];
  // No step here depends on the machine's speed: the holders' ttls and the wait's deadline are far
  // beyond any load, and the order is proven by events (the message, the release), not by timing.
  const first = await acquireLease(a, { capacity: 1, holder: 'ci@job1', runId: 'run-1', timeoutMs: 120_000, ttlMs: 600_000 });
  t.equal(first.record.slot, 0);
  const messages: string[] = [];
  let said!: () => void;
  const saidOnce = new Promise<void>((r) => (said = r));
  let released = false;
  const waiting = acquireLease(b, { capacity: 1, holder: 'ci@job2', runId: 'run-2', timeoutMs: 120_000, ttlMs: 600_000, onWait: (m) => { messages.push(m); said(); } });
  const gotEarly = waiting.then(() => !released);
  await Promise.race([saidOnce, waiting]); // the wait has its own deadline (timeoutMs)
  t.match(messages[0], /waiting for capacity on pool 'test pool'.*held by ci@job1 run run-1/);
  t.same((await listLeases(a)).map((l) => l.runId), ['run-1'], 'never two holders of one slot');
  released = true;
  await first.release();
  const second = await waiting;
  t.notOk(await gotEarly, 'the second run got the slot only after the first released it');
  t.equal(messages.length, 1, 'the waiting run said so once, however long it waited');
  t.equal(second.record.runId, 'run-2');
  // A third run that cannot get capacity gives up after --lease-timeout with a host error (exit 3).
  const e = await rejects(acquireLease(a, { capacity: 1, holder: 'ci@job3', runId: 'run-3', timeoutMs: 300, ttlMs: 600_000 }));
  t.equal(e.code, 'LEASE_TIMEOUT');
  t.equal(e.kind, 'host');
  t.match(e.message, /no free capacity.*held by ci@job2 run run-2/);
  await second.release();
  t.same(leaseKeys(srv.pool.get(srv.pool.poolRef).other_config as Record<string, string>), [], 'a normal release leaves no lease and no mutex');
});

t.test('a holder killed mid-run stops heartbeating: its lease expires and another run takes it over', async (t) => {
  const srv = await startXapiServer({ user: 'root', password: PW, tls: true });
  t.teardown(() => srv.close());
  const s = await open(srv.url);
  t.teardown(() => s.close());
  const store = await XapiLeaseStore.of(s);
  const alive = await acquireLease(store, { capacity: 1, holder: 'alive', runId: 'run-a', timeoutMs: 60_000, ttlMs: 3000, heartbeatMs: 150 });
  const waitedOut = await rejects(acquireLease(store, { capacity: 1, holder: 'x', runId: 'run-x', timeoutMs: 2000, ttlMs: 1000 }));
  t.equal(waitedOut.code, 'LEASE_TIMEOUT', 'a heartbeating holder keeps its lease past its ttl');
  alive.abandon(); // what a killed process leaves: the key, no more heartbeats
  const taken = await acquireLease(store, { capacity: 1, holder: 'taker', runId: 'run-b', timeoutMs: 60_000, ttlMs: 600_000 });
  t.equal(taken.record.slot, 0);
  t.same((await listLeases(store)).map((l) => l.runId), ['run-b']);
  await alive.heartbeat(true); // it comes back: its heartbeat finds the lease gone
  t.equal(alive.lost?.code, 'LEASE_LOST');
  t.match(alive.lost?.message, /taken by taker \(run run-b\)/);
  await alive.release();
  t.same((await listLeases(store)).map((l) => l.runId), ['run-b'], "a stale holder's release does not free the new holder's lease");
  t.same((await forceRelease(store, 0, 'operator'))?.runId, 'run-b', 'winpv lease release frees a slot whoever holds it');
  t.same(await listLeases(store), []);
  taken.abandon();
});

t.test('the pool drops while a lease is held: a clean host error, not a crash', async (t) => {
  const srv = await startXapiServer({ user: 'root', password: PW, tls: true });
  const s = await open(srv.url);
  t.teardown(() => s.close());
  const store = await XapiLeaseStore.of(s);
  const lease = await acquireLease(store, { capacity: 2, holder: 'h', runId: 'run-d', timeoutMs: 2000, ttlMs: 2000 });
  await srv.close();
  await lease.heartbeat();
  t.ok(isWinpvError(lease.lost));
  t.equal(lease.lost?.kind, 'host');
  t.match(lease.lost?.code, /^XAPI_/);
  const e = await rejects(lease.release());
  t.equal(e.kind, 'host', 'release against a dropped pool is a host error (exit 3); the lease expires on the pool by itself');
  const e2 = await rejects(acquireLease(store, { capacity: 2, holder: 'h2', runId: 'run-e', timeoutMs: 500 }));
  t.equal(e2.kind, 'host');
});
