// Crash detection on an xl host: xenstored fires @releaseDomain when a domain shuts down for any
// reason (crash included) or dies; each event is one `xl list` (a sweep) compared with what the run
// expects of each guest, and so is every powerState asked for.
import type { GuestPowerState, GuestRef } from '../../model/host';
import { parseXlList, powerStateOf, type XlListEntry } from './parse';
import type { GuestRecord, XlState } from './host-state';

export class CrashWatch {
  private sweeping?: Promise<void>;
  private sweepAgain = false;

  constructor(private readonly st: XlState) {}

  /** Watches @releaseDomain (from open on). */
  async start(): Promise<void> {
    await this.st.xenstore.watch('@releaseDomain', () => this.scheduleSweep());
  }

  async powerState(guest: GuestRef): Promise<GuestPowerState> {
    const epoch = this.st.guests.get(guest.handle)?.epoch;
    const r = await this.st.dom0.try(['xl', 'list', guest.handle]);
    const entry = r.code === 0 ? parseXlList(r.stdout).find((e) => e.name === guest.handle) : undefined;
    const rec = this.st.guests.get(guest.handle);
    if (rec && rec.epoch === epoch) await this.observe(rec, entry);
    return powerStateOf(entry?.state);
  }

  /** One sweep at a time; events arriving during it ask for one more. */
  private scheduleSweep(): void {
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = this.sweep()
      .catch(() => undefined)
      .finally(() => {
        this.sweeping = undefined;
        if (this.sweepAgain) {
          this.sweepAgain = false;
          this.scheduleSweep();
        }
      });
  }

  /** Crash detection: one `xl list`, each guest of the run compared with what the run expects of it. */
  async sweep(): Promise<void> {
    const guests = [...this.st.guests.values()];
    if (!guests.some((r) => r.expectRunning && r.busy === 0 && !r.reported)) return;
    const epochs = new Map(guests.map((rec) => [rec, rec.epoch]));
    const r = await this.st.dom0.try(['xl', 'list']);
    if (r.code !== 0) return;
    const listed = new Map(parseXlList(r.stdout).map((e) => [e.name, e]));
    // a guest one of our operations touched meanwhile is judged by the next sweep, not this listing
    for (const rec of this.st.guests.values()) if (epochs.get(rec) === rec.epoch) await this.observe(rec, listed.get(rec.ref.handle));
  }

  /** Reports a guest that crashed (on_crash="preserve" keeps it listed with the `c` flag), went away or
   *  came back under a new domid on its own, once, with the end of its console (the panic message). */
  private async observe(rec: GuestRecord, entry: XlListEntry | undefined): Promise<void> {
    if (!rec.expectRunning || rec.busy > 0 || rec.reported) return;
    const state = powerStateOf(entry?.state);
    if (state === 'crashed' || state === 'halted' || state === 'gone') {
      const what = (rec.reported = state === 'crashed' ? 'crashed' : 'halted-unexpectedly');
      this.st.emit(rec, what, entry ? { flags: entry.state } : { listed: 'no' });
      await this.logLastWords(rec, what);
    } else if (entry && entry.domid !== rec.ref.domid) {
      const old = rec.ref.domid;
      rec.ref.domid = entry.domid;
      this.st.emit(rec, 'rebooted', { unexpected: 1, from: old, domid: entry.domid });
    }
  }

  /** The end of a fallen guest's console, and of an HVM guest's serial port, into the trace. */
  private async logLastWords(rec: GuestRecord, what: string): Promise<void> {
    const text = await this.st.consoleText(rec.ref, 2048).catch(() => '');
    if (text) this.st.trace?.emit({ ev: 'log', inst: rec.inst, level: 'error', msg: `${rec.ref.name} ${what}; the end of its console:\n${text}` });
    if (rec.shape.image !== undefined) {
      // An HVM guest may halt before its PV console exists (BIOS, boot loader, early kernel).
      const serial = await this.st.dom0.try(['tail', '-c', '2048', this.st.serialLog(rec.ref.handle)]).catch(() => undefined);
      if (serial?.stdout) this.st.trace?.emit({ ev: 'log', inst: rec.inst, level: 'error', msg: `${rec.ref.name} ${what}; the end of its serial port:\n${serial.stdout}` });
    }
  }
}
