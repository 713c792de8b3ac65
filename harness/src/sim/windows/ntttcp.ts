// The simulated NTttcp: real frames through the xenvif frontend's tx/rx rings, netback's grant
// copies and the bridge, with the same time-scaling model as diskspd.ts: the link model gives the
// per-frame time, REAL_FRAME_BUDGET frames are really sent and each stands for `dilation` frames,
// the backends' per-frame time being dilated alike so the run spans its full virtual duration.
import { NETIF_RSP_OKAY } from '../../abi/netif';
import type { NetWorkloadStep } from '../../model/scenario';
import type { NetResult } from '../../model/trace';
import { renderNtttcpXml, parseNtttcpXml } from '../../workloads';
import type { Scheduler } from '../scheduler';
import type { LinkModel } from '../backend/netback';

const REAL_FRAME_BUDGET = 240;

/** Something that can put frames on the wire and count what arrives for it (a guest vif or dom0). */
export interface NetEndpoint {
  mac: Buffer;
  send(frame: Buffer): Promise<number>;
  onReceive(cb: (frame: Buffer) => void): () => void;
  /** Backend link models to dilate for the run. */
  links: LinkModel[];
}

export interface NetRunContext {
  sched: Scheduler;
  local: NetEndpoint;
  peer: NetEndpoint;
  computerName: string;
  gso: boolean;
}

function frame(dst: Buffer, src: Buffer, len: number, seq: number): Buffer {
  const f = Buffer.alloc(len);
  dst.copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  f.writeUInt32BE(seq >>> 0, 14);
  return f;
}

export async function runNtttcp(w: NetWorkloadStep, ctx: NetRunContext): Promise<{ result: NetResult; raw: string }> {
  const { sched } = ctx;
  const len = ctx.gso ? 16 * 1024 : 1514;
  const link = ctx.local.links[0] ?? ctx.peer.links[0] ?? { latencyUs: 5, bytesPerUs: 1250, dilation: 1 };
  const perFrameUs = link.latencyUs + len / link.bytesPerUs;
  const seconds = w.durationMs / 1000;
  const directions = w.direction === 'both' ? 2 : 1;
  const totalFrames = Math.max(1, Math.round((seconds * 1e6) / perFrameUs));
  const budget = Math.min(REAL_FRAME_BUDGET, totalFrames);
  const dilation = totalFrames / budget;
  const links = [...ctx.local.links, ...ctx.peer.links];
  const saved = links.map((l) => l.dilation);
  for (const l of links) l.dilation = dilation;
  const start = sched.nowMicros();
  const deadline = start + w.durationMs * 1000;
  const rx = { local: 0, peer: 0, localFrames: 0, peerFrames: 0 };
  let errors = 0;
  const offA = ctx.peer.onReceive((f) => {
    if (f.subarray(0, 6).equals(ctx.peer.mac)) {
      rx.peer += f.length;
      rx.peerFrames++;
    }
  });
  const offB = ctx.local.onReceive((f) => {
    if (f.subarray(0, 6).equals(ctx.local.mac)) {
      rx.local += f.length;
      rx.localFrames++;
    }
  });
  const stream = async (from: NetEndpoint, to: NetEndpoint, frames: number) => {
    for (let i = 0; i < frames && sched.nowMicros() < deadline; i++) {
      const st = await from.send(frame(to.mac, from.mac, len, i));
      if (st !== NETIF_RSP_OKAY) errors++;
    }
  };
  const perThread = Math.max(1, Math.floor(budget / Math.max(1, w.threads) / directions));
  const jobs: Promise<void>[] = [];
  for (let t = 0; t < Math.max(1, w.threads); t++) {
    if (w.direction !== 'receive') jobs.push(stream(ctx.local, ctx.peer, perThread));
    if (w.direction !== 'send') jobs.push(stream(ctx.peer, ctx.local, perThread));
  }
  try {
    await Promise.all(jobs);
    if (sched.nowMicros() < deadline) await sched.sleep((deadline - sched.nowMicros()) / 1000);
  } finally {
    links.forEach((l, i) => (l.dilation = saved[i]));
    offA();
    offB();
  }
  const received = (w.direction === 'send' ? rx.peer : w.direction === 'receive' ? rx.local : rx.peer + rx.local) * dilation;
  const frames = (w.direction === 'send' ? rx.peerFrames : w.direction === 'receive' ? rx.localFrames : rx.peerFrames + rx.localFrames) * dilation;
  const realtime = Math.max(seconds, (sched.nowMicros() - start) / 1e6);
  const raw = renderNtttcpXml({
    role: w.direction === 'receive' ? 'receiver' : 'sender',
    computerName: ctx.computerName,
    version: '5.39',
    params: { port: 5001, runTimeMs: w.durationMs, warmupMs: 0, cooldownMs: 0, udp: false, verifyData: false, bufferLen: 65536, async: false },
    threads: Array.from({ length: Math.max(1, w.threads) }, () => ({ bytes: Math.round(received / Math.max(1, w.threads)), realtimeSeconds: realtime })),
    realtimeSeconds: realtime,
    packetsSent: Math.round(frames),
    packetsReceived: Math.round(frames),
    packetsRetransmitted: 0,
    errors,
    cpuPercent: 12,
  });
  return { result: parseNtttcpXml(raw, `NTttcp on ${ctx.computerName}`), raw };
}
