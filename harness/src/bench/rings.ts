// Ring benchmarks: requests per second through a blkif ring and a netif ring of the simulated host
// (real ring memory, grants, event channels, blkback/netback), with baselines measured in the same
// run: the raw encode/decode loop of the same structures, and the order-0 ring against order 4.
import { performance } from 'node:perf_hooks';
import * as blk from '../abi/blkif';
import * as net from '../abi/netif';
import { loadSpecs } from '../spec/load';
import { SimHost } from '../hosts/sim';
import type { GuestShape } from '../model/scenario';
import { ratioOf, type BenchFigure } from './figure';
import type { TraceEventInput } from '../model/trace';
import { Xenvbd } from '../sim/frontend/xenvbd';
import { Xenvif } from '../sim/frontend/xenvif';

const BLK_REQUESTS = 20_000;
const NET_FRAMES = 20_000;

function rawBlkifLoop(n: number): number {
  const buf = Buffer.alloc(4096);
  const seg = [{ gref: 9, firstSect: 0, lastSect: 7 }];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const off = 64 + (i & 31) * blk.BLKIF_ENTRY_SIZE;
    blk.encodeBlkifRequest(buf, off, { operation: 0, handle: 1, id: i + 1, sector: i * 8, segments: seg });
    blk.decodeBlkifRequest(buf, off);
    blk.encodeBlkifResponse(buf, off, { id: i + 1, operation: 0, status: 0 });
    blk.decodeBlkifResponse(buf, off);
  }
  return n / ((performance.now() - t0) / 1000);
}

function rawNetifLoop(n: number): number {
  const buf = Buffer.alloc(4096);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const off = 64 + (i & 255) * 12;
    net.encodeTxRequest(buf, off, { gref: 8, offset: 0, flags: 0, id: i & 0xff, size: 1514 });
    net.decodeTxRequest(buf, off);
    net.encodeTxResponse(buf, off, { id: i & 0xff, status: 0 });
    net.decodeTxResponse(buf, off);
  }
  return n / ((performance.now() - t0) / 1000);
}

async function simGuest(order: number) {
  const host = new SimHost({ specs: loadSpecs() });
  const sink = { emit: (_e: TraceEventInput) => undefined };
  await host.open(sink, { seed: 1 });
  const shape: GuestShape = {
    name: 'bench', os: 'windows', vcpus: 1, memoryMiB: 1024,
    vbds: [{ vdev: 'xvda', sizeMiB: 256, mode: 'w', ringPageOrder: order, queues: 1, backend: {} }],
    vifs: [{ devid: 0, queues: 1, backend: {} }],
  };
  const g = await host.createGuest(shape, 'bench');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.0', version: '9.1.0.0', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  await host.clock.sleep(100);
  const sg = host.guest(g);
  return { host, vbd: sg.win.frontend('vbd/51712') as Xenvbd, vif: sg.win.frontend('vif/0') as Xenvif };
}

/** Requests per wall-clock second with the ring kept full (nr_ents outstanding). */
async function blkRing(order: number): Promise<number> {
  const { host, vbd } = await simGuest(order);
  const outstanding = vbd.nrEnts;
  let issued = 0;
  const data = Buffer.alloc(4096);
  const t0 = performance.now();
  const worker = async () => {
    while (issued < BLK_REQUESTS) {
      const i = issued++;
      await vbd.submit({ op: i % 4 === 0 ? 'write' : 'read', sector: (i % 4096) * 8, nsect: 8, data });
    }
  };
  await Promise.all(Array.from({ length: outstanding }, worker));
  const rate = BLK_REQUESTS / ((performance.now() - t0) / 1000);
  await host.close();
  return rate;
}

async function netRing(): Promise<number> {
  const { host, vif } = await simGuest(0);
  const frame = Buffer.alloc(1514);
  frame.fill(0xff, 0, 6);
  let sent = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (sent < NET_FRAMES) {
      sent++;
      await vif.send(frame);
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const rate = NET_FRAMES / ((performance.now() - t0) / 1000);
  await host.close();
  return rate;
}

export async function run(): Promise<BenchFigure[]> {
  const rawBlk = rawBlkifLoop(200_000);
  const rawNet = rawNetifLoop(200_000);
  const o0 = await blkRing(0);
  const o4 = await blkRing(4);
  const tx = await netRing();
  const g = 'rings';
  const rawBlkName = 'blkif encode+decode loop (no ring)';
  const rawNetName = 'netif tx encode+decode loop (no ring)';
  const o0Name = 'blkif ring order 0, 32 in flight, 4 KiB';
  return [
    { group: g, name: rawBlkName, value: rawBlk, unit: 'req/s', note: 'the codec alone: the ceiling for the simulated ring' },
    { group: g, name: rawNetName, value: rawNet, unit: 'req/s' },
    { group: g, name: o0Name, value: o0, unit: 'req/s', baseline: { name: rawBlkName, value: rawBlk }, ratio: ratioOf(o0, rawBlk), note: 'real grants, event channels, blkback, sparse disk; wall clock' },
    { group: g, name: 'blkif ring order 4, 512 in flight, 4 KiB', value: o4, unit: 'req/s', baseline: { name: o0Name, value: o0 }, ratio: ratioOf(o4, o0) },
    { group: g, name: 'netif tx ring, 1514-byte frames to dom0', value: tx, unit: 'req/s', baseline: { name: rawNetName, value: rawNet }, ratio: ratioOf(tx, rawNet), note: 'grant copy, netback, bridge; wall clock' },
  ];
}

/** `node harness/dist/bench/rings.js` runs this module alone. */
if (require.main === module) {
  run().then(
    (figs) => {
      for (const f of figs) console.log(`${f.name}: ${Math.round(f.value)} ${f.unit}${f.ratio !== undefined ? ` (${f.ratio.toFixed(3)}x ${f.baseline?.name})` : ''}`);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
