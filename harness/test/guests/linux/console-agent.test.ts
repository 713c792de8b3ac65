import t from 'tap';
import { LinuxConsoleAgent, type ConsoleChannel } from '../../../src/guests/linux/console-agent';
import { blockScript, netScript, parseResultLines } from '../../../src/guests/linux/workloads';
import type { BlockWorkloadStep } from '../../../src/model/scenario';

/** A guest double speaking the console protocol of the lab's /init: it decodes each script and
 *  answers through `respond`, framing the output as the real agent does. */
function fakeConsole(respond: (script: string) => { out: string; status: number } | undefined, opts: { ready?: boolean; log?: string } = {}) {
  let log = opts.log ?? 'old boot noise @@winpv-end c1 0\n';
  const boot = log.length;
  if (opts.ready !== false) log += 'Linux booting\r\n@@winpv-guest ready\r\n';
  const sent: string[] = [];
  const ch: ConsoleChannel = {
    send: async (line) => {
      sent.push(line);
      const [id, b64] = line.split(' ');
      const r = respond(Buffer.from(b64!, 'base64').toString());
      if (r) log += `@@winpv-begin ${id}\r\n${r.out}@@winpv-end ${id} ${r.status}\r\n`;
    },
    readFrom: async (off) => ({ text: log.slice(off), next: log.length }),
    bootOffset: () => boot,
    peer: { address: '10.0.2.15', run: async () => ({ code: 0, stdout: '@@r bytes=1000000\n' }) },
    guestAddress: '10.0.2.101',
    sleep: async () => undefined,
  };
  return { ch, sent };
}

t.test('a script runs in the guest and its framed output comes back (old output from a previous boot ignored)', async (t) => {
  const { ch, sent } = fakeConsole((s) => ({ out: `ran: ${s}\r\n`, status: 3 }));
  const a = new LinuxConsoleAgent('g1', ch);
  const r = await a.run('echo hi');
  t.same(r, { status: 3, output: 'ran: echo hi\n' });
  t.match(sent[0]!, /^c1 [A-Za-z0-9+/=]+$/, 'scripts travel base64-encoded');
});

t.test('a guest that stops running mid-command is reported at once, not after the timeout', async (t) => {
  const { ch } = fakeConsole(() => undefined);
  let polls = 0;
  ch.alive = async () => ++polls < 2;
  await t.rejects(new LinuxConsoleAgent('g1', ch).run('dd if=/dev/zero of=/dev/xvda', 3_600_000), { code: 'GUEST_GONE' });
});

t.test('a guest that never reports ready and a command that never ends are timeouts with the console tail', async (t) => {
  const silent = new LinuxConsoleAgent('g1', fakeConsole(() => undefined, { ready: false }).ch, 10);
  await t.rejects(silent.run('true', 10), { code: 'GUEST_NOT_READY' });
  const hung = new LinuxConsoleAgent('g1', fakeConsole(() => undefined).ch);
  await t.rejects(hung.run('sleep 1000', 5), { code: 'GUEST_TIMEOUT' });
});

t.test('panic: sysrq c through the console when it is free; refused (nothing sent) while a command runs or before the agent is up', async (t) => {
  const { ch, sent } = fakeConsole((s) => (s.startsWith('sleep') ? undefined : { out: '', status: 0 }));
  const a = new LinuxConsoleAgent('g1', ch);
  t.equal(await a.panic(), false, 'not up yet: the caller uses xl sysrq');
  t.same(sent, []);
  await a.run('true');
  // the command below hangs until the guest is declared gone
  let gone!: (alive: boolean) => void;
  ch.alive = () => new Promise<boolean>((r) => (gone = r));
  const running = a.run('sleep 100', 3_600_000).catch(() => undefined);
  while (!gone) await new Promise((r) => setImmediate(r));
  t.equal(await a.panic(), false, 'busy: the guest would read the line only after the running command');
  t.equal(sent.length, 2, 'nothing sent while busy');
  gone(false);
  await running;
  t.equal(await a.panic(), true);
  t.equal(Buffer.from(sent[2]!.split(' ')[1]!, 'base64').toString(), 'echo c > /proc/sysrq-trigger\n');
});

const step: BlockWorkloadStep = { kind: 'block', guest: 'g1', device: 'vbd/51728', blockSize: 4096, queueDepth: 1, threads: 2, writePercent: 50, pattern: 'sequential', durationMs: 2000, verify: true, source: { file: 's.xml' } };

t.test('block workload: results parsed from the guest, dd latency percentiles not invented', async (t) => {
  const { ch } = fakeConsole((s) => {
    t.match(s, /dev=\/dev\/xvdb;/, 'vbd/51728 is xvdb in the guest');
    return { out: '@@r ios=2048 readBytes=4194304 writeBytes=4194304 errors=0 verifyErrors=1 centis=200\n', status: 0 };
  });
  const { result } = await new LinuxConsoleAgent('g1', ch).blockWorkload(step);
  t.equal(result.bytes, 8388608);
  t.equal(result.seconds, 2);
  t.equal(result.verifyErrors, 1, 'a verify mismatch reaches the result');
  t.same(result.latencyMs, {});
});

t.test('a block workload that produced nothing is an error', async (t) => {
  const { ch } = fakeConsole(() => ({ out: 'dd: /dev/xvdb: No such device\n', status: 1 }));
  await t.rejects(new LinuxConsoleAgent('g1', ch).blockWorkload(step), { code: 'GUEST_WORKLOAD' });
});

t.test('network workload: bytes from the receiving end, lost pings count as errors', async (t) => {
  const { ch } = fakeConsole(() => ({ out: '@@r lost=1\n@@r centis=100\n', status: 0 }));
  const { result } = await new LinuxConsoleAgent('g1', ch).netWorkload({ kind: 'net', guest: 'g1', device: 'vif/0', threads: 1, direction: 'send', durationMs: 1000, source: { file: 's' } });
  t.equal(result.bytes, 1000000);
  t.equal(result.mbps, 8);
  t.equal(result.errors, 1);
});

t.test('scripts take only checked numbers and addresses', async (t) => {
  t.throws(() => blockScript({ ...step, blockSize: 1000 }, '/dev/xvdb'), /multiple of 512/);
  t.throws(() => blockScript(step, '/dev/sda; reboot'), /not a guest block device/);
  t.throws(() => blockScript({ ...step, threads: 1.5 }, '/dev/xvdb'), /whole number/);
  t.throws(() => netScript({ kind: 'net', guest: 'g', device: 'vif/0', threads: 1, direction: 'send', durationMs: 1, source: { file: 's' } }, { guestAddress: '10.0.2.1; reboot', peerAddress: '10.0.2.15' }), /IPv4/);
  t.same(parseResultLines('noise\n@@r a=1 b=-2\n@@r a=3\n'), { a: 3, b: -2 });
});

t.test('the Linux guest has no Windows drivers to install', async (t) => {
  const { ch } = fakeConsole(() => ({ out: '', status: 0 }));
  await t.rejects(new LinuxConsoleAgent('g1', ch).installDrivers({ location: 'x', version: '1', drivers: [] }), { code: 'NOT_SUPPORTED' });
});

t.test('a block workload that completed no I/O at all is an error, not a pass with zero throughput', async (t) => {
  const { ch } = fakeConsole(() => ({ out: '@@r ios=0 readBytes=0 writeBytes=0 errors=0 verifyErrors=0 centis=3044\n', status: 0 }));
  const { result } = await new LinuxConsoleAgent('g1', ch).blockWorkload(step);
  t.equal(result.errors, 1);
});

t.test('a channel that follows the log is waited on between reads, not slept on', async (t) => {
  let turns = 0;
  const { ch } = fakeConsole((s) => (s === 'slow' ? undefined : { out: 'done\n', status: 0 }));
  const send = ch.send;
  let pending: string | undefined;
  // the guest answers "slow" only after the agent has waited on the log twice
  ch.send = async (line) => {
    if (Buffer.from(line.split(' ')[1]!, 'base64').toString() === 'slow') pending = line;
    else await send(line);
  };
  const waits: number[] = [];
  ch.waitPast = async (off) => {
    waits.push(off);
    if (pending && ++turns === 2) {
      const id = pending.split(' ')[0]!;
      pending = undefined;
      await send(`${id} ${Buffer.from('fast').toString('base64')}`);
    }
  };
  ch.sleep = async () => {
    throw new Error('slept although the channel follows the log');
  };
  const r = await new LinuxConsoleAgent('g1', ch).run('slow');
  t.same(r, { status: 0, output: 'done\n' });
  t.equal(waits.length, 2, 'two waits on the log, each from where the last read ended');
  t.ok(waits.every((w) => w > 0));
});
