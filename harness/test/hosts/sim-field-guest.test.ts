// Field scenarios about what the guest and its drivers do across lifecycle and limits: migration
// into a poorer backend (field item 6), the balloon target at boot (9), xeniface's store limits (10).
// Each: passes with the correct driver model, fails with the planted bug with the named check's YAML
// naming the cause (field-case.ts).
import t from 'tap';
import { proveFieldCases, type FieldCase } from './field-case';

const FIELD_CASES: FieldCase[] = [
  { file: 'migrate-into-poorer-backend.xml', planted: 'stale-backend-features', check: 'xenstore-keys', cause: /win frontend vbd\/51712 entering Initialised: ring-page-order: ring-page-order=4 breaks '<= backend:max-ring-page-order' \(backend:max-ring-page-order=2\)/ },
  { file: 'balloon-target-at-boot.xml', planted: 'balloon-initial-target-ignored', check: 'balloon', cause: /win: never reached its memory target[^\n]*holds 4194304 KiB, target 2097152 KiB, static-max 4194304 KiB/ },
  { file: 'xeniface-store-limits.xml', planted: 'xeniface-no-length-check', check: 'guest-alive', cause: /win \(domid \d+\) lost its xenstore connection: xenstored stopped serving it \(xenstore connection lost: payload of 4097 bytes exceeds XENSTORE_PAYLOAD_MAX\)/ },
];

proveFieldCases(t, FIELD_CASES);
