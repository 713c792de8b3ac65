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
