import t from 'tap';
import { installedDriver, parseAddDriver, parseEnumDevices } from '../../../src/guests/windows/pnputil';

const ENUM = `Microsoft PnP Utility\r
\r
Instance ID:                PCI\\VEN_5853&DEV_0001&SUBSYS_00015853&REV_02\\3&267a616a&0&18\r
Device Description:         XENBUS\r
Class Name:                 System\r
Class GUID:                 {4d36e97d-e325-11ce-bfc1-08002be10318}\r
Manufacturer Name:          XenProject\r
Status:                     Started\r
Driver Name:                oem7.inf\r
Matching Drivers:\r
    Driver Name:            oem3.inf\r
    Original Name:          xenbus.inf\r
    Provider Name:          XenProject\r
    Class Name:             System\r
    Driver Version:         01/15/2024 9.0.0.21\r
    Matching Device ID:     PCI\\VEN_5853&DEV_0001\r
    Driver Rank:            00FF2000\r
    Driver Status:          Outranked\r
    Driver Name:            oem7.inf\r
    Original Name:          xenbus.inf\r
    Provider Name:          XenProject\r
    Class Name:             System\r
    Driver Version:         09/21/2026 9.1.0.156\r
    Matching Device ID:     PCI\\VEN_5853&DEV_0001&SUBSYS_00015853&REV_02\r
    Driver Rank:            00FF0000\r
    Driver Status:          Best Ranked / Installed\r
\r
Instance ID:                XENBUS\\VEN_XP0001&DEV_VBD&REV_0900000B\\_\r
Device Description:         Unknown device\r
Class Name:                 SCSIAdapter\r
Status:                     Problem\r
Problem Code:               28 (0x1C) [CM_PROB_FAILED_INSTALL]\r
`;

t.test('pnputil /enum-devices /connected /drivers', async (t) => {
  const d = parseEnumDevices(ENUM);
  t.equal(d.length, 2);
  t.equal(d[0]!.instanceId, 'PCI\\VEN_5853&DEV_0001&SUBSYS_00015853&REV_02\\3&267a616a&0&18');
  t.equal(d[0]!.matching.length, 2);
  const inst = installedDriver(d[0]!)!;
  t.same([inst.driverName, inst.originalName, inst.version, inst.date, inst.matchingDeviceId], ['oem7.inf', 'xenbus.inf', '9.1.0.156', '09/21/2026', 'PCI\\VEN_5853&DEV_0001&SUBSYS_00015853&REV_02'], 'the installed package, not the outranked older one');
  t.equal(d[1]!.status, 'Problem');
  t.match(d[1]!.problem, /CM_PROB_FAILED_INSTALL/);
  t.equal(installedDriver(d[1]!), undefined);
});

t.test('pnputil /add-driver results and exit codes', async (t) => {
  const ok = parseAddDriver('Microsoft PnP Utility\r\n\r\nAdding driver package:  xenbus.inf\r\nDriver package added successfully.\r\nPublished Name:         oem7.inf\r\nDriver package installed on matching devices.\r\n\r\nTotal driver packages:  1\r\nAdded driver packages:  1\r\nSystem reboot is needed to complete install operations!\r\n', 3010);
  t.same(ok, { published: ['oem7.inf'], added: 1, failed: [], rebootRequired: true });
  const bad = parseAddDriver('Adding driver package:  xenvbd.inf\r\nFailed to add driver package: The hash for the file is not present in the specified catalog file.\r\n\r\nTotal driver packages:  1\r\nAdded driver packages:  0\r\n', 2);
  t.equal(bad.added, 0);
  t.same(bad.failed, ['The hash for the file is not present in the specified catalog file.']);
  t.equal(bad.rebootRequired, false);
});
