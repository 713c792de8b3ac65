// Parsers for what dom0 prints: `xl list`, netback's debugfs io_ring_q<N> files and blkback's
// statistics/ directory. Pure functions, so they are tested against text captured from the lab.
import type { GuestPowerState, RingIndices } from '../../model/host';
import { idxAhead } from '../../abi/ring';

export interface XlListEntry {
  name: string;
  domid: number;
  memMiB: number;
  vcpus: number;
  /** The six state flags: r running, b blocked, p paused, s shutdown, c crashed, d dying. */
  state: string;
  /** The domain's UUID (`xl list -v` only). */
  uuid?: string;
}

/** `xl list` or `xl list -v` (the header line is skipped). A domain whose xenstore home is gone is
 *  listed by the name `(null)`. */
export function parseXlList(text: string): XlListEntry[] {
  const out: XlListEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([-rbpscd]{6})\s+(?:[\d.]+\s+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b)?/.exec(line + ' ');
    if (m) out.push({ name: m[1]!, domid: Number(m[2]), memMiB: Number(m[3]), vcpus: Number(m[4]), state: m[5]!, ...(m[6] ? { uuid: m[6] } : {}) });
  }
  return out;
}

/** The power state the flags mean (crashed wins: with on_crash="preserve" a crashed domain stays listed). */
export function powerStateOf(flags: string | undefined): GuestPowerState {
  if (flags === undefined) return 'gone';
  if (flags.includes('c')) return 'crashed';
  if (flags.includes('s') || flags.includes('d')) return 'halted';
  if (flags.includes('p')) return 'paused';
  return 'running';
}

export interface NetbackQueueRings {
  queue: number;
  tx?: RingIndices;
  rx?: RingIndices;
}

/** The line between a netback io_ring_q<N> file's first read and its second (netback-rings.ts reads
 *  each file twice, one straight after the other). */
export const NETBACK_REREAD_MARK = '~~ reread';

/** One netback `io_ring_q<N>` file: `Queue N`, then `TX: nr_ents E` / `RX: nr_ents E` sections, each
 *  with `req prod P (d) cons C (d) event V (d)` and `rsp prod P (base) pvt Q (d) event V (d)` lines.
 *  req_cons is the backend's private consumer; the frontend's rsp_cons is not visible from dom0.
 *
 *  netback prints the file field by field while its threads move the ring (xenvif_read_io_ring loads
 *  req_cons for the first line and rsp_prod again for the second), so one read is no single moment:
 *  on a busy RX ring req_cons can print behind the rsp_prod printed a line later, which no moment of
 *  the ring ever had. When the text holds a second read after NETBACK_REREAD_MARK, each ring's
 *  indices are the first read's with the second as `reread`: the range each index held at the
 *  moments between the two reads (ring-invariants judges that range). A second read that is behind
 *  the first is of another ring (the queue set up again between the reads) and brackets nothing: the
 *  first read is then taken alone. */
export function parseNetbackIoRing(text: string): NetbackQueueRings | null {
  const cut = text.indexOf(`\n${NETBACK_REREAD_MARK}\n`);
  if (cut < 0) return parseOneRead(text);
  const first = parseOneRead(text.slice(0, cut + 1));
  const second = parseOneRead(text.slice(cut + NETBACK_REREAD_MARK.length + 2));
  if (!first) return null;
  for (const which of ['tx', 'rx'] as const) {
    const a = first[which];
    const b = second?.queue === first.queue ? second[which] : undefined;
    if (!a || !b || !brackets(a, b)) continue;
    a.reread = { req_prod: b.req_prod, rsp_prod: b.rsp_prod, ...(b.req_cons !== undefined ? { req_cons: b.req_cons } : {}) };
  }
  return first;
}

/** Whether b, read after a, is the same ring later: no index behind (ring.h's wrapping u32 indices). */
function brackets(a: RingIndices, b: RingIndices): boolean {
  const notBehind = (x: number | undefined, y: number | undefined) => x === undefined || y === undefined || idxAhead(y, x) >= 0;
  return a.nr_ents === b.nr_ents && notBehind(a.req_prod, b.req_prod) && notBehind(a.rsp_prod, b.rsp_prod) && notBehind(a.req_cons, b.req_cons);
}

function parseOneRead(text: string): NetbackQueueRings | null {
  const q = /^Queue (\d+)/m.exec(text);
  if (!q) return null;
  const out: NetbackQueueRings = { queue: Number(q[1]) };
  for (const which of ['TX', 'RX'] as const) {
    const at = text.indexOf(`${which}: nr_ents`);
    if (at < 0) continue;
    const section = text.slice(at).split(/\n\s*\n/)[0]!;
    const nr = /nr_ents (\d+)/.exec(section);
    const req = /req prod (\d+) \(-?\d+\) cons (\d+) \(-?\d+\) event (\d+)/.exec(section);
    const rsp = /rsp prod (\d+) \(base\) pvt (\d+) \(-?\d+\) event (\d+)/.exec(section);
    if (!nr || !req || !rsp) return null;
    const ring: RingIndices = {
      nr_ents: Number(nr[1]),
      req_prod: Number(req[1]),
      req_cons: Number(req[2]),
      req_event: Number(req[3]),
      rsp_prod: Number(rsp[1]),
      rsp_event: Number(rsp[3]),
    };
    if (which === 'TX') out.tx = ring;
    else out.rx = ring;
  }
  return out;
}

/** `grep -r . <dir>` output over blkback's statistics/ (`<path>/<name>:<number>` lines). */
export function parseStatsGrep(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /([^/:]+):\s*(\d+)\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
