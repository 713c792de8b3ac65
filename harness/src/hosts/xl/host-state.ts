// What the parts of the xl host share (xl-host.ts composes them: lifecycle.ts, devices.ts,
// guest-transport.ts, crash-watch.ts, faults.ts): the connection to dom0 (reconnected once for
// teardown after it dropped), its xenstore and ring views, the trace and the run's guests.
import { randomBytes } from 'node:crypto';
import { hostError, WinpvError } from '../../model/errors';
import type { GuestAgent, GuestRef } from '../../model/host';
import type { DeviceRef, GuestShape, VifShape } from '../../model/scenario';
import type { GuestLifecycle, TraceSink } from '../../model/trace';
import type { LinuxConsoleAgent } from '../../guests/linux/console-agent';
import type { ConsoleFollower } from './console-follow';
import { withRunMac } from '../guest-mac';
import { Dom0, type Dom0Link } from './dom0';
import { XlRings } from './rings';
import { XlXenstore } from './xenstore';
import { parseXlList, type XlListEntry } from './parse';
import type { ExecResult } from '../../remote/ssh';

/** Per-run files in dom0. */
export const RUN_DIR = '/var/lib/winpv/run';
export const BRIDGE = 'xenbr0';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface GuestRecord {
  ref: GuestRef;
  /** The UUID its config gives the domain (xl-config.ts): finds it also without its name. */
  uuid: string;
  inst: string;
  shape: GuestShape;
  files: string[];
  /** Loop devices set up for the guest's disks (released at destroy). */
  loops: string[];
  agent?: GuestAgent;
  linux?: LinuxConsoleAgent;
  /** The reader following its console log in dom0 (console-follow.ts), while one runs. */
  console?: ConsoleFollower;
  consoleOffset: number;
  /** The domain should be running: set once started, cleared before our own shutdown, destroy, save. */
  expectRunning: boolean;
  /** Lifecycle operations of ours under way (the domain goes away and comes back on purpose). */
  busy: number;
  /** Moves when an operation of ours starts or ends: an `xl list` taken across it is stale. */
  epoch: number;
  /** What crash detection reported (once per guest). */
  reported?: 'crashed' | 'halted-unexpectedly';
}

export interface XlHostOptions {
  label: string;
  /** Connects to dom0 (remote/ssh SshConnection.connect for real hosts; a fake in tests). */
  connect: () => Promise<Dom0Link>;
  /** How long a guest told to panic may take to be seen down (default CRASH_DETECT_MS). */
  crashDetectMs?: number;
  /** How long a rebooted guest's new domain may take to appear (default REBUILD_MS). */
  rebuildMs?: number;
  /** Put into every domain name (`winpv-<tag>-<inst>-<guest>`): the lease slot the run holds, so two
   *  runs sharing the host never name a domain alike, and a crashed run's leftovers are destroyed by
   *  the next run that takes its slot. */
  nameTag?: string;
  /** Goes into every VIF's MAC (hosts/guest-mac.ts); a fresh one per host object when not given. */
  runId?: string;
}

export class XlState {
  readonly label: string;
  readonly runId: string;
  trace?: TraceSink;
  readonly guests = new Map<string, GuestRecord>();
  /** dom0's address on the guests' bridge (the far end of network workloads). */
  bridgeAddress = '';
  /** The block hotplug script put into dom0 at open (block-script.ts). */
  blockScript?: string;
  vifScript?: string;
  private conn?: Dom0;
  private xs?: XlXenstore;
  private ringView?: XlRings;
  private dropped?: Error;
  /** The connection dropped at some point of this run (teardown may have reconnected since). */
  droppedOnce = false;

  constructor(
    readonly opts: XlHostOptions,
    /** The devices of a guest (devices.ts), for the ring view. */
    private readonly listDevices: (g: GuestRef) => Promise<DeviceRef[]>,
  ) {
    this.label = opts.label;
    this.runId = opts.runId ?? randomBytes(6).toString('hex');
  }

  /** The VIF as the host creates it: with the MAC of this run, instance, guest and device (the one
   *  decision of every real host, `guest-mac.ts` `withRunMac`), a replaced MAC said in the trace. */
  withRunMac(inst: string, guest: string, vif: VifShape): VifShape {
    return withRunMac(this.runId, `${inst}/${guest}`, vif, (msg) => this.trace?.emit({ ev: 'log', inst, level: 'info', msg }));
  }

  get dom0(): Dom0 {
    if (this.dropped) throw this.dropped;
    if (!this.conn) throw hostError('XL_NOT_OPEN', `host ${this.label} is not open`);
    return this.conn;
  }

  /** The connection as it is (dropped or not), undefined before open and after close. */
  get connection(): Dom0 | undefined {
    return this.conn;
  }

  get connectionDropped(): boolean {
    return this.dropped !== undefined;
  }

  get xenstore(): XlXenstore {
    if (!this.xs) throw hostError('XL_NOT_OPEN', `host ${this.label} is not open`);
    return this.xs;
  }

  get rings(): XlRings {
    if (!this.ringView) throw hostError('XL_NOT_OPEN', `host ${this.label} is not open`);
    return this.ringView;
  }

  async connect(): Promise<void> {
    const link = await this.opts.connect();
    link.onClose((err) => {
      if (err && this.conn?.link === link) {
        this.dropped = err instanceof WinpvError ? err : hostError('SSH_DROPPED', `connection to ${this.label} dropped: ${err.message}`);
        this.droppedOnce = true;
      }
    });
    this.conn = new Dom0(link, this.label);
    this.dropped = undefined;
    this.xs?.stopAll();
    this.ringView?.close();
    this.xs = new XlXenstore(this.conn);
    this.ringView = new XlRings(this.conn, this.listDevices);
  }

  /** Teardown after the connection dropped: one new connection, so what the run created is still removed. */
  async reconnectForTeardown(): Promise<void> {
    if (!this.dropped) return;
    const why = this.dropped;
    try {
      await this.connect();
    } catch {
      throw why;
    }
  }

  async close(): Promise<void> {
    this.xs?.stopAll();
    this.ringView?.close();
    await this.conn?.link.close();
    this.conn = undefined;
  }

  emit(rec: GuestRecord, what: GuestLifecycle, detail?: Record<string, string | number>): void {
    this.trace?.emit({ ev: 'guest', inst: rec.inst, guest: rec.ref.name, domid: rec.ref.domid, what, ...(detail ? { detail } : {}) });
  }

  log(rec: GuestRecord, level: 'info' | 'warn', msg: string): void {
    this.trace?.emit({ ev: 'log', inst: rec.inst, level, msg: `${rec.ref.name}: ${msg}` });
  }

  rec(guest: GuestRef): GuestRecord {
    const r = this.guests.get(guest.handle);
    if (!r) throw hostError('XL_UNKNOWN_GUEST', `guest ${guest.name} (${guest.handle}) was not created by this run`);
    return r;
  }

  async domid(name: string): Promise<number | undefined> {
    const r = await this.dom0.try(['xl', 'domid', name]);
    return r.code === 0 && /^\d+$/.test(r.stdout.trim()) ? Number(r.stdout.trim()) : undefined;
  }

  /** Every domain with this UUID (`xl list -v`), named or not; none when xl cannot list. */
  async domainsOf(uuid: string): Promise<XlListEntry[]> {
    return this.domainsIn(await this.dom0.try(['xl', 'list', '-v']), uuid);
  }

  /** The domains with this UUID in the output of a command that ends with `xl list -v`. */
  domainsIn(r: ExecResult, uuid: string): XlListEntry[] {
    return r.code === 0 ? parseXlList(r.stdout).filter((d) => d.uuid === uuid) : [];
  }

  consoleLog(name: string): string {
    return `/var/log/xen/console/guest-${name}.log`;
  }

  /** The emulated serial port of an HVM guest (QEMU truncates it at every start of the domain). */
  serialLog(name: string): string {
    return `/var/log/xen/winpv-serial-${name}.log`;
  }

  async logSize(name: string): Promise<number> {
    const r = await this.dom0.try(['stat', '-c', '%s', this.consoleLog(name)]);
    return r.code === 0 ? Number(r.stdout.trim()) : 0;
  }

  /** The guest's console as xenconsoled logged it (for diagnostics). */
  async consoleText(guest: GuestRef, maxBytes = 4096): Promise<string> {
    const r = await this.dom0.try(['tail', '-c', String(maxBytes), this.consoleLog(guest.handle)]);
    return r.stdout;
  }

  /** Runs a lifecycle operation of ours: the domain going away during it is not a crash. */
  async ours<T>(rec: GuestRecord, fn: () => Promise<T>): Promise<T> {
    rec.busy++;
    rec.epoch++;
    try {
      return await fn();
    } finally {
      rec.busy--;
      rec.epoch++;
    }
  }
}
