// Live migration on an xl host: `xl migrate` of the guest to this same dom0 (a localhost migration,
// the only kind the harness can follow: its probes watch one dom0's xenstore).
//
// What xl does (tools/xl/xl_migrate.c, Xen 4.17): main_migrate finds the domain (find_domain: an
// unknown name is "<name> is an invalid domain identifier (rc=-6)", exit 1); with `-s ''` the host
// argument is the receiver's whole command, run through `sh -c` (create_migration_child), here
// `xl migrate-receive -p`. migrate_receive builds the new domain under `<name>--incoming`
// (xl_vmcontrol.c create_domain with a migrate fd) while the sender's libxl_domain_suspend copies the
// memory live and then suspends the guest (control/shutdown "suspend", acknowledged by the guest);
// migrate_domain renames the old domain `<name>--migratedaway`, gives the receiver "GO", the receiver
// renames its domain to `<name>` and (without -p) unpauses it, and the sender destroys the old domain.
// A failure before GO resumes the guest in its old domain ("Migration failed, resuming at sender.",
// exit 1); `-D` (keep the domid) is refused for a localhost migration, so the guest always gets a new
// domid, which the runner's probes follow (runner/step-context.ts rebind).
//
// The receiver is told `-p` (stay paused) for xenconsoled's sake: it opens a guest's log when the
// console ring appears, named after the domain as it is then (tools/console/daemon/io.c
// create_console_log: guest-<name>.log), here `<name>--incoming`, and reopens the logs by the
// current names on SIGHUP (handle_log_reload). So the log is reopened before the guest runs again,
// and the console agent (a command in flight across the migration included) keeps reading one log.
import { hostError, unsupportedError } from '../../model/errors';
import type { DestinationOptions, GuestRef, MigrateCapability } from '../../model/host';
import type { XlState } from './host-state';
import type { XlLifecycle } from './lifecycle';

/** The receiver's command for a localhost migration (`xl migrate -s '' <dom> <this>`). */
export const MIGRATE_RECEIVE = 'xl migrate-receive -p';

/** Live migration copies the guest's memory over a pipe: 128 MiB under the lab's TCG took seconds;
 *  the bound is xl save's. */
const MIGRATE_MS = 300_000;

export class XlMigration {
  constructor(
    private readonly st: XlState,
    private readonly lifecycle: XlLifecycle,
  ) {}

  readonly migrate: MigrateCapability = {
    migrate: (guest, target, opts) => this.migrateGuest(guest, target, opts),
  };

  private async migrateGuest(guest: GuestRef, target: string | undefined, opts: DestinationOptions = {}): Promise<GuestRef> {
    const st = this.st;
    const rec = st.rec(guest);
    if (target !== undefined && target !== st.label) {
      throw unsupportedError(`the xl backend migrates within one dom0 (its probes watch one xenstore); '${target}' is another host`);
    }
    const name = rec.ref.handle;
    const old = rec.ref.domid;
    await this.lifecycle.landOn(rec, opts, 'migration', async () => {
      const domid = await st.ours(rec, async () => {
        st.emit(rec, 'suspending', { for: 'migrate' });
        const r = await st.dom0.try(['xl', 'migrate', '-s', '', name, MIGRATE_RECEIVE], { timeoutMs: MIGRATE_MS });
        const said = (r.stderr || r.stdout).trim();
        if (r.code !== 0) {
          // before GO xl resumed the guest in its old domain; after it, xl says the state is undefined.
          // The first error (the cause: libxc's, libxl's) and xl's verdict (the last line) in the message,
          // everything xl said in the trace.
          st.log(rec, 'warn', `xl migrate (exit ${r.code}): ${said.split('\n').join(' | ')}`);
          const lines = said.split('\n');
          const cause = lines.find((l) => /^(xc|libxl): error:|is an invalid domain identifier/.test(l));
          let words = [...new Set([cause, lines[lines.length - 1]].filter((l): l is string => !!l))].join(' | ');
          const back = await st.domid(name);
          if (cause?.includes('Failed to enable logdirty')) words += await this.noShadowHint();
          throw hostError('XL_MIGRATE', `xl migrate of ${name} failed on ${st.label} (exit ${r.code}): ${words}${back === old ? ' (the guest is still in its old domain)' : ''}`);
        }
        if (said) st.log(rec, 'info', `xl migrate: ${said.split('\n').join(' | ')}`);
        const fresh = await st.domid(name);
        if (fresh === undefined || fresh === old) throw hostError('XL_MIGRATE', `xl migrate of ${name} returned but no new domain is listed under its name`);
        // the new domain's console log under its final name, then it runs (see the header)
        const hup = await st.dom0.try(['pkill', '-HUP', '-x', 'xenconsoled']);
        if (hup.code !== 0) st.log(rec, 'warn', `xenconsoled not told to reopen its logs (pkill exit ${hup.code}): the console agent may miss the guest's output`);
        await st.dom0.run(['xl', 'unpause', name]);
        return fresh;
      });
      rec.ref.domid = domid;
      st.emit(rec, 'migrated', { from: old, domid });
      return domid;
    });
    return { ...rec.ref };
  }

  /** A PV guest's log-dirty mode is shadow paging's (xen/arch/x86/mm/shadow/none.c _enable_log_dirty
   *  returns -EOPNOTSUPP without it): a Xen built without CONFIG_SHADOW_PAGING lists no `shadow` in
   *  `xl info`'s virt_caps and can live-migrate HVM guests (HAP's log-dirty) only. Debian's 4.17.7 is one. */
  private async noShadowHint(): Promise<string> {
    const info = await this.st.dom0.try(['xl', 'info']);
    const caps = /^virt_caps\s*:\s*(.*)$/m.exec(info.stdout)?.[1]?.trim();
    return caps !== undefined && !caps.split(/\s+/).includes('shadow')
      ? ` (a PV guest's live migration needs shadow paging for its log-dirty mode; this Xen's virt_caps is '${caps}', built without CONFIG_SHADOW_PAGING: migrate an HVM guest)`
      : '';
  }
}
