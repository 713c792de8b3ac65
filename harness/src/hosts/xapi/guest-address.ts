// Finding a Windows guest on the network. VM_guest_metrics.networks exists only once the PV drivers
// and the guest agent run (xapi builds guest metrics from what the agent writes under attr/ and
// data/ in xenstore: ocaml/xapi/xapi_guest_agent.ml), so a driverless template's first boot cannot
// be found that way. Before any Xen driver the guest talks through its emulated NIC, which carries
// its VIF's MAC (xenopsd gives QEMU's emulated NIC the VIF's MAC): dom0's neighbour table maps that
// MAC to the address the guest took by DHCP, once the guest has sent something dom0 saw (see
// docs/real-pool.md for what the template must do for that).
import { createHash } from 'node:crypto';
import type { SshConnection } from '../../remote/ssh';

/** How a guest was found: its agent's report or dom0's neighbour table. */
export type AddressSource = 'guest-metrics' | 'dom0-neighbour';

/** The IPv4 address `ip -4 neigh show` in dom0 lists for a MAC; entries still being resolved
 *  (INCOMPLETE) or that failed (FAILED) have no lladdr and do not count. */
export function parseNeighbours(text: string, mac: string): string | undefined {
  const want = mac.toLowerCase();
  for (const line of text.split('\n')) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\s.*\blladdr\s+([0-9a-f:]{17})\b(.*)$/i.exec(line.trim());
    if (m && m[2]!.toLowerCase() === want && !/\bFAILED\b/.test(m[3]!)) return m[1];
  }
  return undefined;
}

export async function neighbourAddress(dom0: SshConnection, mac: string): Promise<string | undefined> {
  const r = await dom0.exec(['ip', '-4', 'neigh', 'show']);
  return r.code === 0 ? parseNeighbours(r.stdout, mac) : undefined;
}

/** The MAC of a guest's VIF: derived from the run, the scenario instance, the guest and the device,
 *  so that shards and parallel instances on one pool never share one (xapi would otherwise pick a
 *  random one, and two runs' guests on one network could collide). Locally administered (bit 1 of
 *  the first octet set) and unicast (bit 0 clear), as IEEE 802 reserves for such addresses. */
export function guestMac(runId: string, owner: string, devid: number): string {
  const h = createHash('sha256').update(`${runId}\0${owner}\0${devid}`).digest();
  h[0] = (h[0]! & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
