// A pool without a pool: the XAPI test server plus Windows guest doubles over real SSH, wired so that
// a VM the server boots is answered by one double (its IP), and the double's driver store decides the
// PV driver version the guest metrics report.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POOL_ISOS, startXapiServer, type XapiTestServer } from './xapi-server';
import { fixtureMsi, generateHostKey, startWindowsDouble, type WindowsDouble } from './windows-double';
import { startDom0Double, type Dom0Double } from './dom0-double';
import { XapiHost } from '../../src/hosts/xapi/host';
import { DEFAULT_MAX_INSTALL_REBOOTS, type XapiHostConfig, type XapiPauses } from '../../src/hosts/xapi/config';
import { Secret } from '../../src/model/secret';
import type { TraceEvent, TraceEventInput, TraceSink } from '../../src/model/trace';
import type { GuestShape } from '../../src/model/scenario';
import type { GuestRef } from '../../src/model/host';
import type { Test } from 'tap';
import type { DriverName } from '../../src/model/spec';
import { BUNDLE_MANIFEST_SCHEMA } from '../../src/model/bundle';
import { describeFiles } from '../../src/inf/index';
import { skipUnlessTool } from '../fixtures/build/tools';

/** Local bundles reach pool guests as ISO discs (xorriso writes and reads them). Without xorriso,
 *  outside CI only, the pool's ISO SR takes no new VDIs, so they go over SFTP as on such a pool. */
export const POOL_DISCS = skipUnlessTool('xorriso') === false;

export { rejects } from './errors';

export const XAPI_PW = 'planted-XAPI-pw-4c1e9d';
export const GUEST_PW = 'planted-guest-pw-88b2f0';
export const DOM0_PW = 'planted-dom0-pw-31aa7c';
export const TEMPLATE = 'Windows Server 2022 (winpv base)';
/** The host's pauses against the doubles: a tenth or less of DEFAULT_XAPI_PAUSES (the doubles'
 *  neighbour entries, sshd and frontends are there within tens of ms). A test about a pause sets
 *  DEFAULT_XAPI_PAUSES on its pool's cfg. */
export const TEST_PAUSES: XapiPauses = { discoveryFirstMs: 20, discoveryMaxMs: 200, sshRetryMs: 100, pvDriversMs: 100, diskStateMs: 20 };

export interface Pool {
  srv: XapiTestServer;
  doubles: WindowsDouble[];
  dom0?: Dom0Double;
  byVm: Map<string, WindowsDouble>;
  cfg: XapiHostConfig;
  events: TraceEvent[];
  sink: TraceSink;
  host(): XapiHost;
  /** Puts an ISO into the pool's ISO SR whose disc holds these files (paths with \\). */
  addIso(name: string, files: Map<string, Buffer>): void;
  close(): Promise<void>;
}

/** dom0Password: XenServer's dom0 root password is the pool's root password (the default keeps
 *  them different, so a leak of either is caught apart). dom0 SSH is on by default: a guest without
 *  PV drivers has no guest metrics, so only dom0's neighbour table finds it. */
export async function startPool(opts: { guests?: number; dom0?: boolean; dom0Password?: string; dom0Perl?: boolean; guestAgent?: boolean; trafficDelayMs?: number; hosts?: string[] } = {}): Promise<Pool> {
  // the template has the guest agent installed (docs/real-pool.md): it reports once xeniface is bound
  const templateAgent = opts.guestAgent ?? true;
  const hostKey = generateHostKey();
  const doubles: WindowsDouble[] = [];
  for (let i = 0; i < (opts.guests ?? 2); i++) {
    // Same port on 127.0.0.2, .3, ...: guests differ by address, as on a real network.
    doubles.push(await startWindowsDouble({ name: `win${i + 1}`, host: `127.0.0.${i + 2}`, port: doubles[0]?.port, user: 'Administrator', password: GUEST_PW, hostKey }));
  }
  const byVm = new Map<string, WindowsDouble>();
  const srv = await startXapiServer({
    user: 'root',
    password: XAPI_PW,
    tls: true,
    bootDelayMs: 20,
    ...(opts.trafficDelayMs !== undefined ? { trafficDelayMs: opts.trafficDelayMs } : {}),
    ...(opts.hosts ? { hosts: opts.hosts } : {}),
    hostAddress: '127.0.0.1',
    guest: (vmRef, vm) => {
      let d = byVm.get(vmRef);
      if (!d) {
        d = doubles.find((x) => ![...byVm.values()].includes(x));
        if (!d) throw new Error('more guests booted than doubles');
        // A fresh clone of the template: no PV drivers, nothing staged.
        d.state.store.clear();
        d.state.bound.clear();
        d.state.files.clear();
        d.state.crashDumps.length = 0;
        d.state.verifier = [];
        d.state.agentInstalled = templateAgent;
        d.state.xenService = false;
        d.state.unplugRequest = { disks: false, nics: false };
        d.state.nicSettings.clear();
        d.state.outranked.length = 0;
        d.state.products.clear();
        d.state.xenvifRecorded.clear();
        byVm.set(vmRef, d);
      }
      // xenopsd gives the emulated NIC of each VIF the VIF's MAC, as the PV NIC has it
      const macs = ((vm.VIFs as string[] | undefined) ?? []).map((v) => srv.pool.objects.get(v)?.rec).filter((r) => r !== undefined).sort((x, y) => Number(x.device) - Number(y.device)).map((r) => String(r.MAC).toLowerCase());
      if (macs.length) d.state.macs = macs;
      // QEMU's Xen devices as xenopsd builds them from the VM (platform:device_id, has_vendor_device)
      const platform = (vm.platform as Record<string, string> | undefined)?.device_id ?? '0001';
      d.state.platformDevices = vm.has_vendor_device === true ? ['C000', platform] : [platform];
      const pvVersion = d.boot();
      return { ip: d.host, pvVersion, agent: d.state.agentInstalled && d.state.bound.has('xeniface'), xeniface: d.state.bound.has('xeniface') };
    },
    // dom0's `xl trigger <domid> nmi` reaches the VM's guest
    onNmi: (vmRef) => byVm.get(vmRef)?.nmi(),
    // The disks go back to the snapshot: what Windows had installed and written on C: goes too.
    onRevert: (vmRef) => {
      const d = byVm.get(vmRef);
      if (!d) return;
      d.state.store.clear();
      d.state.bound.clear();
      for (const k of [...d.state.files.keys()]) if (k.startsWith('C:')) d.state.files.delete(k);
      d.state.crashDumps.length = 0;
      d.state.verifier = [];
      d.state.agentInstalled = templateAgent;
      // the registry goes back too: no XEN service, no unplug request, no static NIC configuration
      d.state.xenService = false;
      d.state.unplugRequest = { disks: false, nics: false };
      d.state.nicSettings.clear();
      d.state.outranked.length = 0;
      d.state.products.clear();
      d.state.xenvifRecorded.clear();
    },
  });
  // A guest that bugchecked restarts by itself (CrashControl\AutoReboot): its domain is rebooted.
  for (const d of doubles) {
    d.onRestart = () => {
      const vm = [...byVm].find(([, x]) => x === d)?.[0];
      if (vm) srv.pool.guestReboot(vm);
    };
  }
  const discs = new Map<string, Map<string, Buffer>>();
  /** ISOs a test put into the ISO SR, by VDI. */
  const isoFiles = new Map<string, Map<string, Buffer>>();
  if (!POOL_DISCS) srv.pool.set(srv.pool.isoSr, { allowed_operations: ['scan', 'forget', 'plug', 'unplug'] });
  // A destroyed VM frees its double for the next guest.
  srv.pool.listeners.add((cls, op, ref, rec) => {
    if (cls === 'VM' && op === 'del') byVm.delete(ref);
    // A disk at userdevice 4 or above is xvd<e..>: XENVBD target = its userdevice; Windows sees it
    // while it is attached.
    if (cls === 'VBD' && rec && rec.type === 'Disk' && Number(rec.userdevice) >= 4) {
      const d = byVm.get(String(rec.VM));
      if (rec.currently_attached === true) d?.state.dataDisks.add(Number(rec.userdevice));
      else d?.state.dataDisks.delete(Number(rec.userdevice));
    }
    // The pool's bundle ISOs (winpv-<version>.iso) hold one folder per driver.
    if (cls === 'VBD' && rec && rec.type === 'CD') {
      const d = byVm.get(String(rec.VM));
      // an ISO uploaded by the run (PUT /import_raw_vdi): the guest sees what the image holds
      const uploaded = rec.empty ? undefined : srv.pool.content.get(String(rec.VDI));
      if (uploaded) {
        if (!discs.has(String(rec.VDI))) discs.set(String(rec.VDI), discFiles(uploaded));
        d?.insertDisc(discs.get(String(rec.VDI))!);
        return;
      }
      const named = rec.empty ? undefined : isoFiles.get(String(rec.VDI));
      if (named) {
        d?.insertDisc(named);
        return;
      }
      const iso = rec.empty ? undefined : srv.pool.objects.get(String(rec.VDI))?.rec;
      const version = /^winpv-(.+)\.iso$/.exec(String(iso?.name_label ?? ''))?.[1];
      // ... and the vendor's installer at the root (an MSI is an OLE compound file)
      const disc = new Map(['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface'].map((drv) => [`${drv}\\${drv}.inf`, Buffer.from(infText(drv, version ?? ''))]));
      disc.set('XenPVTools-x64.msi', fixtureMsi({ signed: true }));
      d?.insertDisc(version ? disc : null);
    }
  });
  const dom0 = opts.dom0 !== false ? await startDom0Double(srv.pool, { user: 'root', password: opts.dom0Password ?? DOM0_PW, perl: opts.dom0Perl }) : undefined;
  const events: TraceEvent[] = [];
  let seq = 0;
  const sink: TraceSink = { emit: (e: TraceEventInput) => void events.push({ ...e, seq: seq++, t: 0 } as TraceEvent) };
  const cfg: XapiHostConfig = {
    label: 'xapi://root@pool-master.test',
    url: srv.url,
    user: 'root',
    password: new Secret(XAPI_PW),
    insecure: true,
    template: TEMPLATE,
    dom0: dom0 ? { user: 'root', port: dom0.ssh.port, password: new Secret(opts.dom0Password ?? DOM0_PW), hostKeySha256: dom0.ssh.hostKeyFingerprint } : undefined,
    guest: { user: 'Administrator', port: doubles[0]!.port, password: new Secret(GUEST_PW), hostKeySha256: doubles[0]!.hostKeyFingerprint },
    timeouts: { bootMs: 60_000, shutdownMs: 20_000, taskMs: 60_000 },
    discovery: dom0 ? ['guest-metrics', 'dom0-neighbour'] : ['guest-metrics'],
    maxInstallReboots: DEFAULT_MAX_INSTALL_REBOOTS,
    // the doubles answer at once: the host need not wait as long between tries as on a real pool
    pauses: { ...TEST_PAUSES },
  };
  // every host a test made is closed with the pool: a test that failed half way would otherwise
  // leave its host's event.from loop reconnecting to the closed server, and the file would never end
  const hosts: XapiHost[] = [];
  return {
    srv, doubles, dom0, byVm, cfg, events, sink,
    host: () => {
      const h = new XapiHost(cfg, { runId: `20261124T060000Z-${Math.random().toString(16).slice(2, 8)}` });
      hosts.push(h);
      return h;
    },
    addIso(name, files) {
      isoFiles.set(srv.pool.add('VDI', srv.pool.vdiRecord(srv.pool.isoSr, name, 60 * 2 ** 20, { read_only: true, type: 'user', location: name })), files);
    },
    async close() {
      for (const h of hosts.splice(0)) await withTimeout(h.close().catch(() => undefined), 10_000);
      await dom0?.close();
      await srv.close();
      for (const d of doubles) await d.close();
    },
  };
}

const withTimeout = (p: Promise<unknown>, ms: number) => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
};

/** The files of an ISO image (read with xorriso, as a Windows guest would see the disc). */
export function discFiles(iso: Buffer): Map<string, Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-disc-'));
  try {
    writeFileSync(join(dir, 'disc.iso'), iso);
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', join(dir, 'disc.iso'), '-extract', '/', join(dir, 'root')], { stdio: 'ignore' });
    const out = new Map<string, Buffer>();
    const walk = (rel: string) => {
      for (const e of readdirSync(join(dir, 'root', rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(r);
        else out.set(r.split('/').join('\\'), readFileSync(join(dir, 'root', r)));
      }
    };
    walk('');
    return out;
  } finally {
    execFileSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function infText(d: string, version: string, provider = 'Xen Project'): string {
  return `[Version]\r\nSignature="$Windows NT$"\r\nClass=System\r\nProvider=%Vendor%\r\nDriverVer=09/21/2026,${version}\r\nCatalogFile=${d}.cat\r\n\r\n[Strings]\r\nVendor="${provider}"\r\n`;
}

/** Another vendor's tools disc as its vendor ships one: a folder per driver (`<driver>\\<driver>.inf`,
 *  Provider the vendor), no manifest.json, and its installer at the root. */
export function vendorToolsDisc(provider: string, version: string): Map<string, Buffer> {
  const disc = new Map(['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface'].map((drv) => [`${drv}\\${drv}.inf`, Buffer.from(infText(drv, version, provider))]));
  disc.set('managementagentx64.msi', fixtureMsi({ signed: true, product: { code: '{1D8C0B4E-3F2A-4C6B-9E70-5A1B2C3D4E5F}', name: `${provider} VM Tools`, publisher: provider, version } }));
  return disc;
}

/** A driver bundle on disk: one folder per driver with an INF (DriverVer) and a .sys/.cat; xeniface
 *  too, as the win-pv releases carry it (a pool's guest agent needs it). */
export function makeBundle(version: string, build: number, drivers: DriverName[] = ['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface']): string {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bundle-'));
  for (const d of drivers) {
    mkdirSync(join(dir, d));
    writeFileSync(join(dir, d, `${d}.inf`), infText(d, `${version}.${build}`));
    writeFileSync(join(dir, d, `${d}.sys`), Buffer.from('MZ\x90\x00test driver image'));
    writeFileSync(join(dir, d, `${d}.cat`), Buffer.from('0\x82catalog'));
  }
  return dir;
}

/** A bundle as `winpv package bundle` lays one out: each driver's package in `<driver>/x64/`, a manifest naming them. */
export async function nestedBundle(version: string, drivers: DriverName[] = ['xenbus', 'xenvif', 'xennet', 'xenvbd']): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-nested-'));
  for (const d of drivers) {
    mkdirSync(join(dir, d, 'x64'), { recursive: true });
    writeFileSync(join(dir, d, 'x64', `${d}.inf`), `[Version]\r\nSignature="$Windows NT$"\r\nClass=System\r\nProvider=%Vendor%\r\nDriverVer=09/21/2026,${version}\r\nCatalogFile=${d}.cat\r\n\r\n[Strings]\r\nVendor="Xen Project"\r\n`);
    writeFileSync(join(dir, d, 'x64', `${d}.sys`), Buffer.from(`MZ\x90\x00${d} image`));
    writeFileSync(join(dir, d, 'x64', `${d}.cat`), Buffer.from('0\x82catalog'));
    // a TestSign package carries its test certificate beside the catalog, as win-pv's packages do
    writeFileSync(join(dir, d, 'x64', `${d}.cer`), Buffer.from('0\x82test certificate'));
  }
  writeFileSync(join(dir, 'README.txt'), 'not part of any driver package\n');
  const manifest = {
    schema: BUNDLE_MANIFEST_SCHEMA, version, signMode: 'TestSign', createdAt: '2026-11-24T06:00:00Z',
    drivers: drivers.map((d) => ({ name: d, version, dir: `${d}/x64`, inf: `${d}/x64/${d}.inf` })),
    files: await describeFiles(dir),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

export const shape = (name: string, extra: Partial<GuestShape> = {}): GuestShape => ({
  name, os: 'windows', vcpus: 4, memoryMiB: 4096,
  vbds: [{ vdev: 'hda', sizeMiB: 40960, mode: 'w', backend: {} }, { vdev: 'hdb', sizeMiB: 1024, mode: 'w', backend: {} }],
  vifs: [{ devid: 0, backend: {} }],
  ...extra,
});

/** What the pool holds that is not part of its furniture (dom0, the template and its disk, the ISO). */
export function leftovers(srv: XapiTestServer): string[] {
  const out: string[] = [];
  for (const [ref, o] of srv.pool.objects) {
    const r = o.rec;
    if (o.cls === 'VM' && !r.is_control_domain && ref !== srv.pool.templateRef) out.push(`VM ${String(r.name_label)}`);
    if (o.cls === 'VDI' && !['win2022 base disk', ...POOL_ISOS].includes(String(r.name_label))) out.push(`VDI ${String(r.name_label)}`);
    if ((o.cls === 'VBD' || o.cls === 'VIF') && !srv.pool.objects.has(String(r.VM))) out.push(`${o.cls} of a missing VM`);
  }
  return out;
}

export type PoolOptions = Parameters<typeof startPool>[0];

export interface PoolGuest {
  pool: Pool;
  host: XapiHost;
  guest: GuestRef;
}

/** The set-up the XenAPI host tests share: the test pool (closed when the test ends), `configure`
 *  applied to it (its host config, its doubles' faults), the host opened (seed 1), one guest of `shape` (default `win1`) built
 *  under `tag` and started unless `start: false`. */
export async function poolWithGuest(
  t: Test,
  tag: string,
  o: { pool?: PoolOptions; configure?: (pool: Pool) => void; shape?: GuestShape; start?: boolean; open?: { artifactsDir?: string } } = {},
): Promise<PoolGuest> {
  const pool = await startPool(o.pool);
  t.teardown(() => pool.close());
  o.configure?.(pool);
  const host = pool.host();
  await host.open(pool.sink, { seed: 1, ...o.open });
  const guest = await host.createGuest(o.shape ?? shape('win1'), tag);
  if (o.start !== false) await host.startGuest(guest);
  return { pool, host, guest };
}
