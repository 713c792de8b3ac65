// The scenario document's shape for the located validator: the same rules as scenarios/scenario.xsd
// (a test keeps them in agreement by validating the catalogue with both).
import { types, type ElementShape, type ValueType } from '../xml';
import { CAPABILITIES, CHECKS } from '../model/catalog';
import { BACKEND_RESTART_KINDS } from '../model/host';
import { MATRIX_VARIABLE_NAME } from '../model/matrix';
import { DISK_BACKEND_TYPES } from '../model/scenario';
import { DRIVER_NAMES } from '../model/spec';
import { durationPattern, sizePattern } from './units';

const name = types.string({ pattern: /^[a-z0-9][a-z0-9_.-]*$/, what: 'a name (lower case letters, digits, _ . -)' });
const duration = types.string({ pattern: durationPattern, what: 'a duration (500ms, 10s, 2m, 1h or milliseconds)' });
const size = types.string({ pattern: sizePattern, what: 'a size (4096, 64K, 1M, 2G)' });
const device = types.string({ pattern: /^(xvd[a-z]+|hd[a-d]|sd[a-p]|\d+|vbd\/\d+|vif\/\d+)$/, what: 'a device (xvda, vbd/51712, vif/0)' });
const driver: ValueType = types.enum(...DRIVER_NAMES);
const drivers: ValueType = types.list(driver, 1);
const label = { type: types.string() };
const onGuest = { guest: { type: name, required: true }, label };
const deviceStep: ElementShape = { attrs: { ...onGuest, device: { type: device, required: true } } };
const guestStep: ElementShape = { attrs: onGuest };
const param: ElementShape = { attrs: { name: { type: types.token(), required: true }, value: { type: types.string(), required: true } } };
const backendKey: ElementShape = { attrs: { key: { type: types.token(), required: true }, value: { type: types.string(), required: true } } };
/** A step that moves a guest (migrate, restore, resume) may name the backends at its destination. */
const movingGuestStep: ElementShape = {
  attrs: onGuest,
  children: { destination: { shape: { attrs: { device: { type: device, required: true } }, children: { backend: { shape: backendKey, min: 1 } } } } },
};

const faultAttrs = {
  name: { type: name, required: true },
  guest: { type: name },
  device: { type: device },
  duration: { type: duration },
};

// The steps with attributes of their own, one shape each; stepChildren below lists every step.
const installDriversStep: ElementShape = {
  attrs: {
    ...onGuest, bundle: { type: types.token(), required: true }, drivers: { type: drivers }, reboot: { type: types.boolean() },
    method: { type: types.enum('pnputil', 'installer', 'staged') }, verifier: { type: types.boolean() }, 'expect-exit': { type: types.int(1, 65535) },
  },
};
const uninstallDriversStep: ElementShape = {
  attrs: { ...onGuest, vendor: { type: types.string({ pattern: /^[A-Z]{2}$/, what: 'a vendor prefix (XP, XN, XS)' }) }, method: { type: types.enum('pnputil', 'installer') }, reboot: { type: types.boolean() } },
};
const setNicStep: ElementShape = {
  attrs: { ...onGuest, device: { type: device, required: true }, ipv4: { type: types.string() }, ipv6: { type: types.string() }, dns: { type: types.string() }, mtu: { type: types.int(68, 65535) } },
};
const waitStep: ElementShape = { attrs: { ...onGuest, path: { type: types.token(), required: true }, equals: { type: types.string() }, exists: { type: types.boolean() }, timeout: { type: duration } } };
/** The block workload (diskspd on Windows). */
const blockStep: ElementShape = {
  attrs: {
    ...onGuest,
    device: { type: device, required: true },
    'block-size': { type: size },
    'queue-depth': { type: types.int(1, 4096) },
    threads: { type: types.int(1, 256) },
    'write-percent': { type: types.int(0, 100) },
    pattern: { type: types.enum('random', 'sequential') },
    duration: { type: duration, required: true },
    verify: { type: types.boolean() },
    discard: { type: types.boolean() },
    flush: { type: types.boolean() },
  },
};
/** The network workload (ntttcp on Windows). */
const netStep: ElementShape = {
  attrs: {
    ...onGuest,
    device: { type: device, required: true },
    peer: { type: name },
    threads: { type: types.int(1, 256) },
    direction: { type: types.enum('send', 'receive', 'both') },
    duration: { type: duration, required: true },
  },
};
const xenifaceStoreStep: ElementShape = {
  attrs: {
    ...onGuest,
    op: { type: types.enum('read', 'write', 'directory', 'remove'), required: true },
    path: { type: types.token(), required: true },
    'path-bytes': { type: types.int(1, 1 << 20) },
    'value-bytes': { type: types.int(0, 1 << 20) },
    expect: { type: types.enum('ok', 'refused'), required: true },
  },
};

/** Every step element; a function because parallel branches and repeat contain steps again. */
const stepChildren = (): Record<string, { shape: ElementShape | (() => ElementShape) }> => ({
  'install-drivers': { shape: installDriversStep },
  reboot: { shape: guestStep },
  'uninstall-drivers': { shape: uninstallDriversStep },
  'set-nic': { shape: setNicStep },
  wait: { shape: waitStep },
  block: { shape: blockStep },
  net: { shape: netStep },
  unplug: { shape: { attrs: { ...onGuest, device: { type: device, required: true }, surprise: { type: types.boolean() } } } },
  plug: { shape: deviceStep },
  suspend: { shape: guestStep },
  resume: { shape: movingGuestStep },
  'suspend-resume': { shape: movingGuestStep },
  migrate: { shape: movingGuestStep },
  'save-restore': { shape: movingGuestStep },
  shutdown: { shape: guestStep },
  start: { shape: guestStep },
  'backend-restart': { shape: { attrs: { ...deviceStep.attrs, kind: { type: types.enum(...BACKEND_RESTART_KINDS) } } } },
  'xeniface-store': { shape: xenifaceStoreStep },
  bugcheck: { shape: { attrs: { ...onGuest, code: { type: types.string({ pattern: /^0x[0-9A-Fa-f]{1,8}$/, what: 'a stop code (0xE2)' }) } } } },
  'backend-close': { shape: deviceStep },
  fault: { shape: { attrs: { ...faultAttrs, action: { type: types.enum('on', 'off') }, label }, children: { param: { shape: param } } } },
  sleep: { shape: { attrs: { duration: { type: duration, required: true }, label } } },
  parallel: { shape: () => ({ attrs: { label }, children: { branch: { shape: stepsShape, min: 2 } } }) },
  repeat: { shape: () => ({ attrs: { count: { type: types.int(1, 1000), required: true }, label }, children: stepChildren() }) },
});

const stepsShape: ElementShape = { children: stepChildren() };

export const scenarioShape: ElementShape = {
  attrs: { name: { type: name, required: true }, timeout: { type: duration } },
  children: {
    title: { shape: { text: { type: types.string(), required: true } }, min: 1, max: 1 },
    description: { shape: { text: { type: types.string() } }, max: 1 },
    tags: { shape: { text: { type: types.list(name, 1), required: true } }, min: 1, max: 1 },
    drivers: { shape: { text: { type: drivers, required: true } }, min: 1, max: 1 },
    needs: { shape: { text: { type: types.list(types.enum(...Object.keys(CAPABILITIES))) } }, max: 1 },
    labels: { shape: { text: { type: types.list(name, 1), required: true } }, max: 1 },
    matrix: {
      shape: { children: { axis: { shape: { attrs: { name: { type: types.string({ pattern: MATRIX_VARIABLE_NAME, what: 'a variable name' }), required: true }, values: { type: types.list(name, 1), required: true } } }, min: 1 } } },
      max: 1,
    },
    guest: {
      shape: {
        attrs: {
          name: { type: name, required: true },
          os: { type: types.enum('windows', 'linux') },
          vcpus: { type: types.int(1, 128) },
          memory: { type: size },
          'memory-target': { type: size },
          agent: { type: types.boolean() },
          image: { type: types.token() },
          'platform-device': { type: types.string({ pattern: /^[0-9A-Fa-f]{4}$/, what: 'a PCI device id of 4 hex digits (0001, 0002, C000)' }) },
        },
        children: {
          vbd: {
            shape: {
              attrs: {
                vdev: { type: types.string({ pattern: /^(xvd[a-z]+|hd[a-d]|sd[a-p])$/, what: 'a virtual disk name (xvda, hda, sda)' }), required: true },
                size: { type: size, required: true },
                mode: { type: types.enum('w', 'r') },
                'ring-page-order': { type: types.int(0, 4) },
                queues: { type: types.int(1, 64) },
                'backend-type': { type: types.enum(...DISK_BACKEND_TYPES) },
              },
              children: { backend: { shape: backendKey } },
            },
          },
          vif: {
            shape: {
              attrs: {
                devid: { type: types.int(0, 1023), required: true },
                mac: { type: types.string({ pattern: /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, what: 'a MAC address' }) },
                queues: { type: types.int(1, 64) },
                bridge: { type: types.token() },
              },
              children: { backend: { shape: backendKey } },
            },
          },
          timings: {
            shape: { attrs: { 'backend-reaction': { type: duration }, 'boot-to-frontend': { type: duration }, 'restore-downtime': { type: duration } } },
            max: 1,
          },
          registry: {
            shape: {
              attrs: {
                driver: { type: driver, required: true },
                value: { type: types.string({ pattern: /^[A-Za-z0-9_.-]+$/, what: 'a registry value name (max-ring-page-order, FrontendMaxQueues)' }), required: true },
                data: { type: types.int(0, 0xffffffff), required: true },
              },
            },
          },
        },
      },
      min: 1,
    },
    faults: { shape: { children: { fault: { shape: { attrs: faultAttrs, children: { param: { shape: param } } }, min: 1 } } }, max: 1 },
    steps: { shape: stepsShape, min: 1, max: 1 },
    checks: {
      shape: {
        attrs: { only: { type: types.boolean() } },
        children: { check: { shape: { attrs: { name: { type: types.enum(...Object.keys(CHECKS)), required: true } }, children: { param: { shape: param } } }, min: 1 } },
      },
      max: 1,
    },
  },
};
