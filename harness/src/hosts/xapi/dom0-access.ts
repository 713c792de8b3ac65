// dom0 of a XenAPI pool over SSH: one connection per pool member, to the member running the run's
// guests (the pool master when none runs), and what goes through it: the xenstore and ring views
// of the probes (dom0.ts) and ntttcp-for-linux as the far end of a guest's NTttcp.
import type { RingId, RingIndices, RingView, XenstoreView } from '../../model/host';
import { hostError, WinpvError } from '../../model/errors';
import { SshConnection } from '../../remote/ssh';
import { sshTarget } from './config';
import { NULL_REF } from './session';
import { Dom0Rings, Dom0Xenstore } from './dom0';
import type { XapiState } from './host-state';

export class Dom0Access {
  /** dom0's xenstore (usable only with dom0 SSH; `xenstore` is the view the host offers). */
  readonly xs: Dom0Xenstore;
  readonly xenstore: XenstoreView;
  readonly rings: RingView;
  private readonly ringReader: Dom0Rings;
  private readonly conns = new Map<string, Promise<SshConnection>>();

  constructor(private readonly st: XapiState) {
    const on = st.cfg.dom0 !== undefined;
    this.xs = new Dom0Xenstore(() => this.connection());
    const rings = new Dom0Rings(
      () => this.connection(),
      async (domid) => (await this.xs.directory(`/local/domain/${domid}/device/vif`)).filter((d) => /^\d+$/.test(d)).map(Number),
    );
    this.ringReader = rings;
    this.xenstore = on ? this.xs : noDom0Xenstore();
    this.rings = {
      rings: async (g) => (on ? rings.rings(g) : []),
      sample: async (g, r: RingId): Promise<RingIndices | null> => (on ? rings.sample(g, r) : null),
      backendStats: async (g, dev) => (on ? rings.stats(g.domid, dev) : null),
    };
  }

  /** Address of the pool member running the guests (the pool master when none runs). */
  address(): string {
    const s = this.st.s;
    const running = [...this.st.guests.values()].map((g) => this.st.vm(g)).find((vm) => vm && vm.resident_on !== NULL_REF);
    const hostRef = (running?.resident_on as string | undefined) ?? (s.all('pool')[0]?.master as string);
    return (s.get(hostRef)?.address as string | undefined) ?? new URL(this.st.cfg.url).hostname;
  }

  /** dom0 of the host running the guests (the pool master when none runs). */
  connection(): Promise<SshConnection> {
    const cred = this.st.cfg.dom0;
    if (!cred) return Promise.reject(hostError('XAPI_NO_DOM0', 'dom0 SSH is switched off for this host (dom0Ssh: false)'));
    const address = this.address();
    let c = this.conns.get(address);
    if (!c) {
      c = SshConnection.connect(sshTarget(cred, address), { timeoutMs: 20_000 });
      c.catch(() => this.conns.delete(address));
      this.conns.set(address, c);
    }
    return c;
  }

  /** ntttcp-for-linux in dom0 as the far end of a guest's NTttcp (-N: no sync port handshake). */
  async ntttcp(role: 'r' | 's', o: { threads: number; ip: string; seconds: number }): Promise<void> {
    const r = await (await this.connection()).exec(['ntttcp', `-${role}`, '-N', '-m', `${o.threads},*,${o.ip}`, '-t', String(o.seconds)], { timeoutMs: (o.seconds + 120) * 1000 });
    if (r.code === 127) throw new WinpvError('input', 'DOM0_NTTTCP_MISSING', `ntttcp (ntttcp-for-linux) is not installed in dom0 of ${this.address()}: install it there, or give the network workload a peer guest`);
    if (r.code !== 0) throw new WinpvError('input', 'DOM0_NTTTCP_FAILED', `ntttcp in dom0 failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }

  async close(): Promise<void> {
    this.xs.close();
    this.ringReader.close();
    for (const c of this.conns.values()) await c.then((x) => x.close()).catch(() => undefined);
    this.conns.clear();
  }
}

function noDom0Xenstore(): XenstoreView {
  const no = (): never => {
    throw new WinpvError('host', 'XAPI_NO_DOM0', 'this XenAPI host has dom0 SSH switched off (dom0Ssh: false): no xenstore view');
  };
  return { read: async () => no(), directory: async () => no(), watch: async () => no(), write: async () => no(), rm: async () => no() };
}
