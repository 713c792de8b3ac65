// The PowerShell scripts the Windows agent (agent.ts) runs in the guest, each taking its values as
// the one JSON literal `$p` (powershell.ts).
export const DISK_SCRIPT = `
$d = Get-Disk | Where-Object { $_.Location -match ('Target ' + [int]$p.target + ' ') } | Select-Object -First 1
if (-not $d) { throw ('no disk at XENVBD target ' + [int]$p.target) }
if (-not ($d.IsSystem -or $d.IsBoot)) {
  if ($d.IsOffline) { Set-Disk -Number $d.Number -IsOffline $false }
  if ($d.IsReadOnly) { Set-Disk -Number $d.Number -IsReadOnly $false }
}
[pscustomobject]@{ Number = $d.Number; IsSystem = [bool]$d.IsSystem; IsBoot = [bool]$d.IsBoot } | ConvertTo-Json -Compress
`;

/** CreateFile flags of the verify pass: FILE_FLAG_NO_BUFFERING (0x20000000, the cache manager is
 *  bypassed both ways) | FILE_FLAG_WRITE_THROUGH (0x80000000, a write completes only once on the
 *  disk), as Win32's CreateFileW documents them: the same two things diskspd's -Sh asks for. */
export const VERIFY_FLAGS = 0x20000000 + 0x80000000;

// Writes a seeded pattern block by block on the raw data disk through one handle, closes it, and
// reads it back through a new handle opened the same way; counts blocks that differ. With
// FILE_FLAG_NO_BUFFERING, buffers must be sector-aligned: VirtualAlloc gives page-aligned memory.
export const VERIFY_SCRIPT = `
Add-Type -TypeDefinition @'
using System; using System.IO; using System.Runtime.InteropServices; using Microsoft.Win32.SafeHandles;
public static class WinpvVerify {
  [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
  static extern SafeFileHandle CreateFile(string name, uint access, uint share, IntPtr sa, uint disposition, uint flags, IntPtr template);
  [DllImport("kernel32.dll", SetLastError = true)] static extern IntPtr VirtualAlloc(IntPtr at, UIntPtr size, uint type, uint protect);
  [DllImport("kernel32.dll", SetLastError = true)] static extern bool VirtualFree(IntPtr at, UIntPtr size, uint type);
  [DllImport("kernel32.dll", SetLastError = true)] static extern bool WriteFile(SafeFileHandle h, IntPtr buf, uint n, out uint done, IntPtr ov);
  [DllImport("kernel32.dll", SetLastError = true)] static extern bool ReadFile(SafeFileHandle h, IntPtr buf, uint n, out uint done, IntPtr ov);
  static SafeFileHandle Open(string path, uint flags) {
    var h = CreateFile(path, 0xC0000000, 3, IntPtr.Zero, 3, flags, IntPtr.Zero);
    if (h.IsInvalid) throw new IOException("CreateFile " + path + ": error " + Marshal.GetLastWin32Error());
    return h;
  }
  public static int Run(string path, int blocks, int seed, uint flags) {
    const int size = 1 << 20;
    IntPtr buf = VirtualAlloc(IntPtr.Zero, (UIntPtr)size, 0x3000, 4);
    byte[] want = new byte[size], got = new byte[size];
    int bad = 0; uint n;
    try {
      using (var h = Open(path, flags)) {
        for (int i = 0; i < blocks; i++) {
          new Random(seed + i).NextBytes(want); Marshal.Copy(want, 0, buf, size);
          if (!WriteFile(h, buf, size, out n, IntPtr.Zero) || n != size) throw new IOException("write of block " + i + ": error " + Marshal.GetLastWin32Error());
        }
      }
      using (var h = Open(path, flags)) {
        for (int i = 0; i < blocks; i++) {
          if (!ReadFile(h, buf, size, out n, IntPtr.Zero) || n != size) throw new IOException("read of block " + i + ": error " + Marshal.GetLastWin32Error());
          Marshal.Copy(buf, got, 0, size); new Random(seed + i).NextBytes(want);
          for (int j = 0; j < size; j++) if (want[j] != got[j]) { bad++; break; }
        }
      }
    } finally { VirtualFree(buf, UIntPtr.Zero, 0x8000); }
    return bad;
  }
}
'@
$bad = [WinpvVerify]::Run('\\\\.\\PhysicalDrive' + [int]$p.disk, [int]$p.mib, [int]$p.seed, [uint32]$p.flags)
[pscustomobject]@{ blocks = [int]$p.mib; mismatches = $bad } | ConvertTo-Json -Compress
`;

// The rule is opened for ntttcp.exe only and removed whatever happens (try/finally), so a run
// leaves the guest's firewall as it found it.
export const NTTTCP_SCRIPT = `
New-Item -ItemType Directory -Force -Path 'C:\\winpv' | Out-Null
Remove-Item -Force -ErrorAction SilentlyContinue $p.xml
$exe = (Get-Command ntttcp.exe).Source
New-NetFirewallRule -DisplayName $p.rule -Direction Inbound -Action Allow -Program $exe -Profile Any | Out-Null
try {
  & ntttcp.exe @($p.args) | Out-Null
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  Get-Content -Raw $p.xml
} finally { Remove-NetFirewallRule -DisplayName $p.rule -ErrorAction SilentlyContinue }
`;

export const CD_SCRIPT = `
$d = Get-CimInstance Win32_CDROMDrive | Where-Object { $_.MediaLoaded } | Select-Object -First 1
if (-not $d) { throw 'no CD in the drive' }
[pscustomobject]@{ Letter = $d.Drive.TrimEnd(':') } | ConvertTo-Json -Compress
`;

export const CRASH_SCRIPT = `
$f = @(Get-Item -ErrorAction SilentlyContinue 'C:\\Windows\\MEMORY.DMP') + @(Get-ChildItem -ErrorAction SilentlyContinue 'C:\\Windows\\Minidump\\*.dmp')
ConvertTo-Json -Compress -InputObject @($f | Where-Object { $_ } | Sort-Object LastWriteTime -Descending | Select-Object FullName, Length)
`;
