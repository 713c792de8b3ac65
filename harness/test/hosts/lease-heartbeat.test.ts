// A lease on a slow store (a loaded lab's dom0 answering each command in tens of seconds): heartbeats
// must not overlap, or the second contends for the mutex with the first against a deadline the first
// is about to move, and the run loses a lease it was renewing ("the lease mutex ... stayed taken").
import t from 'tap';
import { acquireLease, type LeaseStore } from '../../src/hosts/lease';

/** An in-memory store whose every command takes `ms`. */
function slowStore(ms: number): LeaseStore & { calls: number } {
  const keys = new Map<string, string>();
  const wait = () => new Promise((r) => setTimeout(r, ms));
  const s = {
    describe: 'a slow store',
    calls: 0,
    async read() {
      s.calls++;
      await wait();
      return Object.fromEntries(keys);
    },
    async add(k: string, v: string) {
      s.calls++;
      await wait();
      if (keys.has(k)) return false;
      keys.set(k, v);
      return true;
    },
    async remove(k: string) {
      s.calls++;
      await wait();
      keys.delete(k);
    },
  };
  return s;
}

t.test('heartbeats slower than their interval do not overlap and the lease is kept', async (t) => {
  const store = slowStore(30);
  // each heartbeat takes about 5 commands x 30 ms = 150 ms, three times its 50 ms interval; the ttl
  // (400 ms) still covers one heartbeat
  const lease = await acquireLease(store, { capacity: 1, holder: 'me', runId: 'r1', timeoutMs: 5000, ttlMs: 400, heartbeatMs: 50 });
  await new Promise((r) => setTimeout(r, 1500));
  const lost = lease.lost;
  await lease.release();
  t.equal(lost, undefined, `the lease was kept: ${lost?.message ?? ''}`);
});
