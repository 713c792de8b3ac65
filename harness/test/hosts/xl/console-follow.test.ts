// The console follower with its real Perl reader, run here on a local file as dom0 would run it.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleFollower, type StreamFn } from '../../../src/hosts/xl/console-follow';
import { Dom0 } from '../../../src/hosts/xl/dom0';
import { FakeDom0 } from './fake-dom0';
import type { ExecResult } from '../../../src/remote/ssh';

/** A line stream of a local process, as remote/ssh's stream gives one of a dom0 command. */
const localStream = (exits: Promise<number | null>[]): StreamFn => (argv, onLine) => {
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  p.stdin.on('error', () => undefined); // the reader gone: its answers decide
  let partial = '';
  p.stdout.on('data', (b: Buffer) => {
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) onLine(l);
  });
  const done = new Promise<ExecResult>((resolve) => p.on('close', (code) => resolve({ code, stdout: '', stderr: '' })));
  exits.push(done.then((r) => r.code));
  return { stop: () => p.stdout.destroy(), write: (data) => void p.stdin.write(data), done };
};

function logFile(t: Test, initial: Buffer | string): string {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-console-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'guest-g1.log');
  writeFileSync(log, initial);
  return log;
}

t.test('the log from the start offset, byte for byte, as it grows; the next offset is the file size', async (t) => {
  const log = logFile(t, 'previous boot\n');
  const exits: Promise<number | null>[] = [];
  const f = ConsoleFollower.start(14, log, localStream(exits))!;
  t.teardown(() => f.stop());
  t.equal(f.readFrom(14)?.text, '', 'nothing new yet');
  // a byte that is not UTF-8 and a line without its end: offsets still count the file's bytes
  appendFileSync(log, Buffer.from([0x40, 0x40, 0xff, 0x0a, 0x61]));
  await f.waitPast(14, 60_000);
  let got = f.readFrom(14)!;
  while (got.next < 19) {
    await f.waitPast(got.next, 60_000);
    got = f.readFrom(14)!;
  }
  t.equal(got.next, 19, 'five bytes past the start');
  t.equal(f.readFrom(18)!.text, 'a');
  appendFileSync(log, '@@winpv-end c1 0\n');
  await f.waitPast(19, 60_000);
  while (f.readFrom(19)!.next < 36) await f.waitPast(f.readFrom(19)!.next, 60_000);
  t.equal(f.readFrom(19)!.text, '@@winpv-end c1 0\n');
  t.equal(f.readFrom(13), undefined, 'an offset before the start is not its to answer');
  t.equal(f.readFrom(18), undefined, 'nor one before where the agent last read (dropped): the agent reads forward only');
  t.equal(f.readFrom(99), undefined, 'nor one past what it has');
});

t.test('stopped: it answers nothing more and the reader in dom0 ends (its next quiet-line write fails)', async (t) => {
  const log = logFile(t, '');
  const exits: Promise<number | null>[] = [];
  const f = ConsoleFollower.start(0, log, localStream(exits))!;
  f.stop();
  t.ok(f.ended);
  t.equal(f.readFrom(0), undefined);
  await f.waitPast(0, 60_000); // returns at once
  await exits[0];
  t.pass('the reader exited');
});

t.test('a log that is not there ends the follower, and the caller reads the log itself', async (t) => {
  const exits: Promise<number | null>[] = [];
  const f = ConsoleFollower.start(0, '/nonexistent/guest.log', localStream(exits))!;
  await exits[0];
  await f.waitPast(0, 60_000);
  t.ok(f.ended);
  t.equal(f.readFrom(0), undefined);
});

t.test('dom0 lends one session to followers: a second is refused until the first ends', async (t) => {
  const fake = new FakeDom0();
  const dom0 = new Dom0(fake, 'fake');
  const a = dom0.follow(['perl', '-e', '1'], () => undefined);
  t.ok(a);
  t.equal(dom0.follow(['perl', '-e', '1'], () => undefined), undefined, 'no second follower');
  const f = ConsoleFollower.start(0, '/x.log', (argv, onLine) => dom0.follow(argv, onLine));
  t.equal(f, undefined, 'the console agent polls instead');
  a!.stop();
  await a!.done;
  await new Promise((r) => setImmediate(r));
  const b = dom0.follow(['perl', '-e', '1'], () => undefined);
  t.ok(b, 'free again');
  b!.stop();
});

t.test('lines written to the console through the reader: each reaches the pty with its newline, in order, and a failed open is an error', { timeout: 60_000 }, async (t) => {
  const log = logFile(t, '');
  const pty = join(log, '..', 'pts-stand-in');
  const exits: Promise<number | null>[] = [];
  const f = ConsoleFollower.start(0, log, localStream(exits))!;
  t.teardown(() => f.stop());
  const seen: string[] = [];
  for (const line of ['c1 ZWNobyBoaQo=', 'c2 with spaces and \u00e9']) {
    writeFileSync(pty, ''); // a pty is there to open (the reader neither creates nor truncates)
    await f.write(pty, line);
    seen.push(readFileSync(pty, 'utf8'));
  }
  t.same(seen, ['c1 ZWNobyBoaQo=\n', 'c2 with spaces and \u00e9\n'], 'the bytes and a newline, written before the promise resolved');
  await t.rejects(f.write(join(log, '..', 'no-such-dir', 'pts'), 'c3 x')!, { code: 'XL_CONSOLE', message: /No such file or directory/ });
  writeFileSync(pty, '');
  await f.write(pty, 'c4 after a failure');
  t.equal(readFileSync(pty, 'utf8'), 'c4 after a failure\n', 'the reader goes on after a failed write');
});

t.test('a write the reader never answered fails when the follower ends (not sent again: it may have been written); none is taken after', { timeout: 60_000 }, async (t) => {
  let finish!: (r: ExecResult) => void;
  const written: string[] = [];
  const f = ConsoleFollower.start(0, '/x.log', () => ({
    stop: () => finish({ code: null, stdout: '', stderr: '' }),
    write: (data) => void written.push(data),
    done: new Promise<ExecResult>((r) => (finish = r)),
  }))!;
  const w = f.write('/dev/pts/3', 'c1 x')!;
  t.same(written, [`1 /dev/pts/3 ${Buffer.from('c1 x').toString('hex')}\n`], 'one request line: sequence, pty, the line in hex');
  f.stop();
  await t.rejects(w, { code: 'XL_CONSOLE', message: /ended before it answered/ });
  t.equal(f.write('/dev/pts/3', 'c2 y'), undefined, 'the caller writes by a command of its own');
});
