// The guest's TCP/IP configuration per network interface, and xenvif's copy of it from one interface
// to another, as win-xenvif does it (src/xenvif/settings.c, called from pdo.c PdoParseMibTable when
// the PV NIC's PDO starts):
// - Windows keeps an interface's configuration under its NetCfgInstanceId (a GUID) and its NET_LUID:
//   Tcpip\Parameters\Interfaces\{GUID} (IPv4 DNS servers in NameServer, EnableDHCP, MTU),
//   Tcpip6\Parameters\Interfaces\{GUID} (IPv6 NameServer), NetBT\...\Tcpip_{GUID}, and the persistent
//   addresses in Control\Nsi\{eb004a00-...}\10 (IPv4) and {eb004a01-...}\10 (IPv6), one value per
//   address whose name starts with the LUID as 16 hex digits.
// - SettingsSave records, under HKLM\...\Services\xenvif\Settings\<PDO name>, the NetCfgInstanceId and
//   NetLuid of an interface that aliases the PV NIC (same permanent MAC, up: the emulated NIC before the
//   unplug), unless HasSettings is set.
// - SettingsRestore, at every start of the PV NIC, compares the recorded NetCfgInstanceId with the PV
//   NIC's own; when they differ SettingsCopy copies every value of the interface keys old -> new
//   (SettingsCopyInterface: values are copied, the old key keeps them) and MOVES the NSI addresses from
//   the old LUID to the new (SettingsCopyIpAddressesValue deletes the old value), then records the PV
//   NIC's GUID and LUID as current (SettingsStoreCurrent).
// The PV NIC's device ID is XENVIF\VEN_<prefix>&DEV_NET with its PDO name as instance (xenvif pdo.c
// PdoQueryId): an upgrade or downgrade of the same vendor's drivers keeps the device node and so its
// GUID (no copy is needed), another vendor's prefix makes a new device node with a new GUID.
import type { NicReport } from '../../model/host';

export interface NicConfig {
  ipv4: string[];
  ipv6: string[];
  dns: string[];
  mtu?: number;
}

interface Interface {
  guid: string;
  luid: string;
  mac: string;
  kind: 'emulated' | 'pv';
}

type Values = Map<string, string>;

export class NetworkSettings {
  private readonly ifaces = new Map<string, Interface>();
  /** Tcpip\Parameters\Interfaces\{GUID} and Tcpip6\Parameters\Interfaces\{GUID}, by GUID. */
  private readonly tcpip = new Map<string, Values>();
  private readonly tcpip6 = new Map<string, Values>();
  /** Control\Nsi persistent addresses, IPv4 and IPv6, by LUID. */
  private readonly nsi4 = new Map<string, string[]>();
  private readonly nsi6 = new Map<string, string[]>();
  /** Services\xenvif\Settings\<PDO name>: NetCfgInstanceId and NetLuid. */
  private readonly xenvifSettings = new Map<string, { guid: string; luid: string }>();
  private nextLuid = 1;

  /** The interface of a device node, made when the node is first installed (its GUID and LUID stay with it). */
  iface(kind: 'emulated' | 'pv', node: string, mac: string): Interface {
    const guid = `{${kind}-${node}}`;
    let i = this.ifaces.get(guid);
    if (!i) {
      // NET_LUID: IfType 6 (ethernetCsmacd) in the top 16 bits, a per-type index below
      i = { guid, luid: (0x0006000000000000n + BigInt(this.nextLuid++ << 24)).toString(16).padStart(16, '0'), mac, kind };
      this.ifaces.set(guid, i);
    }
    return i;
  }

  /** An administrator's static configuration of an interface (netsh / Set-NetIPInterface / Set-DnsClientServerAddress). */
  configure(i: Interface, c: NicConfig): void {
    const v4 = this.values(this.tcpip, i.guid);
    v4.set('EnableDHCP', '0');
    v4.set('NameServer', c.dns.filter((d) => !d.includes(':')).join(','));
    if (c.mtu !== undefined) v4.set('MTU', String(c.mtu));
    this.values(this.tcpip6, i.guid).set('NameServer', c.dns.filter((d) => d.includes(':')).join(','));
    this.nsi4.set(i.luid, [...c.ipv4]);
    this.nsi6.set(i.luid, [...c.ipv6]);
  }

  /** What Get-NetIPAddress and friends say of an interface. */
  report(i: Interface, up: boolean): NicReport {
    const v4 = this.tcpip.get(i.guid);
    const dns = [...(v4?.get('NameServer') ?? '').split(','), ...(this.tcpip6.get(i.guid)?.get('NameServer') ?? '').split(',')].filter(Boolean);
    const mtu = v4?.get('MTU');
    return { mac: i.mac, kind: i.kind, up, ipv4: [...(this.nsi4.get(i.luid) ?? [])], ipv6: [...(this.nsi6.get(i.luid) ?? [])], dns, ...(mtu ? { mtu: Number(mtu) } : {}) };
  }

  /** settings.c SettingsSave: record the aliasing interface for the PDO (HasSettings is never set by
   *  the driver itself, so the last one found wins). */
  save(pdo: string, aliasing: Interface): void {
    this.xenvifSettings.set(pdo, { guid: aliasing.guid, luid: aliasing.luid });
  }

  /** settings.c SettingsRestore at the PV NIC's start. `copy: false` is the nic-settings-not-copied
   *  bug: the record is updated but nothing is copied. Returns what was copied, for the guest's log. */
  restore(pdo: string, pv: Interface, copy = true): string | undefined {
    const saved = this.xenvifSettings.get(pdo);
    if (!saved) return undefined;
    let did: string | undefined;
    if (saved.guid !== pv.guid && copy) {
      for (const table of [this.tcpip, this.tcpip6]) {
        const from = table.get(saved.guid);
        if (from) for (const [k, v] of from) this.values(table, pv.guid).set(k, v);
      }
      for (const nsi of [this.nsi4, this.nsi6]) {
        const moved = nsi.get(saved.luid);
        if (moved?.length) {
          nsi.set(pv.luid, [...(nsi.get(pv.luid) ?? []), ...moved]);
          nsi.delete(saved.luid);
        }
      }
      did = `settings copied from ${saved.guid} to ${pv.guid}`;
    }
    this.xenvifSettings.set(pdo, { guid: pv.guid, luid: pv.luid });
    return did;
  }

  private values(table: Map<string, Values>, guid: string): Values {
    let v = table.get(guid);
    if (!v) table.set(guid, (v = new Map()));
    return v;
  }
}
