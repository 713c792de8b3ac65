// The shape of drivers-spec/<driver>.xml, in the validator's terms. drivers-spec/driver-spec.xsd says
// the same for editors and xmllint; harness/test/spec/xsd.test.ts keeps the two in agreement.
import { types, type ElementShape, type ValueType } from '../xml/index';
import { DRIVER_NAMES } from '../model/spec';
import { XENBUS_STATE_NAMES } from '../model/xenbus';

const KEY_TYPES = ['int', 'uint', 'bool', 'string', 'enum', 'mac', 'state'] as const;
const KEY_ROLES = [
  'grant-ref', 'event-channel', 'ring-page-order', 'queue-count', 'protocol', 'feature', 'state', 'path', 'domid',
  'device-id', 'mac', 'mtu', 'size', 'version-string', 'address', 'name', 'other',
] as const;
const PHASE_NAMES = ['connect', 'reconnect', 'close', 'suspend-resume', 'surprise-removal'] as const;

/** A XenbusState: a number (range-checked by the `state-range` lint rule) or its name from xenbus.h. */
const state: ValueType = types.string({ pattern: new RegExp(`^([0-9]+|${XENBUS_STATE_NAMES.join('|')})$`), what: 'a XenbusState (number or name)' });
const stateList: ValueType = types.list(state, 1);
const boolean = types.boolean();
const token = types.token();
const hex4 = types.hex(4);
const hexRange: ValueType = types.string({ pattern: /^[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}$/, what: 'a range of 4-digit hex ids (C000-C0FF)' });
const driverName = types.enum(...DRIVER_NAMES);
/** Key names: path components with {placeholder}s. */
const keyName: ValueType = types.string({ pattern: /^[A-Za-z0-9_.{}-]+(\/[A-Za-z0-9_.{}-]+)*$/, what: 'a xenstore key name (path components, {placeholders})' });
const dirPath: ValueType = keyName;

const iface: ElementShape = {
  attrs: {
    name: { type: types.string({ pattern: /^[A-Z][A-Z_]*$/, what: 'an interface name (upper case, e.g. STORE)' }), required: true },
    version: { type: types.int(1), required: true },
    provider: { type: types.string({ pattern: /^[A-Z]+$/, what: 'a provider name (XENBUS, XENFILT, XENVIF)' }) },
  },
};

const keyAttrs = {
  name: { type: keyName, required: true },
  type: { type: types.enum(...KEY_TYPES), required: true },
  min: { type: types.int() },
  max: { type: types.int() },
  'enum-values': { type: types.list(token, 1) },
  pattern: { type: types.string({ minLength: 1 }) },
  value: { type: types.string() },
  default: { type: types.string() },
  role: { type: types.enum(...KEY_ROLES) },
  when: { type: types.string({ minLength: 1 }) },
  constraint: { type: types.string({ minLength: 1 }) },
  group: { type: token },
  read: { type: boolean },
  description: { type: types.string() },
  source: { type: types.string({ minLength: 1 }) },
};

const deviceKey: ElementShape = {
  attrs: {
    ...keyAttrs,
    side: { type: types.enum('frontend', 'backend'), required: true },
    'per-queue': { type: boolean },
    'written-in': { type: state },
    'required-from': { type: state },
    'unless-registry': { type: token },
  },
};

const guestKey: ElementShape = { attrs: { ...keyAttrs, required: { type: boolean } } };

const transitions: ElementShape = {
  attrs: { side: { type: types.enum('frontend', 'backend'), required: true } },
  children: {
    transition: {
      min: 1,
      shape: {
        attrs: {
          phase: { type: types.enum(...PHASE_NAMES), required: true },
          from: { type: state, required: true },
          to: { type: state, required: true },
          'peer-states': { type: stateList },
        },
      },
    },
  },
};

export const driverSpecShape: ElementShape = {
  ordered: true,
  attrs: { name: { type: driverName, required: true }, parent: { type: driverName } },
  children: {
    description: { min: 1, max: 1, shape: { text: { type: token, required: true } } },
    identity: {
      min: 1,
      max: 1,
      shape: {
        ordered: true,
        attrs: {
          inf: { type: types.string({ pattern: /^[A-Za-z0-9_-]+\.inf$/, what: 'an INF file name' }), required: true },
          class: { type: types.string({ pattern: /^[A-Za-z][A-Za-z0-9]*$/, what: 'a device setup class name' }), required: true },
          'class-guid': { type: types.string({ pattern: /^\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}$/, what: 'a GUID in braces' }) },
        },
        children: {
          service: { min: 1, shape: { attrs: { name: { type: types.string({ pattern: /^[A-Za-z0-9_]+$/, what: 'a service name' }), required: true } } } },
          file: {
            min: 1,
            shape: {
              attrs: {
                name: { type: types.string({ pattern: /^[A-Za-z0-9_.-]+$/, what: 'a file name' }), required: true },
                kind: { type: types.enum('inf', 'sys', 'cat', 'dll', 'coinstaller', 'other'), required: true },
                optional: { type: boolean },
              },
            },
          },
          vendor: {
            shape: {
              attrs: {
                prefix: { type: types.string({ pattern: /^[A-Z]{2}$/, what: 'a vendor prefix (two capital letters)' }), required: true },
                name: { type: token, required: true },
                'device-range': { type: hexRange },
                'device-id': { type: hex4 },
              },
            },
          },
          pci: {
            shape: {
              attrs: {
                vendor: { type: hex4, required: true },
                devices: { type: types.list(hex4, 1) },
                range: { type: hexRange },
                description: { type: token, required: true },
              },
            },
          },
          'hardware-id': {
            min: 1,
            shape: {
              attrs: {
                enumerator: { type: types.string({ pattern: /^[A-Z][A-Z0-9]*$/, what: 'an enumerator (PCI, XENBUS, XENVIF)' }), required: true },
                device: { type: types.string({ pattern: /^([A-Z][A-Z0-9]*|[0-9A-F]{4}|vendor)$/, what: "a device name, a 4-digit PCI device id or 'vendor'" }), required: true },
              },
            },
          },
        },
      },
    },
    revisions: {
      max: 1,
      shape: {
        children: {
          revision: { min: 1, shape: { attrs: { id: { type: types.hex(8), required: true } }, children: { interface: { min: 1, shape: iface } } } },
        },
      },
    },
    binds: { max: 1, shape: { children: { revision: { min: 1, shape: { attrs: { id: { type: types.hex(8), required: true } } } } } } },
    consumes: { max: 1, shape: { children: { interface: { min: 1, shape: iface } } } },
    device: {
      max: 1,
      shape: {
        ordered: true,
        attrs: {
          type: { type: types.enum('vbd', 'vif', 'vkbd', 'console', 'iface'), required: true },
          'frontend-path': { type: dirPath, required: true },
          'backend-path': { type: dirPath, required: true },
          'waits-for-backend': { type: state, required: true },
          'connected-state': { type: state },
          'state-in-connect-transaction': { type: types.enum('true', 'false') },
          'keys-on-close': { type: types.enum('kept', 'removed') },
          'connect-transaction-retries': { type: types.int(0) },
        },
        children: { key: { min: 1, shape: deviceKey }, transitions: { max: 2, shape: transitions } },
      },
    },
    guest: { max: 1, shape: { children: { key: { min: 1, shape: guestKey } } } },
    ring: {
      max: 1,
      shape: {
        attrs: {
          abi: { type: types.enum('blkif', 'netif'), required: true },
          'max-ring-page-order': { type: types.int(0, 4), required: true },
          'multi-queue': { type: boolean, required: true },
          'max-queues': { type: types.int(1) },
          'indirect-segments': { type: types.int(0) },
          'persistent-grants': { type: boolean, required: true },
          'split-event-channels': { type: boolean },
          'segments-per-request': { type: types.int(1) },
          'control-ring': { type: boolean },
        },
      },
    },
    unplug: {
      max: 1,
      shape: {
        ordered: true,
        attrs: { requests: { type: types.list(types.enum('DISKS', 'NICS'), 1) } },
        children: {
          bit: { min: 1, shape: { attrs: { bit: { type: types.int(0, 15), required: true }, name: { type: token, required: true } } } },
          protocol: {
            max: 1,
            shape: {
              attrs: {
                port: { type: hex4, required: true },
                magic: { type: hex4, required: true },
                'blacklisted-magic': { type: hex4, required: true },
                'version-port': { type: hex4, required: true },
              },
            },
          },
        },
      },
    },
    registry: {
      max: 1,
      shape: {
        children: {
          param: {
            min: 1,
            shape: {
              attrs: {
                key: { type: types.string({ pattern: /^HK(LM|R|CU)\\/, what: 'a registry key (HKLM\\...)' }), required: true },
                value: { type: token, required: true },
                type: { type: types.enum('REG_DWORD', 'REG_SZ', 'REG_MULTI_SZ'), required: true },
                default: { type: types.string() },
              },
              text: { type: token, required: true },
            },
          },
        },
      },
    },
    build: {
      min: 1,
      max: 1,
      shape: {
        attrs: {
          entry: { type: types.string({ pattern: /^[A-Za-z0-9_./-]+\.(ps1|sln)$/, what: 'build.ps1 or a .sln' }), required: true },
          configurations: { type: types.list(types.enum('free', 'checked'), 1), required: true },
          platforms: { type: types.list(types.enum('x86', 'x64', 'ARM64'), 1), required: true },
          'sign-modes': { type: types.list(types.enum('TestSign', 'ProductionSign', 'Off'), 1), required: true },
          'depends-on': { type: types.list(driverName, 1) },
        },
        children: { solution: { shape: { attrs: { path: { type: types.string({ pattern: /^[A-Za-z0-9_./-]+\.sln$/, what: 'a .sln path' }), required: true } } } } },
      },
    },
  },
};
