// Finding a Windows guest on the network. VM_guest_metrics.networks exists only once the PV drivers
// and the guest agent run: xapi fills it from attr/vif/<devid>/ipv4/<n>, which only the guest agent
// writes (ocaml/xapi/xapi_guest_agent.ml reads attr/ and data/; the agents of xe-guest-utilities and
// xen-guest-agent publish the addresses there), so a driverless template's first boot cannot be
// found that way. Before any Xen driver the guest talks through its emulated NIC, which carries its
// VIF's MAC (xenopsd gives QEMU's emulated NIC the VIF's MAC), and two ways see it from dom0:
// - dom0's neighbour table maps that MAC to the address the guest took by DHCP, once the guest has
//   sent something dom0 saw (an entry the kernel confirmed: REACHABLE, DELAY, PROBE or PERMANENT; a
//   STALE one may be the previous boot's, a FAILED or INCOMPLETE one has no address);
// - the test network's DHCP server, when it runs in dom0 (dnsmasq on the guests' bridge): its lease
//   file names the address leased to that MAC as soon as the guest asked for one.
// The host entry says which ways are tried, in order (`guestDiscovery`); docs/real-pool.md says what
// the template and the network must provide for each.
import type { SshConnection } from '../../remote/ssh';

/** The ways a guest can be found, as the host entry names them. */
export const DISCOVERY_WAYS = ['guest-metrics', 'dom0-neighbour', 'dhcp-leases'] as const;
export type AddressSource = (typeof DISCOVERY_WAYS)[number];

/** How each way is said in the trace and in errors. */
export const DISCOVERY_MEANS: Record<AddressSource, string> = {
  'guest-metrics': 'its guest agent (VM_guest_metrics.networks)',
  'dom0-neighbour': "dom0's neighbour table",
  'dhcp-leases': "the test network's DHCP leases in dom0",
};

/** Neighbour states in which the kernel has confirmed the MAC recently (ip-neighbour(8)). */
const CONFIRMED = /\b(REACHABLE|DELAY|PROBE|PERMANENT)\b/;

/** The IPv4 address `ip -4 neigh show` in dom0 lists for a MAC in a confirmed state; entries still
 *  being resolved (INCOMPLETE), failed (FAILED) or unconfirmed since (STALE, possibly from the
 *  guest's previous boot, with its old address) do not count. */
export function parseNeighbours(text: string, mac: string): string | undefined {
  const want = mac.toLowerCase();
  for (const line of text.split('\n')) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\s.*\blladdr\s+([0-9a-f:]{17})\b(.*)$/i.exec(line.trim());
    if (m && m[2]!.toLowerCase() === want && CONFIRMED.test(m[3]!)) return m[1];
  }
  return undefined;
}

export async function neighbourAddress(dom0: SshConnection, mac: string): Promise<string | undefined> {
  const r = await dom0.exec(['ip', '-4', 'neigh', 'show']);
  return r.code === 0 ? parseNeighbours(r.stdout, mac) : undefined;
}

/**
 * The address a DHCP lease file leases to a MAC: dnsmasq's (a line per lease: `<expiry> <mac> <ip>
 * <hostname> <client-id>`, expiry 0 = infinite; dnsmasq src/lease.c) or ISC dhcpd's dhcpd.leases
 * (`lease <ip> { ... hardware ethernet <mac>; binding state active; ... }`, later entries
 * superseding earlier ones; dhcpd.leases(5)). Expired and inactive leases do not count; of several,
 * the last one in the file wins (the newest).
 */
export function parseLeases(text: string, mac: string, nowS: number): string | undefined {
  const want = mac.toLowerCase();
  let found: string | undefined;
  if (/^\s*lease\s+\d/m.test(text)) {
    for (const m of text.matchAll(/lease\s+(\d+\.\d+\.\d+\.\d+)\s*\{([^}]*)\}/g)) {
      const body = m[2]!;
      const hw = /hardware\s+ethernet\s+([0-9a-f:]{17})\s*;/i.exec(body)?.[1]?.toLowerCase();
      const state = /(?:^|\s)binding\s+state\s+(\w+)\s*;/.exec(body)?.[1];
      if (hw === want) found = state === undefined || state === 'active' ? m[1] : found === m[1] ? undefined : found;
    }
    return found;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || !/^\d+$/.test(f[0]!) || f[1]!.toLowerCase() !== want || !/^\d+\.\d+\.\d+\.\d+$/.test(f[2]!)) continue;
    const expiry = Number(f[0]);
    if (expiry === 0 || expiry > nowS) found = f[2];
  }
  return found;
}

export async function leaseAddress(dom0: SshConnection, file: string, mac: string): Promise<string | undefined> {
  const r = await dom0.exec(['cat', file]);
  return r.code === 0 ? parseLeases(r.stdout, mac, Math.floor(Date.now() / 1000)) : undefined;
}
