// `winpv doctor --host xapi://...`: a dry run against a pool before a run. Reads only (no VM, VDI or
// task is created): the XenAPI login and API version, the template, the guests' network, the SR the
// guest disks go to and its free space, a free host's memory, the ISO SR for driver bundles, and
// dom0 SSH with the tools the probes and the guest finder use. Each finding names what was looked at
// and, when it is not right, the fix.
import type { XapiRecord } from 'xen-api';
import { isWinpvError } from '../../model/errors';
import { PERL_READER_CHECK } from '../dom0-xenstore';
import { SshConnection } from '../../remote/ssh';
import { dom0Load, dom0LoadProblem } from '../../remote/dom0-load';
import { sshTarget, type XapiHostConfig } from './config';
import { findByNameOrUuid, findTemplate } from './guest-build';
import { findIsoVdi, writableIsoSrs } from './iso-disc';
import { NULL_REF, num, XapiSession } from './session';

export type Verdict = 'ok' | 'warn' | 'fail';
export interface Finding {
  check: 'api' | 'template' | 'network' | 'sr' | 'memory' | 'iso' | 'dom0';
  verdict: Verdict;
  finding: string;
  fix?: string;
}

/** XenServer 7.0 (tapdisk3 everywhere, VM.provision with sr="" meaning the default SR) is API 2.6. */
const MIN_API: [number, number] = [2, 6];
const GiB = 2 ** 30;

export interface DoctorOptions {
  /** Disk space one run needs in the guests' SR (the template's disks once per guest plus data disks). */
  diskBytes: number;
  /** Memory one guest needs on a host. */
  memoryBytes: number;
  /** `iso:<name>` bundles the run installs: each must be in the ISO SR. */
  isos?: readonly string[];
  sshTimeoutMs?: number;
}



export async function doctor(cfg: XapiHostConfig, o: DoctorOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  let s: XapiSession;
  try {
    s = await XapiSession.open({ url: cfg.url, user: cfg.user, password: cfg.password, insecure: cfg.insecure, transport: cfg.transport });
  } catch (e) {
    const msg = (e as Error).message;
    const fix = isWinpvError(e) && e.code === 'XAPI_TLS' ? 'trust the pool\'s CA (NODE_EXTRA_CA_CERTS) or set "insecure": true in the host entry'
      : isWinpvError(e) && e.code === 'XAPI_SESSION_AUTHENTICATION_FAILED' ? 'check the password (passwordEnv / passwordFile / WINPV_XAPI_PASSWORD) and the user of the host URL'
      : `check that ${cfg.url} is the pool master and reachable on port 443`;
    return [{ check: 'api', verdict: 'fail', finding: `cannot log in to XenAPI at ${cfg.url}: ${msg}`, fix }];
  }
  try {
    out.push(api(s));
    const tpl = template(s, cfg, out);
    out.push(network(s, cfg, tpl));
    out.push(sr(s, o));
    out.push(await memory(s, o));
    out.push(iso(s, cfg, o.isos ?? []));
    out.push(await dom0(s, cfg, o));
  } finally {
    await s.close();
  }
  return out;
}

function master(s: XapiSession): XapiRecord | undefined {
  const p = s.all('pool')[0];
  return p ? s.get(p.master as string) : s.all('host')[0];
}

function api(s: XapiSession): Finding {
  const m = master(s);
  const have: [number, number] = [num(m?.API_version_major), num(m?.API_version_minor)];
  const v = `${have[0]}.${have[1]}`;
  if (have[0] > MIN_API[0] || (have[0] === MIN_API[0] && have[1] >= MIN_API[1])) return { check: 'api', verdict: 'ok', finding: `XenAPI ${v} on ${String(m?.name_label ?? '?')}` };
  return { check: 'api', verdict: 'fail', finding: `XenAPI ${v} on ${String(m?.name_label ?? '?')} is older than ${MIN_API.join('.')} (XenServer 7.0)`, fix: 'upgrade the pool to XenServer 7.0+ or XCP-ng 8+' };
}

function template(s: XapiSession, cfg: XapiHostConfig, out: Finding[]): XapiRecord | undefined {
  if (!cfg.template) {
    out.push({ check: 'template', verdict: 'fail', finding: 'no template configured', fix: 'set "template" (name label or UUID) in the host\'s config entry' });
    return undefined;
  }
  let t: XapiRecord;
  try {
    t = findTemplate(s, cfg.template);
  } catch (e) {
    const vm = findByNameOrUuid(s, 'VM', cfg.template);
    const why = vm ? `'${cfg.template}' is a VM, not a template` : (e as Error).message;
    out.push({ check: 'template', verdict: 'fail', finding: why, fix: vm ? `xe vm-param-set uuid=${String(vm.uuid)} is-a-template=true (after installing Windows and OpenSSH in it, docs/real-pool.md)` : 'give the name label or UUID of a Windows template (xe template-list)' });
    return undefined;
  }
  const problems: string[] = [];
  const vbds = ((t.VBDs as string[]) ?? []).map((b) => s.get(b)).filter((b) => b !== undefined);
  const oc = (t.other_config ?? {}) as Record<string, string>;
  if (!vbds.some((b) => b.type === 'Disk' && String(b.userdevice) === '0') && !/device="0"/.test(oc.disks ?? '')) problems.push('no system disk at userdevice 0');
  if (!vbds.some((b) => b.type === 'CD')) problems.push('no CD drive (driver bundles go in as discs)');
  if (!((t.VIFs as string[]) ?? []).length && !cfg.network) problems.push('no VIF and no "network" configured');
  if (String(t.HVM_boot_policy ?? '') === '' && String(t.domain_type ?? '') !== 'hvm') problems.push('not an HVM template (Windows needs HVM)');
  if (problems.length) return (out.push({ check: 'template', verdict: 'fail', finding: `template '${String(t.name_label)}': ${problems.join('; ')}`, fix: 'prepare the template as docs/real-pool.md says' }), t);
  out.push({ check: 'template', verdict: 'ok', finding: `template '${String(t.name_label)}' (${String(t.uuid)})` });
  return t;
}

function network(s: XapiSession, cfg: XapiHostConfig, tpl: XapiRecord | undefined): Finding {
  if (cfg.network) {
    const n = findByNameOrUuid(s, 'network', cfg.network);
    return n ? { check: 'network', verdict: 'ok', finding: `network '${String(n.name_label)}' (bridge ${String(n.bridge)})` }
      : { check: 'network', verdict: 'fail', finding: `no network '${cfg.network}' on the pool`, fix: 'give the name label, bridge or UUID of a pool network (xe network-list) in "network"' };
  }
  const vif = ((tpl?.VIFs as string[]) ?? []).map((v) => s.get(v)).find(Boolean);
  const n = vif ? s.get(vif.network as string) : s.all('network').find((x) => x.bridge === 'xenbr0');
  return n ? { check: 'network', verdict: 'ok', finding: `network '${String(n.name_label)}' (${vif ? 'the template\'s' : 'xenbr0'})` }
    : { check: 'network', verdict: 'fail', finding: 'no network for the guests', fix: 'set "network" in the host\'s config entry' };
}

function sr(s: XapiSession, o: DoctorOptions): Finding {
  const p = s.all('pool')[0];
  const sr = p && p.default_SR !== NULL_REF ? s.get(p.default_SR as string) : undefined;
  if (!sr) return { check: 'sr', verdict: 'fail', finding: 'the pool has no default SR (guest disks go there)', fix: 'xe pool-param-set uuid=<pool> default-SR=<sr-uuid>' };
  const free = num(sr.physical_size) - num(sr.physical_utilisation);
  const need = o.diskBytes;
  const f = `SR '${String(sr.name_label)}': ${(free / GiB).toFixed(1)} GiB free, a run needs ${(need / GiB).toFixed(1)} GiB`;
  if (free < need) return { check: 'sr', verdict: 'fail', finding: f, fix: `free space in SR '${String(sr.name_label)}' (xe vdi-list sr-uuid=${String(sr.uuid)}; winpv xapi gc --older-than 0 for what crashed runs left) or make a larger SR the pool's default` };
  return { check: 'sr', verdict: 'ok', finding: f };
}

/** host.compute_free_memory: what xapi itself would offer a new VM on that host (datamodel host). */
async function memory(s: XapiSession, o: DoctorOptions): Promise<Finding> {
  const hosts = s.all('host').filter((h) => h.enabled !== false);
  // host.enabled false: maintenance mode or host.disable; xapi starts no VM there (HOST_DISABLED)
  if (!hosts.length) return { check: 'memory', verdict: 'fail', finding: 'every host of the pool is disabled (maintenance mode)', fix: 'xe host-enable on a host, or leave maintenance mode' };
  let best = 0;
  for (const h of hosts) best = Math.max(best, num(await s.call('host.compute_free_memory', h.$ref)));
  const f = `most free memory on a host: ${(best / GiB).toFixed(1)} GiB, a guest needs ${(o.memoryBytes / GiB).toFixed(1)} GiB`;
  if (best < o.memoryBytes) return { check: 'memory', verdict: 'fail', finding: f, fix: 'shut down other VMs, or give the guests less memory (the scenario\'s memory)' };
  return { check: 'memory', verdict: 'ok', finding: f };
}

function iso(s: XapiSession, cfg: XapiHostConfig, wanted: readonly string[]): Finding {
  const missing = wanted.filter((name) => !findIsoVdi(s, name, cfg.isoSr));
  if (missing.length) return { check: 'iso', verdict: 'fail', finding: `no ISO ${missing.map((n) => `'${n}'`).join(', ')} in ${cfg.isoSr ? `ISO SR '${cfg.isoSr}'` : 'any ISO SR'} (the run installs iso:${missing[0]})`, fix: 'put the ISO into the ISO SR (and xe sr-scan it), or name the right SR in "isoSr"' };
  const srs = writableIsoSrs(s, { named: cfg.isoSr });
  if (cfg.isoSr && !srs.length) return { check: 'iso', verdict: 'fail', finding: `no ISO SR '${cfg.isoSr}' on the pool`, fix: 'create one (xe sr-create type=iso content-type=iso ...) or fix "isoSr"' };
  if (!srs.length) return { check: 'iso', verdict: 'warn', finding: 'no writable ISO SR: local bundles will be copied into guests over SFTP, iso:<name> bundles cannot be used', fix: 'create a writable ISO SR (NFS/SMB, or a local directory ISO SR) and name it in "isoSr"' };
  const sr = srs[0]!;
  const isos = ((sr.VDIs as string[]) ?? []).map((v) => s.get(v)).filter((v) => v && /\.iso$/i.test(String(v.name_label)));
  return { check: 'iso', verdict: 'ok', finding: `ISO SR '${String(sr.name_label)}' (${isos.length} ISO${isos.length === 1 ? '' : 's'}: ${isos.map((v) => String(v!.name_label)).slice(0, 5).join(', ') || 'none'})` };
}

/** dom0 SSH to the pool master, and the tools the harness runs there. */
async function dom0(s: XapiSession, cfg: XapiHostConfig, o: DoctorOptions): Promise<Finding> {
  if (!cfg.dom0) return { check: 'dom0', verdict: 'warn', finding: 'dom0 SSH is off (dom0Ssh: false): no xenstore/ring probes, and a guest without PV drivers cannot be found', fix: 'turn dom0Ssh on (root, the pool password or an identity file)' };
  const address = String(master(s)?.address ?? new URL(cfg.url).hostname);
  let c: SshConnection;
  try {
    c = await SshConnection.connect(sshTarget(cfg.dom0, address), { timeoutMs: o.sshTimeoutMs ?? 20_000 });
  } catch (e) {
    return { check: 'dom0', verdict: 'fail', finding: `cannot SSH to dom0 root@${address}: ${(e as Error).message}`, fix: 'check dom0Port, the identity file or password, and that dom0\'s host key is in knownHostsFile (ssh-keyscan)' };
  }
  try {
    const missing: string[] = [];
    for (const [tool, argv] of [['xenstore-read', ['xenstore-read', '/local/domain/0/name']], ['ip', ['ip', '-4', 'neigh', 'show']]] as const) {
      const r = await c.exec(argv);
      if (r.code !== 0) missing.push(`${tool} (exit ${r.code})`);
    }
    if (missing.length) return { check: 'dom0', verdict: 'fail', finding: `dom0 root@${address}: ${missing.join(', ')} failed`, fix: 'winpv needs xenstore-* and iproute2 in dom0 (both are part of XenServer / XCP-ng dom0)' };
    const load = await dom0Load((argv) => c.exec(argv));
    const busy = dom0LoadProblem(`dom0 root@${address}`, load);
    if (busy) return { check: 'dom0', verdict: 'fail', finding: busy, fix: 'wait for what keeps dom0 busy (other runs, a storage rescan) to finish, or give dom0 more vCPUs' };
    // the dhcp-leases way of finding guests reads this file in dom0 (guest-address.ts)
    if (cfg.discovery.includes('dhcp-leases') && cfg.dhcpLeaseFile) {
      const r = await c.exec(['cat', cfg.dhcpLeaseFile]);
      if (r.code !== 0) return { check: 'dom0', verdict: 'fail', finding: `dom0 root@${address}: the DHCP lease file ${cfg.dhcpLeaseFile} cannot be read (exit ${r.code}): the dhcp-leases way of finding guests would find none`, fix: 'run the test network\'s DHCP server (dnsmasq) in dom0 and name its lease file in "dhcpLeaseFile", or drop dhcp-leases from "guestDiscovery"' };
    }
    const found = `dom0 root@${address}: SSH, xenstore-read, ip neigh${cfg.discovery.includes('dhcp-leases') ? `, ${cfg.dhcpLeaseFile}` : ''}`;
    // the xenstore probe's watch reader (dom0-xenstore.ts): without Perl, one xenstore-read per event
    if ((await c.exec(['sh', '-c', PERL_READER_CHECK])).code !== 0) {
      return { check: 'dom0', verdict: 'warn', finding: `${found}; no Perl reader for xenstore watches (perl with IO::Socket::UNIX and xenstored's socket): each change is read by a xenstore-read of its own, so a frontend's quick Initialised -> Connected can be recorded as one change`, fix: 'install perl in dom0 (yum install perl), or accept coarser xenstore traces' };
    }
    return { check: 'dom0', verdict: 'ok', finding: `${found}, the Perl xenstore watch reader` };
  } finally {
    await c.close().catch(() => undefined);
  }
}
