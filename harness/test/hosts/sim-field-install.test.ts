// Field scenarios about the install lifecycle (issue #18 items 3, 4 and 5): upgrade, downgrade,
// uninstall and reinstall; drivers staged by an OS update with one reboot of the two they need; our
// drivers over another vendor's (pnputil, and the vendor installer's 1603). Each: passes with the
// correct driver model, fails with the planted bug with the named check's YAML naming the cause
// (field-case.ts). The matrix scenarios are proven on device_id 0002 here; `winpv run` runs both ids.
import t from 'tap';
import { proveFieldCases, type FieldCase } from './field-case';

const FIELD_CASES: FieldCase[] = [
  { file: 'upgrade-downgrade-uninstall-reinstall.xml', planted: 'uninstall-leaves-filter', check: 'guest-alive', cause: /win \(domid \d+\) crashed[\s\S]*INACCESSIBLE_BOOT_DEVICE \(0x7B\): the HDC class lists the upper filter XENFILT, whose driver is no longer installed/ },
  { file: 'staged-update-one-reboot.xml', planted: 'reboot-request-lost', check: 'drivers-bound', cause: /win: xenvbd \[XS\]: 9\.1\.0\.0 installed, start refused until a reboot, no reboot requested: it waits for a reboot nothing asked for \(no xenbus_monitor\\\\+Request\\\\+XENVBD\\\\+Reboot\)/ },
  { file: 'coexistence-over-other-vendor.xml', instance: 'device=0002', planted: 'nic-settings-not-copied', check: 'nic-settings', cause: /win vif\/1 \(00:16:3e:00:00:02\): after the install of 9\.1\.0 the NIC lost its static configuration: IPv4 none \(set: 192\.0\.2\.30\/24\); IPv6 none \(set: 2001:db8::30\/64\); DNS none \(set: 192\.0\.2\.53 2001:db8::53\); MTU default \(set: 1400\)/ },
  { file: 'coexistence-installer-refuses.xml', instance: 'device=0001', planted: 'uninstall-leaves-filter', check: 'guest-alive', cause: /INACCESSIBLE_BOOT_DEVICE/ },
];

proveFieldCases(t, FIELD_CASES);
