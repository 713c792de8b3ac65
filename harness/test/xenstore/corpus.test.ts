// The protocol corpus (fixtures/protocol-corpus.json): valid and malformed requests of every type,
// sent to winpv's xenstored and to the real C xenstored (Xen 4.17) on two connections each; every
// reply and watch event of a case is compared byte for byte. Prints identical / different counts.
// A case whose difference is deliberate carries a `deviation` (the README's xenstored deviations
// section gives the same reason); any other difference fails.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XsType } from '../../src/xenstore/codec';
import { XenstoreServer } from '../../src/xenstore/server';
import { cXenstoredPath, startCXenstored } from './cpeer';
import { Recorder, Side, type Step } from './recorder';
import { missing } from './tools';

interface Case {
  name: string;
  steps: [number, string | number, string, number?][];
  deviation?: string;
}
const corpus = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'protocol-corpus.json'), 'utf8')) as { cases: Case[] };

function toStep([conn, type, payload, tx]: Case['steps'][number]): Step {
  const code = typeof type === 'number' ? type : XsType[type as keyof typeof XsType];
  if (code === undefined) throw new Error(`protocol-corpus.json: unknown type ${type}`);
  return { conn, type: code, payload: Buffer.from(payload, 'latin1'), tx: tx ?? 0 };
}

/** Reopens connections the previous case closed, so each case starts with live connections. */
async function revive(side: Side, path: string): Promise<void> {
  for (let i = 0; i < side.conns.length; i++) {
    if (side.conns[i].closed) side.conns[i] = await Recorder.open(path);
  }
}

interface Outcome {
  identical: number;
  /** Cases whose replies differ, with both sides' logs. */
  different: { k: Case; c: string; w: string }[];
  cSurvived: boolean;
}

/** Runs the cases against a fresh C daemon and `server`; no assertions (the caller judges). */
async function runCorpus(binary: string, cases: Case[], server: XenstoreServer): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xs-corpus-'));
  const peer = await startCXenstored(binary);
  const sock = join(dir, 'winpv.sock');
  const net = await server.listen(sock);
  const c = await Side.open(peer.socket, 2);
  const w = await Side.open(sock, 2);
  const out: Outcome = { identical: 0, different: [], cSurvived: false };
  try {
    for (const k of cases) {
      await revive(c, peer.socket);
      await revive(w, sock);
      const mark = (s: Side) => s.conns.map((x) => x.log.length);
      const cm = mark(c);
      const wm = mark(w);
      for (const s of k.steps.map(toStep)) {
        await c.step(s);
        await w.step(s);
      }
      const got = (s: Side, m: number[]) => s.conns.map((x, i) => x.log.slice(m[i]).join('\n')).join('\n--\n');
      const cl = got(c, cm);
      const wl = got(w, wm);
      if (cl === wl) out.identical++;
      else out.different.push({ k, c: cl, w: wl });
    }
    out.cSurvived = peer.child.exitCode === null && peer.child.signalCode === null;
    return out;
  } finally {
    c.close();
    w.close();
    for (const x of server.connections()) x.close();
    await new Promise<void>((r) => net.close(() => r()));
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('protocol corpus against the C xenstored', async (t) => {
  const binary = cXenstoredPath();
  if (!binary) return missing(t, 'the C xenstored (../shared/peers/xenstored-nohv/build.sh)');
  const out = await runCorpus(binary, corpus.cases, new XenstoreServer());
  for (const k of corpus.cases) {
    const d = out.different.find((x) => x.k === k);
    if (!d && k.deviation) t.fail(`${k.name}: listed as a deviation but now identical; drop the listing`);
    if (d && k.deviation) t.comment(`${k.name}: known deviation: ${k.deviation}`);
    if (d && !k.deviation) t.equal(d.w, d.c, `${k.name}: winpv's replies equal the C daemon's`);
  }
  t.comment(`protocol corpus: ${out.identical} identical, ${out.different.length} different of ${corpus.cases.length} cases`);
  t.ok(out.cSurvived, 'the C daemon survived the corpus');
});

t.test('fault injected: a daemon that answers one request wrongly is caught', async (t) => {
  const binary = cXenstoredPath();
  if (!binary) return missing(t, 'the C xenstored (../shared/peers/xenstored-nohv/build.sh)');
  // A winpv daemon that refuses GET_DOMAIN_PATH of domain 7 with EACCES (the C daemon answers the path).
  class Wrong extends XenstoreServer {
    override process(conn: Parameters<XenstoreServer['process']>[0], msg: Parameters<XenstoreServer['process']>[1]): void {
      if (msg.type === XsType.GET_DOMAIN_PATH && msg.payload.toString('latin1') === '7\0') conn.replyError(msg, 'EACCES');
      else super.process(conn, msg);
    }
  }
  const cases = corpus.cases.filter((k) => k.name === 'get_domain_path' || k.name === 'control check');
  const out = await runCorpus(binary, cases, new Wrong());
  t.same(out.different.map((d) => d.k.name), ['get_domain_path'], 'the wrong answer is reported as a difference');
  t.equal(out.identical, 1, 'the untouched case stays identical');
});
