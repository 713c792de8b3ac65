// Bugchecking a Windows guest on purpose, and the settings that decide whether it leaves a dump and
// comes back by itself: HKLM\SYSTEM\CurrentControlSet\Control\CrashControl (Microsoft, "Overview of
// memory dump file options for Windows": CrashDumpEnabled 0 none, 1 complete, 2 kernel, 3 small,
// 7 automatic; AutoReboot 1 restarts after the dump; NMICrashDump 1 makes a non-maskable interrupt
// bugcheck the system with 0x80 NMI_HARDWARE_FAILURE and write a dump, read at boot).
import type { SshConnection } from '../../remote/ssh';
import { guestError, runPs, runPsJson } from './powershell';

export interface CrashControl {
  crashDumpEnabled: number;
  autoReboot: boolean;
  nmiCrashDump: boolean;
}

const CRASH_CONTROL_SCRIPT = `
$k = Get-ItemProperty -ErrorAction SilentlyContinue 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\CrashControl'
[pscustomobject]@{ CrashDumpEnabled = [int]$k.CrashDumpEnabled; AutoReboot = [int]$k.AutoReboot; NMICrashDump = [int]$k.NMICrashDump } | ConvertTo-Json -Compress
`;

export async function readCrashControl(ssh: SshConnection): Promise<CrashControl> {
  const k = await runPsJson<{ CrashDumpEnabled: number; AutoReboot: number; NMICrashDump: number }>(ssh, 'crash-control', {}, CRASH_CONTROL_SCRIPT);
  return { crashDumpEnabled: k.CrashDumpEnabled, autoReboot: k.AutoReboot === 1, nmiCrashDump: k.NMICrashDump === 1 };
}

/** Why this guest would not give a dump of a bugcheck by `nmi` or not, and come back: undefined if it would. */
export function crashControlRefusal(name: string, k: CrashControl, how: 'nmi' | 'notmyfault'): string | undefined {
  if (k.crashDumpEnabled === 0) return `${name}: CrashControl\\CrashDumpEnabled is 0, so Windows writes no dump: set it to 2 (kernel) or 1 (complete) and reboot`;
  if (!k.autoReboot) return `${name}: CrashControl\\AutoReboot is 0, so Windows would stay at its blue screen: set it to 1`;
  if (how === 'nmi' && !k.nmiCrashDump) return `${name}: CrashControl\\NMICrashDump is not 1, so an NMI does not bugcheck it: set it to 1 (REG_DWORD) and reboot`;
  return undefined;
}

/** Sysinternals NotMyFault's `/bugcheck <code>`: its driver calls KeBugCheckEx with the stop code
 *  given. The command never returns (the guest goes down under it); the caller watches the VM. It
 *  must be on the guest's PATH (as diskspd and NTttcp are). */
export function startBugcheck(ssh: SshConnection, name: string, code: number): Promise<void> {
  const hex = `0x${(code >>> 0).toString(16)}`;
  return runPs(ssh, 'notmyfault', { code: hex }, `& notmyfault64.exe /accepteula /bugcheck $p.code\nexit $LASTEXITCODE`, { timeoutMs: 120_000 }).then(
    (r) => {
      throw guestError('GUEST_BUGCHECK', `${name}: notmyfault64 /bugcheck ${hex} returned (exit ${r.code}) instead of bugchecking the guest`);
    },
    (e: unknown) => {
      if ((e as { code?: string }).code === 'GUEST_COMMAND' && /exit 9009|not recognized/i.test((e as Error).message)) {
        throw guestError('GUEST_NOTMYFAULT_MISSING', `${name}: notmyfault64.exe (Sysinternals NotMyFault) is not on the guest's PATH`);
      }
      // the connection dropped under the command: the guest went down, which is what was asked
    },
  );
}
