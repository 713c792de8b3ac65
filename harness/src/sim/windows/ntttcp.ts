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

/** How many real frames stand for the run: the frame size, the run's length, each real frame's weight. */
interface FramePlan {
  len: number;
  seconds: number;
  /** Real frames per thread and direction. */
  perThread: number;
  /** Frames each real frame stands for. */
  dilation: number;
}

/** Frames seen arriving at an endpoint, and how to stop counting. */
interface Arrivals {
  bytes: number;
  frames: number;
  off: () => void;
}

export async function runNtttcp(w: NetWorkloadStep, ctx: NetRunContext): Promise<{ result: NetResult; raw: string }> {
  const { sched } = ctx;
  const plan = framePlan(w, ctx);
  const links = [...ctx.local.links, ...ctx.peer.links];
  const saved = links.map((l) => l.dilation);
  for (const l of links) l.dilation = plan.dilation;
  const start = sched.nowMicros();
  const deadline = start + w.durationMs * 1000;
  const atPeer = countArrivals(ctx.peer);
  const atLocal = countArrivals(ctx.local);
  const errors = { count: 0 };
  const jobs = startStreams(w, ctx, plan, deadline, errors);
  try {
    await Promise.all(jobs);
    if (sched.nowMicros() < deadline) await sched.sleep((deadline - sched.nowMicros()) / 1000);
  } finally {
    links.forEach((l, i) => (l.dilation = saved[i]));
    atPeer.off();
    atLocal.off();
  }
  // what arrived where the run's direction sends it, scaled back up to the frames it stands for
  const arrived = (k: 'bytes' | 'frames') => (w.direction === 'send' ? atPeer[k] : w.direction === 'receive' ? atLocal[k] : atPeer[k] + atLocal[k]) * plan.dilation;
  const realtime = Math.max(plan.seconds, (sched.nowMicros() - start) / 1e6);
  const raw = ntttcpXml(w, ctx.computerName, arrived('bytes'), arrived('frames'), errors.count, realtime);
  return { result: parseNtttcpXml(raw, `NTttcp on ${ctx.computerName}`), raw };
}

/** The link model gives the per-frame time, hence the frames of the whole run; REAL_FRAME_BUDGET of
 *  them are really sent, shared among the threads and directions. */
function framePlan(w: NetWorkloadStep, ctx: NetRunContext): FramePlan {
  const len = ctx.gso ? 16 * 1024 : 1514;
  const link = ctx.local.links[0] ?? ctx.peer.links[0] ?? { latencyUs: 5, bytesPerUs: 1250, dilation: 1 };
  const perFrameUs = link.latencyUs + len / link.bytesPerUs;
  const seconds = w.durationMs / 1000;
  const directions = w.direction === 'both' ? 2 : 1;
  const totalFrames = Math.max(1, Math.round((seconds * 1e6) / perFrameUs));
  const budget = Math.min(REAL_FRAME_BUDGET, totalFrames);
  const perThread = Math.max(1, Math.floor(budget / Math.max(1, w.threads) / directions));
  return { len, seconds, perThread, dilation: totalFrames / budget };
}

/** Counts the frames addressed to `ep` that reach it. */
function countArrivals(ep: NetEndpoint): Arrivals {
  const a: Arrivals = { bytes: 0, frames: 0, off: () => undefined };
  a.off = ep.onReceive((f) => {
    if (f.subarray(0, 6).equals(ep.mac)) {
      a.bytes += f.length;
      a.frames++;
    }
  });
  return a;
}

/** One stream a thread and direction, each sending its frames until done or the run's deadline. */
function startStreams(w: NetWorkloadStep, ctx: NetRunContext, plan: FramePlan, deadline: number, errors: { count: number }): Promise<void>[] {
  const stream = async (from: NetEndpoint, to: NetEndpoint, frames: number) => {
    for (let i = 0; i < frames && ctx.sched.nowMicros() < deadline; i++) {
      const st = await from.send(frame(to.mac, from.mac, plan.len, i));
      if (st !== NETIF_RSP_OKAY) errors.count++;
    }
  };
  const jobs: Promise<void>[] = [];
  for (let t = 0; t < Math.max(1, w.threads); t++) {
    if (w.direction !== 'receive') jobs.push(stream(ctx.local, ctx.peer, plan.perThread));
    if (w.direction !== 'send') jobs.push(stream(ctx.peer, ctx.local, plan.perThread));
  }
  return jobs;
}

/** The run as NTttcp's -xml output reports it (the bytes shared evenly among the threads). */
function ntttcpXml(w: NetWorkloadStep, computerName: string, received: number, frames: number, errors: number, realtime: number): string {
  return renderNtttcpXml({
    role: w.direction === 'receive' ? 'receiver' : 'sender',
    computerName,
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
}
