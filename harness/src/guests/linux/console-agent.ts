// The Linux reference guest, driven over its Xen console. The guest's /init (lab/recipe GUEST_INIT)
// reads `<id> <base64 script>` lines from hvc0 and frames each script's output between
// `@@winpv-begin <id>` and `@@winpv-end <id> <status>`. The host writes lines to the console's pty
// and reads xenconsoled's log of it, so no process holds the pty (only one reader may).
import { guestError, WinpvError } from '../../model/errors';
import type { BlockResult, NetResult } from '../../model/trace';
import type { DriverBundle, DriverStatus, GuestAgent } from '../../model/host';
import type { BlockWorkloadStep, NetWorkloadStep } from '../../model/scenario';
import { blockScript, netScript, parseResultLines, devidToLinuxDisk } from './workloads';

/** What the host provides: the console's input, its log, dom0 commands for the peer end, time. */
export interface ConsoleChannel {
  /** Writes one line to the guest's console input. */
  send(line: string): Promise<void>;
  /** The console log from byte `offset` on, and the offset after it. */
  readFrom(offset: number): Promise<{ text: string; next: number }>;
  /** Byte offset of the log where this boot of the guest starts. */
  bootOffset(): number;
  /** dom0's address on the guests' bridge, and a way to run the far end of a network workload there. */
  peer: { address: string; run(script: string, timeoutMs: number): Promise<{ code: number | null; stdout: string }> };
  /** The guest's address on the bridge. */
  guestAddress: string;
  /** Waits until the log has grown past `offset`, or at most `ms` (a channel that follows the log
   *  wakes as soon as it grows; without this the agent sleeps between reads). */
  waitPast?(offset: number, ms: number): Promise<void>;
  /** Whether the domain still runs (a crashed or destroyed guest never answers: stop waiting). */
  alive?(): Promise<boolean>;
  sleep(ms: number): Promise<void>;
}

export interface ScriptResult {
  status: number;
  output: string;
}

export class LinuxConsoleAgent implements GuestAgent {
  private seq = 0;
  private offset: number | undefined;
  private ready = false;
  /** Commands sent and not finished (the guest's /init reads the next line only after the current one). */
  private inFlight = 0;

  constructor(
    private readonly guest: string,
    private readonly ch: ConsoleChannel,
    /** How long a fresh guest may take to boot to its console agent (measured on the lab: ~6 s, more under load). */
    private readonly readyTimeoutMs = 120_000,
  ) {}

  private async waitReady(timeoutMs: number): Promise<void> {
    if (this.ready) return;
    let off = this.ch.bootOffset();
    let seen = '';
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.ch.readFrom(off);
      seen += r.text;
      off = r.next;
      if (seen.includes('@@winpv-guest ready')) {
        this.ready = true;
        this.offset = off;
        return;
      }
      await this.pause(off, 500);
    }
    throw guestError('GUEST_NOT_READY', `guest ${this.guest}: the console agent did not report ready within ${timeoutMs / 1000} s; console tail:\n${seen.slice(-800)}`);
  }

  /** Runs a shell script in the guest; output is what it printed (stdout and stderr). */
  async run(script: string, timeoutMs = 120_000): Promise<ScriptResult> {
    await this.waitReady(this.readyTimeoutMs);
    this.inFlight++;
    try {
      return await this.exec(script, timeoutMs);
    } finally {
      this.inFlight--;
    }
  }

  /** Panics the guest's kernel from inside (`echo c > /proc/sysrq-trigger`) when the console is free.
   *  Returns false, sending nothing, when a command is running (the guest would read the line only
   *  after it) or the agent has not come up yet: the caller then uses `xl sysrq`. */
  async panic(): Promise<boolean> {
    if (!this.ready || this.inFlight > 0) return false;
    await this.ch.send(`p${++this.seq} ${Buffer.from('echo c > /proc/sysrq-trigger\n').toString('base64')}`);
    return true;
  }

  /** Between two reads of the log: until it grows (up to a second) where the channel can tell, else `ms`. */
  private pause(off: number, ms: number): Promise<void> {
    return this.ch.waitPast ? this.ch.waitPast(off, 1000) : this.ch.sleep(ms);
  }

  private async exec(script: string, timeoutMs: number): Promise<ScriptResult> {
    const id = `c${++this.seq}`;
    let off = this.offset!;
    await this.ch.send(`${id} ${Buffer.from(script).toString('base64')}`);
    const begin = `@@winpv-begin ${id}`;
    const endRe = new RegExp(`@@winpv-end ${id} (\\d+)`);
    let seen = '';
    const deadline = Date.now() + timeoutMs;
    for (let polls = 1; Date.now() < deadline; polls++) {
      const r = await this.ch.readFrom(off);
      seen += r.text.replace(/\r/g, '');
      off = r.next;
      const end = endRe.exec(seen);
      if (end) {
        this.offset = off;
        const start = seen.indexOf(begin);
        const body = seen.slice(start < 0 ? 0 : start + begin.length, end.index).replace(/^\n/, '');
        return { status: Number(end[1]), output: body };
      }
      if (polls % 10 === 0 && this.ch.alive && !(await this.ch.alive())) {
        this.offset = off;
        throw guestError('GUEST_GONE', `guest ${this.guest} stopped running during command ${id}; console tail:\n${seen.slice(-800)}`);
      }
      await this.pause(off, 300);
    }
    this.offset = off;
    throw guestError('GUEST_TIMEOUT', `guest ${this.guest}: command ${id} did not finish within ${timeoutMs / 1000} s; console tail:\n${seen.slice(-800)}`);
  }

  async installDrivers(_bundle: DriverBundle): Promise<void> {
    throw new WinpvError('host', 'NOT_SUPPORTED', `guest ${this.guest} is a Linux reference guest: its PV frontends are built into its kernel, there are no Windows drivers to install`);
  }

  async driverStatus(): Promise<DriverStatus> {
    const r = await this.run('for m in xen_blkfront xen_netfront; do grep -q "^$m " /proc/modules && echo "bound $m"; done; true');
    const bound = r.output.split('\n').filter((l) => l.startsWith('bound ')).map((l) => l.slice(6));
    return {
      bound: bound.map((m) => ({ driver: m, version: 'linux', hardwareId: m === 'xen_blkfront' ? 'vbd' : 'vif', service: m })),
      unbound: [],
      unplugged: { disks: true, nics: true },
    };
  }

  /** What the guest's balloon (Linux drivers/xen/balloon.c, its sysfs in xen-balloon.c) says: the
   *  memory the guest holds (current_kb) and the target it read from memory/target (target_kb). */
  async balloonKiB(): Promise<{ currentKiB: number; targetKiB: number } | undefined> {
    const r = await this.run('d=/sys/devices/system/xen_memory/xen_memory0/info; [ -r $d/current_kb ] && echo "balloon $(cat $d/current_kb) $(cat /sys/devices/system/xen_memory/xen_memory0/target_kb)"; true');
    const m = /^balloon (\d+) (\d+)$/m.exec(r.output);
    return m ? { currentKiB: Number(m[1]), targetKiB: Number(m[2]) } : undefined;
  }

  async blockWorkload(w: BlockWorkloadStep): Promise<{ result: BlockResult; raw?: string }> {
    const devid = Number(w.device.split('/')[1]);
    const script = blockScript(w, `/dev/${devidToLinuxDisk(devid)}`);
    const r = await this.run(script, w.durationMs + 120_000);
    const v = parseResultLines(r.output);
    if (r.status !== 0 && v.bytes === undefined) throw guestError('GUEST_WORKLOAD', `guest ${this.guest}: block workload failed (status ${r.status}):\n${r.output.slice(-800)}`);
    const seconds = Math.max((v.centis ?? 0) / 100, 0.01);
    const bytes = (v.readBytes ?? 0) + (v.writeBytes ?? 0);
    return {
      result: {
        kind: 'block', bytes, ios: v.ios ?? 0, readBytes: v.readBytes ?? 0, writeBytes: v.writeBytes ?? 0, seconds,
        // a workload that completed no I/O in its whole duration failed, whatever dd said
        iops: (v.ios ?? 0) / seconds, mbps: bytes / 1e6 / seconds, errors: Math.max(v.errors ?? 0, v.ios ? 0 : 1), verifyErrors: v.verifyErrors ?? 0,
        // dd gives no per-request latency: percentiles are left out rather than invented.
        latencyMs: {},
      },
      raw: r.output,
    };
  }

  async netWorkload(w: NetWorkloadStep, _peer?: GuestAgent): Promise<{ result: NetResult; raw?: string }> {
    const { guest, peer } = netScript(w, { guestAddress: this.ch.guestAddress, peerAddress: this.ch.peer.address });
    const far = this.ch.peer.run(peer, w.durationMs + 60_000);
    const r = await this.run(guest, w.durationMs + 60_000);
    const p = await far;
    const v = parseResultLines(r.output + '\n' + p.stdout);
    if (v.bytes === undefined) throw guestError('GUEST_WORKLOAD', `guest ${this.guest}: network workload failed (status ${r.status}):\n${r.output.slice(-800)}`);
    const seconds = Math.max((v.centis ?? 0) / 100, 0.01);
    return {
      result: { kind: 'net', bytes: v.bytes, seconds, mbps: (v.bytes * 8) / 1e6 / seconds, retransmits: 0, errors: (v.errors ?? 0) + (v.lost ?? 0) },
      raw: r.output + p.stdout,
    };
  }
}
