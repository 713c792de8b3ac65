// Parsers for what dom0 prints: `xl list`, netback's debugfs io_ring_q<N> files and blkback's
// statistics/ directory. Pure functions, so they are tested against text captured from the lab.
import type { GuestPowerState, RingIndices } from '../../model/host';

export interface XlListEntry {
  name: string;
  domid: number;
  memMiB: number;
  vcpus: number;
  /** The six state flags: r running, b blocked, p paused, s shutdown, c crashed, d dying. */
  state: string;
}

/** `xl list` (the header line is skipped). */
export function parseXlList(text: string): XlListEntry[] {
  const out: XlListEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([-rbpscd]{6})\s/.exec(line + ' ');
    if (m) out.push({ name: m[1]!, domid: Number(m[2]), memMiB: Number(m[3]), vcpus: Number(m[4]), state: m[5]! });
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

/** One netback `io_ring_q<N>` file: `Queue N`, then `TX: nr_ents E` / `RX: nr_ents E` sections, each
 *  with `req prod P (d) cons C (d) event V (d)` and `rsp prod P (base) pvt Q (d) event V (d)` lines.
 *  req_cons is the backend's private consumer; the frontend's rsp_cons is not visible from dom0. */
export function parseNetbackIoRing(text: string): NetbackQueueRings | null {
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
