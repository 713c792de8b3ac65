// A lease holder in a process of its own (forked by the xl lease test): takes slot 0 of a dom0's
// leases over SSH, says so on stdout, then heartbeats until it is killed.
import { SshConnection } from '../../src/remote/ssh';
import { Secret } from '../../src/model/secret';
import { XlLeaseStore } from '../../src/hosts/xl/lease';
import { acquireLease } from '../../src/hosts/lease';

async function main() {
  const [port, knownHostsFile, ttl] = process.argv.slice(2);
  const c = await SshConnection.connect({ host: '127.0.0.1', port: Number(port), user: 'root', password: new Secret(process.env.LEASE_DOM0_PW ?? ''), knownHostsFile });
  const store = new XlLeaseStore(c, 'dom0 of the test host');
  const l = await acquireLease(store, { capacity: 1, holder: `holder pid ${process.pid}`, runId: 'run-killed', timeoutMs: 10_000, ttlMs: Number(ttl), heartbeatMs: 200 });
  process.stdout.write(`held slot ${l.record.slot}\n`);
  setInterval(() => undefined, 1000); // heartbeats until killed
}
void main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
