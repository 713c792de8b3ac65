// Differential tests: the same request sequences to winpv's xenstored and to the real C xenstored
// (Xen 4.17), replies and watch events compared byte for byte, per connection, in arrival order.
//
// What legitimately differs and is normalised or avoided (documented in the README's xenstore section):
// - DIRECTORY_PART's first string is the node's generation counter, an internal number: replaced by G.
// - IS_DOMAIN_INTRODUCED 0: the hypervisor-less C peer never introduces dom0 (answers F); on Xen, and
//   in winpv, dom0 is introduced (T). Not sent.
// - CONTROL help/quota texts list the C daemon's live-update and memory quotas; only `check` and
//   unknown commands are compared.
// - The C peer crashes on SET_PERMS naming a domid other than 0 and on INTRODUCE: not sent.
// - The C daemon crashes on RESET_WATCHES inside a transaction (it frees the running transaction):
//   sent only outside one; winpv answers OK.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XsType as T } from '../../src/xenstore/codec';
import { XenstoreServer } from '../../src/xenstore/server';
import { mulberry32 } from '../../src/model/mulberry32';
import { cXenstoredPath, startCXenstored, type CPeer } from './cpeer';
import { missing } from './tools';
import { Side, type Step } from './recorder';

const binary = cXenstoredPath();
const dir = mkdtempSync(join(tmpdir(), 'winpv-xs-diff-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function compare(t: Test, steps: Step[], nConns: number, label: string): Promise<void> {
  const peer: CPeer = await startCXenstored(binary!);
  t.teardown(() => peer.stop());
  const server = new XenstoreServer();
  const sock = join(dir, `${label.replace(/\W+/g, '-')}.sock`);
  const net = await server.listen(sock);
  const c = await Side.open(peer.socket, nConns);
  const w = await Side.open(sock, nConns);
  try {
    for (let i = 0; i < steps.length; i++) {
      await c.step(steps[i]);
      await w.step(steps[i]);
      for (let k = 0; k < nConns; k++) {
        const cl = c.conns[k].log.join('\n');
        const wl = w.conns[k].log.join('\n');
        if (cl !== wl) {
          const s = steps[i];
          t.equal(wl, cl, `${label}: step ${i} (${s.type} ${JSON.stringify(String(s.payload))} tx ${s.tx ?? 0} on conn ${s.conn}), connection ${k}`);
          return;
        }
      }
    }
    t.pass(`${label}: ${steps.length} steps, identical replies and events on ${nConns} connections`);
  } finally {
    c.close();
    w.close();
    for (const x of server.connections()) x.close();
    await new Promise<void>((r) => net.close(() => r()));
    await peer.stop();
  }
}

const S = (conn: number, type: number, payload: string, tx = 0): Step => ({ conn, type, payload, tx });

t.test('scripted sequences', async (t) => {
  if (!binary) return missing(t, 'the C xenstored (../shared/peers/xenstored-nohv/build.sh)');
  const oversize = Buffer.alloc(16);
  oversize.writeUInt32LE(T.WRITE, 0);
  oversize.writeUInt32LE(4097, 12);
  const big: Step[] = [];
  for (let i = 0; i < 300; i++) big.push(S(0, T.WRITE, `/big/a-rather-long-child-name-${i}\0`));
  await compare(
    t,
    [
      S(0, T.WRITE, '/a/b\0hello'),
      S(0, T.READ, '/a/b\0'),
      S(0, T.READ, '/a\0'),
      S(0, T.DIRECTORY, '/a\0'),
      S(0, T.DIRECTORY, '/a/b\0'),
      S(0, T.GET_PERMS, '/a\0'),
      S(0, T.READ, '/a/\0'),
      S(0, T.READ, '//a\0'),
      S(0, T.READ, '/a b\0'),
      S(0, T.READ, '/a.b\0'),
      S(0, T.READ, ''),
      S(0, T.READ, '/a\0extra'),
      S(0, T.READ, '/a\0/b\0'),
      S(0, T.WRITE, '/a/c'),
      S(0, T.WRITE, 'rel/x\0v'),
      S(0, T.READ, 'rel/x\0'),
      S(0, T.READ, '/' + 'x'.repeat(2048) + '\0'),
      S(0, T.READ, '/' + 'x'.repeat(2047) + '\0'),
      S(0, T.READ, '/local/domain/0/' + 'x'.repeat(2048) + '\0'),
      S(0, T.READ, '/local/domain/0/' + 'x'.repeat(2049) + '\0'),
      S(0, T.MKDIR, '/m/n/o\0'),
      S(0, T.MKDIR, '/m\0'),
      S(0, T.RM, '/m/zz\0'),
      S(0, T.RM, '/zz/zz\0'),
      S(0, T.RM, '/\0'),
      S(0, T.SET_PERMS, '/a\0r0\0'),
      S(0, T.SET_PERMS, '/a\0b0\0n0\0'),
      S(0, T.GET_PERMS, '/a\0'),
      S(0, T.SET_PERMS, '/a\0'),
      S(0, T.SET_PERMS, '/a\0q0\0'),
      S(0, T.SET_PERMS, '/a\0r\0'),
      S(0, T.SET_PERMS, '@introduceDomain\0n0\0'),
      S(0, T.SET_PERMS, '@other\0n0\0'),
      S(1, T.WATCH, '/a\0tok\0'),
      S(1, T.WATCH, '/a\0tok\0'),
      S(1, T.WATCH, 'rel\0r\0'),
      S(1, T.WATCH, '@releaseDomain\0s\0'),
      S(1, T.WATCH, '/a\0'),
      S(0, T.WRITE, '/a/b/c\0x'),
      S(0, T.WRITE, 'rel/y\0x'),
      S(0, T.RM, '/a/b\0'),
      S(0, T.SET_PERMS, '/a\0b0\0'),
      S(1, T.UNWATCH, '/a\0nope\0'),
      S(1, T.UNWATCH, '/a\0tok\0'),
      S(0, T.TRANSACTION_START, '\0'),
      S(0, T.READ, '/a\0', 1),
      S(1, T.WRITE, '/a\0changed'),
      S(0, T.READ, '/a\0', 1),
      S(0, T.WRITE, '/a\0mine', 1),
      S(0, T.TRANSACTION_START, '\0', 1),
      S(0, T.TRANSACTION_END, 'X\0', 1),
      S(0, T.TRANSACTION_END, 'T\0', 1),
      S(0, T.TRANSACTION_END, 'T\0', 1),
      S(0, T.READ, '/a\0', 7),
      S(1, T.TRANSACTION_START, '\0'),
      S(1, T.WRITE, 'rel/t\0in-tx', 1),
      S(1, T.RM, 'rel/x\0', 1),
      S(1, T.DIRECTORY, 'rel\0', 1),
      S(0, T.DIRECTORY, '/local/domain/0/rel\0'),
      S(1, T.TRANSACTION_END, 'T\0', 1),
      S(1, T.DIRECTORY, 'rel\0'),
      S(0, T.TRANSACTION_START, ''),
      S(0, T.WRITE, '/gone\0x', 2),
      S(0, T.TRANSACTION_END, 'F\0', 2),
      S(0, T.READ, '/gone\0'),
      ...big,
      S(0, T.DIRECTORY, '/big\0'),
      S(0, T.DIRECTORY_PART, '/big\0' + '0\0'),
      S(0, T.DIRECTORY_PART, '/big\0' + '4000\0'),
      S(0, T.DIRECTORY_PART, '/big\0' + '9000\0'),
      S(0, T.DIRECTORY_PART, '/big\0' + '99999\0'),
      S(0, T.DIRECTORY_PART, '/big\0'),
      S(0, T.RM, '/big\0'),
      S(0, T.GET_DOMAIN_PATH, '3\0'),
      S(0, T.GET_DOMAIN_PATH, 'abc\0'),
      S(0, T.GET_DOMAIN_PATH, '-1\0'),
      S(0, T.GET_DOMAIN_PATH, ''),
      S(0, T.IS_DOMAIN_INTRODUCED, '5\0'),
      S(0, T.IS_DOMAIN_INTRODUCED, '32752\0'),
      S(0, T.RELEASE, '5\0'),
      S(0, T.RELEASE, '0\0'),
      S(0, T.RESUME, '5\0'),
      S(0, T.SET_TARGET, '5\0' + '6\0'),
      S(0, T.SET_TARGET, '5\0'),
      S(0, T.CONTROL, 'check\0'),
      S(0, T.CONTROL, 'nonsense\0'),
      S(0, T.CONTROL, ''),
      S(0, 20, ''),
      S(0, 23, ''),
      S(0, T.ERROR, 'x\0'),
      S(0, T.WATCH_EVENT, 'x\0y\0'),
      S(1, T.RESET_WATCHES, ''),
      S(0, T.WRITE, '/a/after-reset\0x'),
      { conn: 1, type: 0, payload: '', raw: oversize },
      S(0, T.WRITE, '/a/still\0works'),
    ],
    2,
    'scripted',
  );
});

/** A seeded random request: a small alphabet of names, values, tokens and transaction ids so that
 *  requests collide, conflict and fire each other's watches. */
function randomStep(rand: () => number, nConns: number, openTx: number[][]): Step {
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)];
  const names = ['/d', '/d/a', '/d/a/b', '/d/b', '/d/a/c', 'rel', 'rel/x', '/', '/tool', '/d//x', '/d/', 'd a', '@introduceDomain', '@releaseDomain', '@x', '/local/domain/0', '/local/domain/0/rel', ''];
  const conn = Math.floor(rand() * nConns);
  const txs = openTx[conn];
  const tx = txs.length && rand() < 0.5 ? pick(txs) : rand() < 0.03 ? 77 : 0;
  const name = pick(names);
  const r = rand();
  const z = (...p: string[]) => p.map((x) => x + '\0').join('');
  if (r < 0.25) return { conn, type: T.WRITE, payload: `${name}\0${pick(['', 'v', 'value-' + Math.floor(rand() * 5)])}`, tx };
  if (r < 0.38) return { conn, type: T.READ, payload: z(name), tx };
  if (r < 0.45) return { conn, type: T.DIRECTORY, payload: z(name), tx };
  if (r < 0.5) return { conn, type: T.MKDIR, payload: z(name), tx };
  if (r < 0.57) return { conn, type: T.RM, payload: z(name), tx };
  if (r < 0.6) return { conn, type: T.GET_PERMS, payload: z(name), tx };
  if (r < 0.64) return { conn, type: T.SET_PERMS, payload: z(name, ...Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(['n0', 'r0', 'w0', 'b0', 'x0', 'r', 'b00', 'r0x']))), tx };
  if (r < 0.71) return { conn, type: T.WATCH, payload: z(name, pick(['t0', 't1'])), tx };
  if (r < 0.75) return { conn, type: T.UNWATCH, payload: z(name, pick(['t0', 't1'])), tx };
  if (r < 0.83) return { conn, type: T.TRANSACTION_START, payload: '\0', tx: rand() < 0.9 ? 0 : tx };
  if (r < 0.92) return { conn, type: T.TRANSACTION_END, payload: z(pick(['T', 'T', 'F', 'X'])), tx: txs.length ? pick(txs) : tx };
  if (r < 0.95) return { conn, type: T.DIRECTORY_PART, payload: z(name, String(Math.floor(rand() * 12))), tx };
  if (r < 0.97) return { conn, type: T.GET_DOMAIN_PATH, payload: z(pick(['0', '12', 'x'])), tx };
  // RESET_WATCHES only outside a transaction: inside one the C daemon frees the transaction it is
  // running in and crashes (winpv answers OK and drops the transactions).
  if (r < 0.98) return { conn, type: T.RESET_WATCHES, payload: '', tx: 0 };
  return { conn, type: pick([20, 23, 99, T.ERROR]), payload: z(name), tx };
}

t.test('seeded random sequences', async (t) => {
  if (!binary) return missing(t, 'the C xenstored (../shared/peers/xenstored-nohv/build.sh)');
  for (const seed of [1, 2, 3]) {
    const rand = mulberry32(seed);
    const nConns = 3;
    // Transaction ids are predictable: each connection numbers them 1, 2, ... and the reply says
    // which; the generator tracks them from the steps it made (both daemons must agree anyway).
    const steps: Step[] = [];
    const open: number[][] = [[], [], []];
    const next = [1, 1, 1];
    for (let i = 0; i < 400; i++) {
      const s = randomStep(rand, nConns, open);
      steps.push(s);
      if (s.type === T.TRANSACTION_START && s.tx === 0) open[s.conn].push(next[s.conn]++);
      if (s.type === T.TRANSACTION_END && s.tx) open[s.conn] = open[s.conn].filter((x) => x !== s.tx);
      if (s.type === T.RESET_WATCHES) open[s.conn] = [];
    }
    await compare(t, steps, nConns, `seed ${seed}`);
  }
});
