// A virtual Ethernet bridge in dom0 (like xenbr0): learns source MACs, forwards by destination MAC,
// floods unknown and broadcast destinations. Ports are netback vifs and dom0's own endpoint.

export interface BridgePort {
  name: string;
  /** Delivers a frame to the port's device (netback queues it for the guest's rx ring). */
  deliver(frame: Buffer): void;
}

const macKey = (b: Buffer, off: number) => b.toString('hex', off, off + 6);

export class VirtualBridge {
  private ports = new Set<BridgePort>();
  private fdb = new Map<string, BridgePort>();
  forwarded = 0;
  flooded = 0;

  constructor(readonly name: string) {}

  attach(p: BridgePort): void {
    this.ports.add(p);
  }

  detach(p: BridgePort): void {
    this.ports.delete(p);
    for (const [k, v] of this.fdb) if (v === p) this.fdb.delete(k);
  }

  /** A frame sent by `from`: learn its source, forward or flood. */
  transmit(from: BridgePort, frame: Buffer): void {
    if (frame.length < 14) return; // runt
    this.fdb.set(macKey(frame, 6), from);
    const dst = this.fdb.get(macKey(frame, 0));
    if (dst && dst !== from && (frame[0] & 1) === 0) {
      this.forwarded++;
      dst.deliver(frame);
      return;
    }
    this.flooded++;
    for (const p of this.ports) if (p !== from) p.deliver(frame);
  }
}

/** dom0's endpoint on the bridge: the NTttcp peer when the scenario names no second guest. */
export class Dom0Endpoint implements BridgePort {
  readonly name = 'dom0';
  rxBytes = 0;
  rxFrames = 0;
  private listeners = new Set<(frame: Buffer) => void>();
  constructor(readonly mac: Buffer) {}
  deliver(frame: Buffer): void {
    if (!frame.subarray(0, 6).equals(this.mac)) return;
    this.rxBytes += frame.length;
    this.rxFrames++;
    for (const l of this.listeners) l(frame);
  }
  /** dom0's network stack: frames addressed to dom0. */
  onReceive(cb: (frame: Buffer) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}

/** Parses "00:16:3e:xx:xx:xx" into 6 bytes. */
export function parseMac(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC address '${s}'`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}
