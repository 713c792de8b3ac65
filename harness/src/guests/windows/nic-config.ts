// A guest NIC's static IP configuration through Windows' NetTCPIP and DnsClient cmdlets, on the
// adapter whose MAC is the VIF's (Get-NetAdapter's MacAddress, AA-BB-CC-DD-EE-FF): DHCP off
// (Set-NetIPInterface -Dhcp Disabled), the manual addresses replaced (Remove-NetIPAddress,
// New-NetIPAddress -PrefixLength), the DNS servers (Set-DnsClientServerAddress -ServerAddresses) and
// the MTU of both address families (Set-NetIPInterface -NlMtuBytes). Microsoft's NetTCPIP and
// DnsClient module references.
import type { SshConnection } from '../../remote/ssh';
import type { NicReport } from '../../model/host';
import { guestError, runPs, runPsJson } from './powershell';

export interface NicSetting {
  mac: string;
  ipv4: string[];
  ipv6: string[];
  dns: string[];
  mtu?: number;
}

/** 00:16:3e:0a:0b:0c -> 00-16-3E-0A-0B-0C (Get-NetAdapter's form). */
const adapterMac = (mac: string): string => mac.replace(/[:-]/g, '').toUpperCase().replace(/(..)(?!$)/g, '$1-');

const SET_SCRIPT = `
$a = @(Get-NetAdapter | Where-Object { $_.MacAddress -eq $p.mac -and $_.Status -eq 'Up' })
if ($a.Count -ne 1) { [Console]::Error.WriteLine("no single adapter up with MAC $($p.mac) (found $($a.Count))"); exit 3 }
$i = $a[0].ifIndex
Set-NetIPInterface -InterfaceIndex $i -Dhcp Disabled
Get-NetIPAddress -InterfaceIndex $i -PrefixOrigin Manual -ErrorAction SilentlyContinue | Remove-NetIPAddress -Confirm:$false
foreach ($x in $p.addresses) { New-NetIPAddress -InterfaceIndex $i -IPAddress $x.ip -PrefixLength $x.prefix | Out-Null }
Set-DnsClientServerAddress -InterfaceIndex $i -ServerAddresses $p.dns
if ($p.mtu) { foreach ($f in 'IPv4','IPv6') { Set-NetIPInterface -InterfaceIndex $i -AddressFamily $f -NlMtuBytes $p.mtu } }
`;

/** Every adapter: MAC, up, its driver (xennet.sys is the PV NIC), manual addresses, DNS servers, IPv4 MTU. */
const REPORT_SCRIPT = `
$out = @(Get-NetAdapter | ForEach-Object {
  $i = $_.ifIndex
  @{ mac = $_.MacAddress; up = ($_.Status -eq 'Up'); driver = [string]$_.DriverFileName;
     addresses = @(Get-NetIPAddress -InterfaceIndex $i -PrefixOrigin Manual -ErrorAction SilentlyContinue | ForEach-Object { "$($_.IPAddress)/$($_.PrefixLength)" });
     dns = @(Get-DnsClientServerAddress -InterfaceIndex $i -ErrorAction SilentlyContinue | ForEach-Object { $_.ServerAddresses });
     mtu = (Get-NetIPInterface -InterfaceIndex $i -AddressFamily IPv4 -ErrorAction SilentlyContinue).NlMtu }
})
ConvertTo-Json -Compress -Depth 4 $out
`;

function address(a: string, family: 4 | 6): { ip: string; prefix: number } {
  const [ip, len] = a.split('/');
  const prefix = len === undefined ? (family === 4 ? 32 : 128) : Number(len);
  if (!ip || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw guestError('NIC_ADDRESS', `'${a}' is not an IPv${family} address with a prefix length`);
  return { ip, prefix };
}

export async function setNic(ssh: SshConnection, guest: string, nic: NicSetting): Promise<void> {
  const addresses = [...nic.ipv4.map((a) => address(a, 4)), ...nic.ipv6.map((a) => address(a, 6))];
  const r = await runPs(ssh, 'nic-set', { mac: adapterMac(nic.mac), addresses, dns: nic.dns, ...(nic.mtu !== undefined ? { mtu: nic.mtu } : {}) }, SET_SCRIPT, { okCodes: [0, 3] });
  if (r.code === 3) throw guestError('GUEST_NO_NIC', `${guest}: ${r.stderr.trim()}`);
}

export async function readNics(ssh: SshConnection): Promise<NicReport[]> {
  const all = await runPsJson<{ mac: string; up: boolean; driver: string; addresses: string[] | null; dns: string[] | null; mtu?: number | null }[] | null>(ssh, 'nic-report', {}, REPORT_SCRIPT);
  return (all ?? []).map((a) => {
    const addrs = a.addresses ?? [];
    return {
      mac: a.mac.replace(/-/g, ':').toLowerCase(),
      kind: /^xennet\.sys$/i.test(a.driver) ? 'pv' : 'emulated',
      up: a.up,
      ipv4: addrs.filter((x) => !x.includes(':')),
      ipv6: addrs.filter((x) => x.includes(':')),
      dns: a.dns ?? [],
      ...(a.mtu ? { mtu: a.mtu } : {}),
    };
  });
}
