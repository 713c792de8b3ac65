// Reaching an xl host's guests: Linux guests (PV, or HVM from the lab's disk) run the lab's console
// agent, spoken to through the guest's console pty and xenconsoled's log (guests/linux/).
import { hostError, WinpvError } from '../../model/errors';
import type { GuestAgent, GuestPowerState, GuestRef } from '../../model/host';
import { LinuxConsoleAgent, type ConsoleChannel } from '../../guests/linux/console-agent';
import { sleep, type GuestRecord, type XlState } from './host-state';
import type { XlDevices } from './devices';
import { ConsoleFollower } from './console-follow';

/** How often a guest's console log is read when no follower streams it. */
const POLL_MS = 300;

export class XlGuestTransport {
  constructor(
    private readonly st: XlState,
    private readonly devices: XlDevices,
    private readonly powerState: (g: GuestRef) => Promise<GuestPowerState>,
  ) {}

  agent(guest: GuestRef): GuestAgent {
    const rec = this.st.rec(guest);
    // Linux guests, PV or HVM from an image (the lab's HVM Linux disk), run the lab's console agent.
    // A guest error: the scenario fails with the reason and the run goes on (the host is fine).
    if (rec.shape.os !== 'linux') {
      throw new WinpvError('guest', 'NOT_SUPPORTED', `guest ${guest.name}: the xl backend drives Linux guests running the lab's console agent; a Windows guest agent for xl hosts is not built yet`);
    }
    if (!rec.agent) {
      const linux = this.linuxAgent(rec);
      // After every workload the backends' counters go into the trace (blkback statistics/, netback rings),
      // and the guest's memory when it runs below its static maximum (the balloon check judges it).
      const withStats = <T>(p: Promise<T>): Promise<T> => p.finally(async () => {
        await this.devices.emitBackendStats(rec).catch(() => undefined);
        await this.emitMemory(rec).catch(() => undefined);
      });
      rec.agent = {
        installDrivers: (b) => linux.installDrivers(b),
        driverStatus: () => linux.driverStatus(),
        blockWorkload: (w) => withStats(linux.blockWorkload(w)),
        netWorkload: (w, peer) => withStats(linux.netWorkload(w, peer)),
      };
    }
    return rec.agent;
  }

  /** A `memory` event for a guest started with a target below its static maximum: the target and static
   *  maximum from its xenstore `memory/` keys (what the toolstack set), the memory it holds as its own
   *  balloon reports it (balloonKiB: current_kb, the pages the guest has not given back). */
  async emitMemory(rec: GuestRecord): Promise<void> {
    if (rec.shape.memoryTargetMiB === undefined || !rec.linux) return;
    const home = `/local/domain/${rec.ref.domid}/memory`;
    const [target, staticMax] = await Promise.all([this.st.xenstore.read(`${home}/target`), this.st.xenstore.read(`${home}/static-max`)]);
    const held = await rec.linux.balloonKiB();
    if (!target || !staticMax || !held) return;
    this.st.trace?.emit({ ev: 'memory', inst: rec.inst, guest: rec.ref.name, domid: rec.ref.domid, targetKiB: Number(target), staticMaxKiB: Number(staticMax), actualKiB: held.currentKiB });
  }

  /** The console agent of a Linux reference guest (one per boot of the guest). */
  linuxAgent(rec: GuestRecord): LinuxConsoleAgent {
    return (rec.linux ??= new LinuxConsoleAgent(rec.ref.name, this.consoleChannel(rec)));
  }

  /** The guest's console follower covering `offset`: the running one, or a new one from there when
   *  dom0 has a session for it; undefined when the caller polls instead. */
  private follower(rec: GuestRecord, log: string, offset: number): ConsoleFollower | undefined {
    const f = rec.console;
    if (f && !f.ended) return f.base <= offset ? f : undefined;
    rec.console = ConsoleFollower.start(offset, log, (argv, onLine) => this.st.dom0.follow(argv, onLine));
    return rec.console;
  }

  private consoleChannel(rec: GuestRecord): ConsoleChannel {
    const st = this.st;
    const log = st.consoleLog(rec.ref.handle);
    const prefix = st.bridgeAddress.split('.').slice(0, 3).join('.');
    // xenconsoled gives a domain one pty for its life: read once per domain, not per line sent
    let pty: { domid: number; tty: string } | undefined;
    return {
      send: async (line) => {
        const domid = rec.ref.domid;
        if (pty?.domid !== domid) {
          const tty = (await st.xenstore.read(`/local/domain/${domid}/console/tty`)) ?? '';
          if (!/^\/dev\/pts\/\d+$/.test(tty)) throw hostError('XL_CONSOLE', `guest ${rec.ref.name} has no console pty (${tty || 'none'})`);
          pty = { domid, tty };
        }
        // through the console's follower when it runs (a write on its open session), else a command
        const viaFollower = rec.console?.write(pty.tty, line);
        if (viaFollower) return viaFollower;
        await st.dom0.run(['sh', '-c', 'printf "%s\\n" "$1" > "$2"', 'sh', line, pty.tty]);
      },
      readFrom: async (offset) => {
        const got = this.follower(rec, log, offset)?.readFrom(offset);
        if (got) return got;
        const r = await st.dom0.try(['tail', '-c', `+${offset + 1}`, log]);
        const text = r.code === 0 ? r.stdout : '';
        return { text, next: offset + Buffer.byteLength(text) };
      },
      waitPast: (offset, ms) => this.follower(rec, log, offset)?.waitPast(offset, ms) ?? sleep(Math.min(ms, POLL_MS)),
      bootOffset: () => rec.consoleOffset,
      peer: {
        address: st.bridgeAddress,
        run: async (script, timeoutMs) => {
          const r = await st.dom0.try(['sh', '-c', script], { timeoutMs });
          return { code: r.code, stdout: r.stdout };
        },
      },
      guestAddress: `${prefix}.${100 + (rec.ref.domid % 150)}`,
      alive: async () => (await this.powerState(rec.ref)) === 'running',
      sleep,
    };
  }
}
