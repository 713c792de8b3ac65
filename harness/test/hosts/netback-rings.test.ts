// The ring sampler: one long-lived dom0 bash loop per vif, its script run by bash against a
// fake netback debugfs (support/netback-debugfs.ts), over a link that counts execs and streams.
import t, { type Test } from 'tap';
import type { ExecResult, LineStream } from '../../src/remote/ssh';
import type { Dom0Link } from '../../src/hosts/xl/dom0';
import { Dom0 } from '../../src/hosts/xl/dom0';
import { XlRings } from '../../src/hosts/xl/rings';
import { NetbackRingSampler, RING_LOOP_SCRIPT } from '../../src/hosts/netback-rings';
import { parseNetbackIoRing } from '../../src/hosts/xl/parse';
import { unquote } from './xl/fake-dom0';
import { FakeNetbackDebugfs } from '../support/netback-debugfs';
import type { DeviceRef } from '../../src/model/scenario';

/** Bounded wait for a condition (never a timed assertion: the bound only keeps a broken test from hanging). */
async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

/** p, or null when it has not settled within ms (a bound, not an assertion on time). */
async function within<T>(p: Promise<T>, ms = 10_000): Promise<T | null> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface StreamRec {
  line: string;
  ended: boolean;
  result?: ExecResult;
  done: Promise<ExecResult>;
}

/** dom0 over SSH as the sampler sees it: a command line runs in /bin/sh against the fake debugfs;
 *  stop() closes the channel, which (as sshd does) closes the shell's stdout, so the loop ends on
 *  its next write. `cutAt` stalls a stream's output after the line it matches and holds the
 *  channel open until `release` (a channel cut mid-snapshot). `noStream` answers a stream as a dom0
 *  whose shell cannot run the loop does (exit 127 at once). */
class ShellLink implements Dom0Link {
  execs: string[] = [];
  streams: StreamRec[] = [];
  cutAt?: (line: string, seen: number) => boolean;
  noStream = false;
  private releases: (() => void)[] = [];

  constructor(readonly fs: FakeNetbackDebugfs) {}

  exec(argv: readonly string[]): Promise<ExecResult> {
    this.execs.push(argv.join(' '));
    const p = this.fs.spawn(argv);
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  stream(line: string, onLine: (line: string) => void): LineStream {
    let rec!: StreamRec;
    if (this.noStream) {
      const done = new Promise<ExecResult>((r) => setImmediate(() => r({ code: 127, stdout: '', stderr: 'sh: 1: sh: not found\n' })));
      rec = { line, ended: false, done };
      this.streams.push(rec);
      void done.then((r) => ((rec.ended = true), (rec.result = r)));
      return { stop: () => undefined, write: () => undefined, done };
    }
    const p = this.fs.spawn(unquote(line));
    let partial = '';
    let seen = 0;
    let cut = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    p.stdout!.on('data', (b: Buffer) => {
      if (cut) return;
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        onLine(l);
        if (this.cutAt?.(l, ++seen)) {
          cut = true;
          this.releases.push(release);
          p.kill('SIGKILL');
          return;
        }
      }
    });
    // a cut channel stays open (no exit status) until released
    const exited = new Promise<number | null>((r) => p.on('close', (code) => r(code)));
    const done = exited.then(async (code) => {
      if (cut) await held;
      return { code: cut ? null : code, stdout: '', stderr: '' };
    });
    rec = { line, ended: false, done };
    void done.then((r) => ((rec.ended = true), (rec.result = r)));
    this.streams.push(rec);
    return { stop: () => (p.stdout!.destroy(), release()), write: () => undefined, done };
  }

  /** Streams cut and held open now. */
  pendingCuts(): number {
    return this.releases.length;
  }

  release(): void {
    for (const r of this.releases.splice(0)) r();
  }

  async putFile(): Promise<void> {}
  onClose(): void {}
  async close(): Promise<void> {}
}

function setup(t: Test) {
  const fs = new FakeNetbackDebugfs();
  const link = new ShellLink(fs);
  const sampler = new NetbackRingSampler(async () => link);
  sampler.intervalMs = 20;
  sampler.staleMs = 60_000; // these tests do not stall the loop; staleness has its own test
  t.teardown(async () => {
    sampler.close();
    link.release();
    await within(Promise.all(link.streams.map((s) => s.done)));
    fs.close();
  });
  return { fs, link, sampler };
}

const rxProd = (rings: Map<number, string>, q: number) => parseNetbackIoRing(rings.get(q)!)!.rx!.rsp_prod;

t.test('the loop script is one snapshot after another, framed, from bash builtins: nothing forks', async (t) => {
  t.match(RING_LOOP_SCRIPT, /mapfile -t l < "\$f" && mapfile -t m < "\$f"/, 'each file read whole by mapfile, twice in a row, not a cat per file or a read per byte');
  t.match(RING_LOOP_SCRIPT, /read -r -t "\$2" -u 3/, 'the wait is read -t on a pipe, not a sleep per interval');
  t.notMatch(RING_LOOP_SCRIPT, /\b(cat|sleep|head)\b/);
});

t.test('many samples over a time window come from ONE stream, and follow the rings', async (t) => {
  const { fs, link, sampler } = setup(t);
  fs.set(3, 0, [{ tx: 100, rx: 1000 }, { tx: 200, rx: 2000 }]);
  const first = await sampler.ioRings(3, 0, 'g');
  t.same([...first.keys()], [0, 1], 'both queues');
  t.equal(rxProd(first, 1), 2000);
  t.same(parseNetbackIoRing(first.get(0)!)!.tx, { nr_ents: 256, req_prod: 100, req_cons: 100, req_event: 101, rsp_prod: 100, rsp_event: 101, reread: { req_prod: 100, rsp_prod: 100, req_cons: 100 } }, 'the one parser reads the streamed text, each file read twice');
  let samples = 1;
  for (let step = 1; step <= 3; step++) {
    fs.set(3, 0, [{ tx: 100 + step, rx: 1000 + step }, { tx: 200 + step, rx: 2000 + step }]);
    t.ok(
      await until(async () => {
        samples++;
        return rxProd(await sampler.ioRings(3, 0, 'g'), 0) === 1000 + step;
      }),
      `step ${step} seen`,
    );
  }
  t.ok(samples >= 4);
  t.equal(link.streams.length, 1, `${samples} samples, one stream`);
  t.same(link.execs, [], 'no exec per sample');
  t.same(sampler.streaming(), ['3.0']);
});

t.test('a vif whose directory disappears ends its stream by itself', async (t) => {
  const { fs, link, sampler } = setup(t);
  fs.set(4, 1, [{ tx: 1, rx: 1 }]);
  t.equal((await sampler.ioRings(4, 1)).size, 1);
  fs.remove(4, 1);
  const r = await within(link.streams[0]!.done);
  t.equal(r?.code, 0, 'the loop exited on its own');
  t.same(sampler.streaming(), [], 'nothing streams for the gone vif');
  t.same(link.execs, [], 'and nothing was asked by exec');
  const again = await sampler.ioRings(4, 1);
  t.equal(again.size, 0, 'a sample of the gone vif has no rings');
  t.same(link.execs, [], 'the loop\'s G (gone) is the answer, not a failure to fall back from');
});

t.test('a snapshot cut mid-way is never returned', async (t) => {
  const { fs, link, sampler } = setup(t);
  fs.set(5, 0, [{ tx: 10, rx: 500 }, { tx: 20, rx: 600 }]);
  t.equal(rxProd(await sampler.ioRings(5, 0), 0), 500);
  fs.set(5, 0, [{ tx: 11, rx: 501 }, { tx: 21, rx: 601 }]);
  // the channel stalls right after the new q0 text, before q1 and the end line
  link.cutAt = (l) => /^rsp prod 501 /.test(l);
  t.ok(await until(() => link.pendingCuts() > 0), 'the stream was cut mid-snapshot');
  const during = await sampler.ioRings(5, 0);
  t.equal(rxProd(during, 0), 500, 'the last complete snapshot, not the half-read new one');
  t.equal(rxProd(during, 1), 600);
  link.cutAt = undefined;
  link.release();
  await link.streams[0]!.done;
  const after = await sampler.ioRings(5, 0);
  t.equal(rxProd(after, 0), 501, 'a new stream reads the new state whole');
  t.equal(rxProd(after, 1), 601);
  t.equal(link.streams.length, 2);
});

t.test('a dom0 where the loop cannot start: the one-shot exec answers, and keeps answering', async (t) => {
  const { fs, link, sampler } = setup(t);
  link.noStream = true;
  fs.set(6, 0, [{ tx: 7, rx: 70 }]);
  t.equal(rxProd(await sampler.ioRings(6, 0), 0), 70, 'the sample is not lost');
  t.equal(link.execs.length, 1);
  sampler.freshMs = 0;
  fs.set(6, 0, [{ tx: 8, rx: 80 }]);
  t.equal(rxProd(await sampler.ioRings(6, 0), 0), 80);
  t.equal(link.streams.length, 1, 'the loop is not tried again on that link');
  t.equal(link.execs.length, 2);
});

t.test('close() stops every stream; the loops end when their stdout closes', async (t) => {
  const { fs, link, sampler } = setup(t);
  fs.set(7, 0, [{ tx: 1, rx: 1 }]);
  fs.set(7, 1, [{ tx: 2, rx: 2 }]);
  await Promise.all([sampler.ioRings(7, 0), sampler.ioRings(7, 1)]);
  t.equal(link.streams.length, 2);
  sampler.close();
  const ends = await within(Promise.all(link.streams.map((s) => s.done)));
  t.ok(ends, 'both shells exited');
  t.same(sampler.streaming(), []);
  await sampler.ioRings(7, 0);
  t.equal(link.streams.length, 2, 'no stream starts after close');
});

t.test('the guest under a new domid (reboot, migration): a new stream, the old one stopped', async (t) => {
  const { fs, link, sampler } = setup(t);
  fs.set(8, 0, [{ tx: 1, rx: 10 }]);
  fs.set(9, 0, [{ tx: 2, rx: 20 }]); // the new domain is up before the old directory is gone
  t.equal(rxProd(await sampler.ioRings(8, 0, 'win1'), 0), 10);
  t.equal(rxProd(await sampler.ioRings(9, 0, 'win1'), 0), 20);
  t.equal(link.streams.length, 2);
  t.ok(await until(() => link.streams[0]!.ended), 'the old domain\'s stream ended');
  t.same(sampler.streaming(), ['9.0']);
});

t.test('a stream nobody samples stops after the idle time', async (t) => {
  const { fs, link, sampler } = setup(t);
  sampler.idleMs = 30;
  fs.set(10, 0, [{ tx: 1, rx: 1 }]);
  await sampler.ioRings(10, 0);
  t.ok(await until(() => link.streams[0]!.ended), 'ended without close()');
  t.same(sampler.streaming(), []);
});

t.test('a stalled loop: a stale snapshot is not the state now', async (t) => {
  const { fs, link, sampler } = setup(t);
  fs.set(11, 0, [{ tx: 1, rx: 1 }]);
  await sampler.ioRings(11, 0);
  link.cutAt = (l) => l.startsWith('B ');
  t.ok(await until(() => link.pendingCuts() > 0));
  sampler.staleMs = 0;
  sampler.waitMs = 50;
  fs.set(11, 0, [{ tx: 2, rx: 2 }]);
  t.equal(rxProd(await sampler.ioRings(11, 0), 0), 2, 'the one-shot exec read the state now');
  t.equal(link.execs.length, 1);
  t.ok(await until(() => link.streams[0]!.ended), 'the stalled stream was stopped');
  link.cutAt = undefined;
  sampler.staleMs = 60_000;
  sampler.waitMs = 10_000;
  fs.set(11, 0, [{ tx: 3, rx: 3 }]);
  t.equal(rxProd(await sampler.ioRings(11, 0), 0), 3, 'the next sample streams again');
  t.equal(link.streams.length, 2);
  t.equal(link.execs.length, 1);
});

t.test('a loop that prints nothing: after the bounded wait the exec answers, and the loop is not tried again', async (t) => {
  const { fs, link, sampler } = setup(t);
  link.cutAt = (_l, seen) => seen === 1; // the channel opens, then nothing more arrives
  sampler.waitMs = 50;
  fs.set(14, 0, [{ tx: 5, rx: 50 }]);
  t.equal(rxProd(await sampler.ioRings(14, 0), 0), 50);
  t.ok(await until(() => link.streams[0]!.ended), 'the silent stream was stopped');
  sampler.freshMs = 0;
  t.equal(rxProd(await sampler.ioRings(14, 0), 0), 50);
  t.equal(link.streams.length, 1);
  t.equal(link.execs.length, 2);
});

t.test('streams per link are capped; past the cap the one-shot exec answers', async (t) => {
  const { fs, link, sampler } = setup(t);
  for (const d of [0, 1, 2]) fs.set(12, d, [{ tx: d, rx: d }]);
  await Promise.all([0, 1, 2].map((d) => sampler.ioRings(12, d)));
  t.equal(link.streams.length, sampler.maxStreams);
  t.equal(link.execs.length, 1);
});

t.test('xl: the ring view reads the stream (rings, samples, netback counters)', async (t) => {
  const fs = new FakeNetbackDebugfs();
  const link = new ShellLink(fs);
  const rings = new XlRings(new Dom0(link, 'fake'), async () => ['vbd/51712', 'vif/0'] as DeviceRef[]);
  rings.sampler.intervalMs = 20;
  t.teardown(async () => {
    rings.close();
    await within(Promise.all(link.streams.map((s) => s.done)));
    fs.close();
  });
  const g = { name: 'win1', domid: 13, handle: 'winpv-win1' };
  fs.set(13, 0, [{ tx: 40, rx: 400 }, { tx: 50, rx: 500 }]);
  const ids = await rings.rings(g);
  t.same(ids.map((r) => `${r.dev} q${r.queue} ${r.ring}`), ['vif/0 q0 tx', 'vif/0 q0 rx', 'vif/0 q1 tx', 'vif/0 q1 rx']);
  t.match(await rings.sample(g, ids[3]!), { req_prod: 756, rsp_prod: 500 });
  t.match(await rings.backendStats(g, 'vif/0'), { q0_tx_req_cons: 40, q1_rx_rsp_prod: 500 });
  t.equal(link.streams.length, 1, 'one stream for all of it');
  t.same(link.execs, []);
  rings.close();
  t.ok(await until(() => link.streams[0]!.ended), 'closing the view ends the stream');
});
