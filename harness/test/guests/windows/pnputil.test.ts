import t from 'tap';
import { parseAddDriver } from '../../../src/guests/windows/pnputil';



t.test('pnputil /add-driver results and exit codes', async (t) => {
  const ok = parseAddDriver('Microsoft PnP Utility\r\n\r\nAdding driver package:  xenbus.inf\r\nDriver package added successfully.\r\nPublished Name:         oem7.inf\r\nDriver package installed on matching devices.\r\n\r\nTotal driver packages:  1\r\nAdded driver packages:  1\r\nSystem reboot is needed to complete install operations!\r\n', 3010);
  t.same(ok, { published: ['oem7.inf'], added: 1, failed: [], rebootRequired: true });
  const bad = parseAddDriver('Adding driver package:  xenvbd.inf\r\nFailed to add driver package: The hash for the file is not present in the specified catalog file.\r\n\r\nTotal driver packages:  1\r\nAdded driver packages:  0\r\n', 2);
  t.equal(bad.added, 0);
  t.same(bad.failed, ['The hash for the file is not present in the specified catalog file.']);
  t.equal(bad.rebootRequired, false);
});
