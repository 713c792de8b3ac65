// Reading `pnputil /add-driver ... /install` (Windows 10 1607 / Server 2016 and later). Success is
// its exit code; the text is in the display language, so the published oemNN.inf names are read
// only when the labels are English. Devices are read through CIM instead (devices.ts).

export interface AddDriverResult {
  /** oemNN.inf names Windows published the package as. */
  published: string[];
  added: number;
  failed: string[];
  rebootRequired: boolean;
}

/** pnputil exit codes: 0 ok, 3010 ok but reboot required (ERROR_SUCCESS_REBOOT_REQUIRED), 259 nothing to do. */
export function parseAddDriver(text: string, exitCode: number): AddDriverResult {
  const published = [...text.matchAll(/^\s*Published Name:\s*(\S+)\s*$/gim)].map((m) => m[1]!);
  const addedM = /Added driver packages?:\s*(\d+)/i.exec(text);
  const failed = [...text.matchAll(/^\s*Failed to (?:add|install) driver package:?\s*(.*)$/gim)].map((m) => m[1]!.trim());
  return {
    published,
    added: addedM ? Number(addedM[1]) : published.length,
    failed,
    rebootRequired: exitCode === 3010 || /system reboot is needed|reboot is required/i.test(text),
  };
}

/** One package of `pnputil /enum-drivers` (Windows 10 1607 / Server 2016 and later). */
export interface EnumeratedDriver {
  /** oemNN.inf, the name the driver store published it as. */
  published: string;
  /** The package's own INF name (xenbus.inf). */
  original: string;
  /** The INF's Provider (win-xenbus src/xenbus.inf: Provider=%Vendor%, the vendor name the build was given). */
  provider: string;
  /** `Driver Version:` is the INF's DriverVer (date, then version). */
  version: string;
}

/** The packages `pnputil /enum-drivers` lists: one block per package, blank-line separated, each a
 *  `Label: value` line (Microsoft, "PnPUtil Command Syntax" and "PnPUtil Examples": Published Name,
 *  Original Name, Provider Name, Class Name, Class GUID, Driver Version, Signer Name). The labels are
 *  in the display language: a listing without the English ones is refused rather than read as empty. */
export function parseEnumDrivers(text: string): EnumeratedDriver[] | undefined {
  const blocks = text.split(/\r?\n\s*\r?\n/).map((b) => new Map([...b.matchAll(/^\s*([A-Za-z ]+?):\s*(.*?)\s*$/gm)].map((m) => [m[1]!.toLowerCase(), m[2]!])));
  const pkgs = blocks.filter((b) => b.has('published name'));
  if (!pkgs.length && /\boem\d+\.inf\b/i.test(text)) return undefined;
  return pkgs.map((b) => ({
    published: b.get('published name')!,
    original: b.get('original name') ?? '',
    provider: b.get('provider name') ?? '',
    version: (b.get('driver version') ?? '').split(/\s+/).at(-1) ?? '',
  }));
}
