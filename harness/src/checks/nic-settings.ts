// nic-settings: a NIC the scenario gave a static configuration (`set-nic`: IPv4/IPv6 addresses, DNS
// servers, MTU) keeps it on the interface of its MAC in every later driver report in which a PV
// network driver runs it: across upgrades, downgrades, reinstalls and another vendor's drivers
// replaced, as win-xenvif's settings copy (settings.c SettingsSave/SettingsRestore) exists to ensure.
// Reports in which no PV NIC runs (after an uninstall, an install waiting for its reboot) are not
// judged: there the emulated NIC has its own configuration.
import type { CheckResult } from '../model/result';
import type { DriversEvent, NicSetEvent } from '../model/trace';
import type { NicReport } from '../model/host';
import { Findings, skip } from './findings';
import { afterCrash, type InstanceView } from './view';

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((x, i) => x.toLowerCase() === [...b].sort()[i].toLowerCase());

function differences(want: NicSetEvent, nic: NicReport): string[] {
  const out: string[] = [];
  if (!same(nic.ipv4, want.ipv4)) out.push(`IPv4 ${nic.ipv4.join(' ') || 'none'} (set: ${want.ipv4.join(' ') || 'none'})`);
  if (!same(nic.ipv6, want.ipv6)) out.push(`IPv6 ${nic.ipv6.join(' ') || 'none'} (set: ${want.ipv6.join(' ') || 'none'})`);
  if (!same(nic.dns, want.dns)) out.push(`DNS ${nic.dns.join(' ') || 'none'} (set: ${want.dns.join(' ') || 'none'})`);
  if (want.mtu !== undefined && nic.mtu !== want.mtu) out.push(`MTU ${nic.mtu ?? 'default'} (set: ${want.mtu})`);
  return out;
}

const what = (e: DriversEvent) => (e.expected?.removed ? 'the uninstall' : e.expected ? `the install of ${e.expected.version || 'the bundle'}` : 'the driver report');

export function nicSettings(v: InstanceView): CheckResult {
  const f = new Findings('nic-settings');
  const sets = v.events.filter((e): e is NicSetEvent => e.ev === 'nic.set');
  if (!sets.length) return skip('nic-settings', 'the scenario configures no NIC (no set-nic step)');
  let judged = 0;
  for (const e of v.events) {
    if (e.ev !== 'drivers' || !e.nics || afterCrash(v, e.guest, e)) continue;
    if (!e.bound.some((b) => b.driver.toLowerCase() === 'xennet')) continue;
    const latest = new Map<string, NicSetEvent>();
    for (const s of sets) if (s.guest === e.guest && s.seq < e.seq) latest.set(s.mac, s);
    for (const want of latest.values()) {
      judged++;
      const diag = { at: e.t, seq: e.seq, guest: e.guest, dev: want.dev, mac: want.mac };
      const nic = e.nics.find((n) => n.mac.toLowerCase() === want.mac && n.up && n.kind === 'pv');
      if (!nic) {
        f.fail(`${e.guest} ${want.dev} (${want.mac}): after ${what(e)} no PV interface with this MAC is up`, { ...diag, expected: 'the PV NIC up', observed: e.nics });
        continue;
      }
      const diff = differences(want, nic);
      if (diff.length) {
        f.fail(`${e.guest} ${want.dev} (${want.mac}): after ${what(e)} the NIC lost its static configuration: ${diff.join('; ')}`, {
          ...diag, expected: { ipv4: want.ipv4, ipv6: want.ipv6, dns: want.dns, ...(want.mtu !== undefined ? { mtu: want.mtu } : {}) }, observed: nic,
        });
      }
    }
  }
  return f.result(`${sets.length} NIC configuration${sets.length === 1 ? '' : 's'} kept through ${judged} report${judged === 1 ? '' : 's'} with a PV NIC`);
}
