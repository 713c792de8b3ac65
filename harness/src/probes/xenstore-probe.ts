// The xenstore probe: records every change under a guest's device frontends, their backends and
// the guest's drivers/, control/, data/, attr/ and feature/ paths as `xs` events (value null = removed).
// It takes a snapshot of each subtree when its watch is registered, follows each frontend's
// `backend` key (so a driver-domain backend is watched too), and drops rewrites of the same value.
// Pure layer: everything goes through the host's XenstoreView and the trace sink.
import type { GuestRef, XenstoreView } from '../model/host';
import type { ReadBatch, TraceSink } from '../model/trace';

/** Guest paths watched below the home, besides `device` (feature/hotplug/vif is xenvif's). */
const GUEST_PATHS = ['drivers', 'control', 'data', 'attr', 'feature'] as const;
/** dom0 backend directories watched from the start (others are found through `backend`): blkback's
 *  vbd, tapdisk3's vbd3 (XenServer 7+, XCP-ng 8) and QEMU's qdisk for disks (xenopsd's
 *  supported_vbd_backends), netback's vif. Watching from the start records a backend's Initialising
 *  and InitWait, which the frontend's `backend` key would only lead to later. */
const BACKEND_TYPES = ['vbd', 'vbd3', 'qdisk', 'vif'] as const;

/** Paths the wide watch records: a guest home's watched subtrees, or a dom0 backend of a guest. */
const WIDE = new RegExp(
  `^/local/domain/(?:(\\d+)/(?:device|${GUEST_PATHS.join('|')})|0/backend/(?:${BACKEND_TYPES.join('|')})/(\\d+))(?:/|$)`,
);

export class XenstoreProbe {
  private readonly known = new Map<string, string>();
  private readonly roots = new Set<string>();
  private readonly unwatch: (() => Promise<void>)[] = [];
  private readonly guestOf = new Map<string, string>(); // root -> guest name
  private stopped = false;
  private wide = false;
  private readonly nameOf = new Map<number, string>(); // domid -> guest
  /** Watch events so far, and the count at each path's latest (changedSince). */
  private events = 0;
  private readonly lastEvent = new Map<string, number>();
  /** Reads and watch registrations in flight, so detach can wait for them. */
  private pending: Promise<unknown>[] = [];

  constructor(
    private readonly xs: XenstoreView,
    private readonly sink: TraceSink,
    private readonly inst: string,
    /** off: watches and records nothing (`npm run bench -- lab` measures what the probes cost). */
    private readonly opts: { off?: boolean } = {},
  ) {}

  /** Watches a guest's paths (again after a migration or restore gave it a new domid and home). */
  async attach(guest: GuestRef, home: string): Promise<void> {
    if (this.opts.off) return;
    this.nameOf.set(guest.domid, guest.name);
    // Backends first, then frontends, then guest keys: when attaching to a guest whose devices
    // already exist (after a migration or restore) the backend's state and features are known
    // before the frontend's values are judged against them. All watches are registered before
    // any snapshot, so no change falls between the two.
    const roots = [...BACKEND_TYPES.map((t) => `/local/domain/0/backend/${t}/${guest.domid}`), `${home}/device`, ...GUEST_PATHS.map((p) => `${home}/${p}`)];
    const fresh: string[] = [];
    for (const r of roots) if (await this.watchRoot(r, guest.name, false)) fresh.push(r);
    for (const r of fresh) await this.snapshot(r, guest.name);
  }

  /**
   * Before a step that gives a guest a new domain (migrate, restore, an xl reboot): watch every
   * guest domain's device, drivers, control, data and attr paths and the dom0 backends of every
   * domain, so the new domain's devices are recorded from their creation, not from whenever the
   * runner learns the new domid. Paths of domains not attached yet carry no guest name; the checks
   * map them through the guest events.
   */
  async watchNewDomains(): Promise<void> {
    if (this.wide || this.stopped || this.opts.off) return;
    this.wide = true;
    const off = await this.xs.watch('/local/domain', (path, value, batch) => {
      const m = WIDE.exec(path);
      if (!m) return;
      const domid = Number(m[1] ?? m[2]);
      if (m[1] !== undefined && domid === 0) return;
      this.track(this.onChange(path, value, this.nameOf.get(domid), batch));
    });
    this.unwatch.push(off);
  }

  /** Stops watching; changes after this are not recorded. */
  async detach(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.pending);
    const fns = this.unwatch.splice(0);
    for (const fn of fns.reverse()) {
      try {
        await fn();
      } catch {
        // the host may already be gone; nothing more to record
      }
    }
  }

  /** Registers a watch on root (once); returns whether it is new. */
  private async watchRoot(root: string, guest: string, snapshot = true): Promise<boolean> {
    if (this.roots.has(root) || this.stopped) return false;
    this.roots.add(root);
    this.guestOf.set(root, guest);
    const off = await this.xs.watch(root, (path, value, batch) => this.track(this.onChange(path, value, guest, batch)));
    this.unwatch.push(off);
    if (snapshot) await this.snapshot(root, guest);
    return true;
  }

  private track(p: Promise<unknown>): void {
    this.pending.push(p);
    p.finally(() => {
      const i = this.pending.indexOf(p);
      if (i >= 0) this.pending.splice(i, 1);
    }).catch(() => undefined);
  }

  private async onChange(path: string, value: string | null | undefined, guest: string | undefined, batch?: ReadBatch): Promise<void> {
    if (this.stopped) return;
    this.lastEvent.set(path, ++this.events);
    // with the value in hand the change is recorded at once, in the order the host reported it
    const v = value !== undefined ? value : await this.xs.read(path).catch(() => null);
    this.record(path, v, guest, false, value !== undefined ? batch : undefined);
    if (v !== null && value === undefined) {
      // a host without values may report only the parent of a new subtree: read what is below
      await this.snapshot(path, guest);
    }
  }

  private async snapshot(path: string, guest: string | undefined): Promise<void> {
    if (this.stopped) return;
    const asked = this.events;
    const value = await this.xs.read(path).catch(() => null);
    if (value === null) return;
    // The read and the watch events come by different ways (over SSH: a command and a stream): an
    // answer that arrives after an event for the path, or a removal above it, is older than what the
    // event recorded, and would put an old state back after a new one.
    if (!this.changedSince(path, asked)) this.record(path, value, guest, true);
    const children = await this.xs.directory(path).catch(() => [] as string[]);
    for (const c of [...children].sort()) await this.snapshot(`${path}/${c}`, guest);
  }

  /** Whether a watch event for `path` or one of its ancestors came after the count `since`. */
  private changedSince(path: string, since: number): boolean {
    for (let p = path; p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) if ((this.lastEvent.get(p) ?? 0) > since) return true;
    return false;
  }

  private record(path: string, value: string | null, guest: string | undefined, snapshot = false, batch?: ReadBatch): void {
    if (this.stopped) return;
    if (value === null) {
      let any = false;
      for (const k of [...this.known.keys()]) {
        if (k === path || k.startsWith(path + '/')) {
          this.known.delete(k);
          any = true;
        }
      }
      if (!any) return;
    } else {
      if (this.known.get(path) === value) return;
      this.known.set(path, value);
    }
    this.sink.emit({ ev: 'xs', inst: this.inst, path, value, ...(guest !== undefined ? { guest } : {}), ...(snapshot ? { snapshot: true } : {}), ...(batch !== undefined ? { batch } : {}) });
    // follow a frontend's backend pointer into a backend domain we do not watch yet
    if (value && /\/device\/[a-z0-9]+\/\d+\/backend$/.test(path) && value.startsWith('/local/domain/')) {
      const covered = [...this.roots].some((r) => value === r || value.startsWith(r + '/'));
      if (!covered && guest !== undefined) this.track(this.watchRoot(value, guest));
    }
  }
}
