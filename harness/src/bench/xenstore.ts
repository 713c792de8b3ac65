// xenstore benchmark: the same client workload against `winpv xenstored` (a child process on a unix
// socket, as a real daemon would run) and the C xenstored of Xen 4.17 (built without a hypervisor by
// ../shared/peers/xenstored-nohv/build.sh), in one run. The client is winpv's XenstoreClient, one
// request in flight per client, so both daemons see identical traffic.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { XenstoreClient } from '../xenstore/client';
import { ratioOf, type BenchFigure } from './figure';

const N = 20_000;
const WATCH_SAMPLES = 2_000;

interface Daemon {
  name: string;
  socket: string;
  stop(): Promise<void>;
}

const repoRoot = resolve(__dirname, '..', '..', '..');

function stopChild(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

async function startWinpv(): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-xs-'));
  const socket = join(dir, 'socket');
  const child = spawn(process.execPath, [join(repoRoot, 'harness', 'bin', 'winpv'), 'xenstored', '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((ok, fail) => {
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening')) ok();
    });
    child.once('exit', (c) => fail(new Error(`winpv xenstored exited (${c}): ${err}`)));
  });
  return { name: 'winpv xenstored', socket, stop: stopChild(child, dir) };
}

/** The C daemon's path, building it if the build script is there; or why it is not available. */
async function cDaemonBinary(): Promise<{ bin?: string; why?: string }> {
  const bin = process.env.WINPV_XENSTORED_NOHV ?? join(homedir(), '.cache', 'winpv', 'xenstored-nohv', 'xenstored');
  if (existsSync(bin)) return { bin };
  const script = resolve(repoRoot, '..', 'shared', 'peers', 'xenstored-nohv', 'build.sh');
  if (!existsSync(script)) return { why: `no C xenstored at ${bin} and no build script (../shared/peers/xenstored-nohv/build.sh)` };
  process.stderr.write('bench: building the C xenstored (../shared/peers/xenstored-nohv/build.sh) ...\n');
  const code = await new Promise<number | null>((r) => spawn('sh', [script], { stdio: ['ignore', 'ignore', 'inherit'] }).on('close', r));
  return existsSync(bin) ? { bin } : { why: `building the C xenstored failed (exit ${code})` };
}

async function startC(bin: string): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-cxs-'));
  const child = spawn(bin, ['-N', '-D', '--internal-db'], { env: { ...process.env, XENSTORED_RUNDIR: dir, XENSTORED_ROOTDIR: dir }, stdio: 'ignore' });
  const socket = join(dir, 'socket');
  for (let i = 0; i < 500 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(socket)) throw new Error('the C xenstored did not start');
  return { name: 'C xenstored 4.17', socket, stop: stopChild(child, dir) };
}

/** Connects, retrying while the daemon's listen backlog is full (the C daemon's is 1). */
async function connect(socket: string): Promise<XenstoreClient> {
  for (let i = 0; ; i++) {
    try {
      return await XenstoreClient.connectSocket(socket);
    } catch (e) {
      if (i > 300) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const now = () => Number(process.hrtime.bigint()) / 1e3; // microseconds

async function timeOps(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = now();
  for (let i = 0; i < n; i++) await op(i);
  return n / ((now() - t0) / 1e6);
}

// A client that is not the project's (a raw-socket client in Python, the wire format of
// xen/include/public/io/xs_wire.h), so that both daemons are measured with the same client cost.
// Workloads of issue 20: one connection watches /w while another creates new children /w/k<i> one
// by one (time from sending the WRITE to the event arriving), the same with one key rewritten, and
// reads of distinct keys. Prints one JSON object.
const PY_CLIENT = String.raw`
import json, socket, struct, sys, time
class C:
    def __init__(s, p):
        s.s = socket.socket(socket.AF_UNIX); s.s.connect(p); s.buf = b''; s.rid = 0
    def send(s, t, payload):
        s.rid += 1
        s.s.sendall(struct.pack('<IIII', t, s.rid, 0, len(payload)) + payload)
    def recv(s):
        while True:
            if len(s.buf) >= 16:
                t, r, tx, l = struct.unpack('<IIII', s.buf[:16])
                if len(s.buf) >= 16 + l:
                    m = (t, s.buf[16:16 + l]); s.buf = s.buf[16 + l:]; return m
            d = s.s.recv(65536)
            if not d: raise EOFError('daemon closed the connection')
            s.buf += d
    def req(s, t, payload):
        s.send(t, payload)
        while True:
            m = s.recv()
            if m[0] != 15: return m
def watch_lat(a, b, base, n, same):
    a.req(11, base + b'\0')
    b.req(4, base + b'\0tok\0'); b.recv()
    lat = []
    for i in range(n):
        key = base + (b'/same' if same else b'/k%d' % i)
        t0 = time.perf_counter()
        a.send(11, key + b'\0v')
        while b.recv()[0] != 15: pass
        lat.append((time.perf_counter() - t0) * 1e6)
        a.recv()
    b.req(5, base + b'\0tok\0')
    lat.sort()
    return {'p50': lat[len(lat) // 2], 'p99': lat[int(len(lat) * 0.99)], 'max': lat[-1]}
path, n, nreads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a = C(path); b = C(path)
out = {'create': watch_lat(a, b, b'/pyw', n, False), 'same': watch_lat(a, b, b'/pys', n, True)}
for i in range(nreads): a.req(11, b'/pyr/k%d\0v' % i)
t0 = time.perf_counter()
for i in range(nreads): a.req(2, b'/pyr/k%d\0' % i)
out['reads'] = nreads / (time.perf_counter() - t0)
print(json.dumps(out))
`;

interface PyResults {
  pyCreateP99: number;
  pyCreateMax: number;
  pySameP99: number;
  pySameMax: number;
  pyReads: number;
}

/** Runs the Python client against a daemon; undefined (with the reason on stderr) without python3. */
function pythonWorkload(d: Daemon): PyResults | undefined {
  const r = spawnSync('python3', ['-c', PY_CLIENT, d.socket, String(WATCH_SAMPLES), String(N)], { encoding: 'utf8', timeout: 300_000 });
  if (r.error || r.status !== 0) {
    process.stderr.write(`bench: python3 client against ${d.name} failed: ${r.error?.message ?? r.stderr}\n`);
    return undefined;
  }
  const o = JSON.parse(r.stdout);
  return { pyCreateP99: o.create.p99, pyCreateMax: o.create.max, pySameP99: o.same.p99, pySameMax: o.same.max, pyReads: o.reads };
}

interface Results extends Partial<PyResults> {
  writesOneParent: number;
  writes100: number;
  reads: number;
  watchMedian: number;
  watchP99: number;
  twoClients: number;
}

async function workload(d: Daemon): Promise<Results> {
  // The Python client first, on the freshly started daemon: a domain's handshake meets a daemon in
  // that state (issue 20's tail was a fresh winpv daemon compiling its request path).
  const py = pythonWorkload(d);
  const a = await connect(d.socket);
  const b = await connect(d.socket);
  try {
    await a.write('/bench/warm', 'x');
    const writesOneParent = await timeOps(N, (i) => a.write(`/bench/one/key${i}`, 'value'));
    const writes100 = await timeOps(N, (i) => a.write(`/bench/many/p${Math.floor(i / 100)}/key${i % 100}`, 'value'));
    const reads = await timeOps(N, (i) => a.read(`/bench/many/p${Math.floor(i / 100)}/key${i % 100}`));

    // Watch latency: write on one connection, event on the other.
    let pending: ((t: number) => void) | undefined;
    const stop = await b.watch('/bench/w', () => pending?.(now()));
    await a.write('/bench/w', ''); // its event, and the registration event, arrive before we start
    await new Promise((r) => setTimeout(r, 50));
    const lat: number[] = [];
    for (let i = 0; i < WATCH_SAMPLES + 100; i++) {
      const arrived = new Promise<number>((r) => (pending = r));
      const t0 = now();
      await a.write('/bench/w/x', String(i));
      const t1 = await arrived;
      if (i >= 100) lat.push(t1 - t0);
    }
    pending = undefined;
    await stop();
    lat.sort((x, y) => x - y);

    const t0 = now();
    await Promise.all(
      [a, b].map(async (c, j) => {
        for (let i = 0; i < N / 2; i++) await c.write(`/bench/two/c${j}/p${Math.floor(i / 100)}/key${i % 100}`, 'value');
      }),
    );
    const twoClients = N / ((now() - t0) / 1e6);
    return {
      ...py,
      writesOneParent,
      writes100,
      reads,
      watchMedian: lat[Math.floor(lat.length / 2)],
      watchP99: lat[Math.floor(lat.length * 0.99)],
      twoClients,
    };
  } finally {
    await a.close();
    await b.close();
  }
}

const FIGURES: { key: keyof Results; name: string; unit: string; lowerIsBetter?: boolean }[] = [
  { key: 'writesOneParent', name: `${N} writes under one parent`, unit: 'writes/s' },
  { key: 'writes100', name: `${N} writes, 100 keys per parent`, unit: 'writes/s' },
  { key: 'reads', name: `${N} reads`, unit: 'reads/s' },
  { key: 'watchMedian', name: 'watch latency median', unit: 'us', lowerIsBetter: true },
  { key: 'watchP99', name: 'watch latency p99', unit: 'us', lowerIsBetter: true },
  { key: 'twoClients', name: `two clients at once (${N} writes)`, unit: 'writes/s' },
  { key: 'pyCreateP99', name: `python client: watch latency p99, ${WATCH_SAMPLES} new children`, unit: 'us', lowerIsBetter: true },
  { key: 'pyCreateMax', name: `python client: watch latency max, ${WATCH_SAMPLES} new children`, unit: 'us', lowerIsBetter: true },
  { key: 'pySameP99', name: `python client: watch latency p99, one key rewritten`, unit: 'us', lowerIsBetter: true },
  { key: 'pySameMax', name: `python client: watch latency max, one key rewritten`, unit: 'us', lowerIsBetter: true },
  { key: 'pyReads', name: `python client: ${N} reads of distinct keys`, unit: 'reads/s' },
];

export async function run(): Promise<BenchFigure[]> {
  const { bin, why } = await cDaemonBinary();
  let base: Results | undefined;
  let note = why;
  if (bin) {
    const c = await startC(bin);
    try {
      base = await workload(c);
    } catch (e) {
      note = `the C xenstored failed during the run: ${(e as Error).message}`;
    } finally {
      await c.stop();
    }
  }
  const w = await startWinpv();
  let ours: Results;
  try {
    ours = await workload(w);
  } finally {
    await w.stop();
  }
  return FIGURES.filter((f) => ours[f.key] !== undefined).map((f) => ({
    group: 'xenstore',
    name: f.name,
    value: ours[f.key]!,
    unit: f.unit,
    lowerIsBetter: f.lowerIsBetter,
    ...(base?.[f.key] !== undefined ? { baseline: { name: 'C xenstored', value: base[f.key]! }, ratio: ratioOf(ours[f.key]!, base[f.key]!, f.lowerIsBetter) } : { note: `no baseline: ${note ?? 'python3 missing'}` }),
  }));
}
