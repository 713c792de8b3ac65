// Reading pnputil's text output (Windows 10 2004 and later): `/add-driver ... /install` and
// `/enum-devices /connected /drivers`. pnputil prints "Label:   value" lines; devices are blocks that
// start with "Instance ID:", and each lists its matching drivers indented under "Matching Drivers:".

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

export interface PnpDriverMatch {
  driverName: string;
  originalName?: string;
  provider?: string;
  /** The DriverVer version part (`9.1.0.156`); `date` keeps the date part. */
  version?: string;
  date?: string;
  matchingDeviceId?: string;
  status?: string;
}

export interface PnpDevice {
  instanceId: string;
  description?: string;
  className?: string;
  manufacturer?: string;
  status?: string;
  /** The driver package in use (oemNN.inf), if any. */
  driverName?: string;
  problem?: string;
  matching: PnpDriverMatch[];
}

export function parseEnumDevices(text: string): PnpDevice[] {
  const devices: PnpDevice[] = [];
  let dev: PnpDevice | undefined;
  let drv: PnpDriverMatch | undefined;
  let inMatching = false;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^(\s*)([A-Za-z][A-Za-z ]*?):\s*(.*)$/.exec(raw);
    if (!m) continue;
    const indented = m[1]!.length > 0;
    const key = m[2]!.toLowerCase();
    const value = m[3]!.trim();
    if (key === 'instance id' && !indented) {
      dev = { instanceId: value, matching: [] };
      devices.push(dev);
      inMatching = false;
      drv = undefined;
      continue;
    }
    if (!dev) continue;
    if (key === 'matching drivers') {
      inMatching = true;
      continue;
    }
    if (inMatching && indented) {
      if (key === 'driver name') {
        drv = { driverName: value };
        dev.matching.push(drv);
      } else if (drv) {
        if (key === 'original name') drv.originalName = value;
        else if (key === 'provider name') drv.provider = value;
        else if (key === 'driver version') {
          const parts = value.split(/\s+/);
          drv.version = parts[parts.length - 1];
          drv.date = parts.length > 1 ? parts[0] : undefined;
        } else if (key === 'matching device id') drv.matchingDeviceId = value;
        else if (key === 'driver status') drv.status = value;
      }
      continue;
    }
    inMatching = false;
    if (key === 'device description') dev.description = value;
    else if (key === 'class name') dev.className = value;
    else if (key === 'manufacturer name') dev.manufacturer = value;
    else if (key === 'status') dev.status = value;
    else if (key === 'driver name') dev.driverName = value;
    else if (key === 'problem code' || key === 'problem status') dev.problem = dev.problem ? `${dev.problem}; ${value}` : value;
  }
  return devices;
}

/** The driver actually installed on a device: the match whose Driver Name is the device's. */
export function installedDriver(d: PnpDevice): PnpDriverMatch | undefined {
  return d.matching.find((x) => x.driverName === d.driverName) ?? d.matching.find((x) => /installed/i.test(x.status ?? ''));
}
