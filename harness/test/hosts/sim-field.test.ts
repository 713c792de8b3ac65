// The field scenarios (scenarios/*.xml tagged `field`) each exist to catch one driver bug users
// reported. Items 1 and 2 of the field list (VIF lifecycle); the guest-side items are in
// sim-field-guest.test.ts. Each: passes with the correct driver model, fails with the planted bug
// with the named check's YAML naming the cause (field-case.ts).
import t from 'tap';
import { proveFieldCases, type FieldCase } from './field-case';

const FIELD_CASES: FieldCase[] = [
  { file: 'vif-unplug-during-renegotiation.xml', planted: 'connect-unwind-leak', check: 'grants', cause: /vif\/0 \(device-closed\): \d+ grants? still granted/ },
  { file: 'vif-last-removed-new-added.xml', planted: 'vif-rescan-lost', check: 'devices-connected', cause: /win vif\/1: never reached Connected on both ends/ },
];

proveFieldCases(t, FIELD_CASES);
