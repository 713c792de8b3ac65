// What each kind of scenario step does on the host, one function per kind, by kind in HOST_STEPS
// (steps.ts runs them; the blocks of steps, parallel and repeat, are steps.ts's own).
import { BACKEND_RESTART_MEANS } from '../model/host';
import type { Step } from '../model/scenario';
import type { DriverName } from '../model/spec';
import { resolveBundle } from './bundle';
import { StepFailure } from './errors';
import { unsupportedError } from '../model/errors';
import { once, type TeardownStack } from './teardown';
import {
  destinationOf, expectInstallerExit, guestOf, hostDevice, hostFault, need, padPath, plug, rebind, reboot, reportDrivers, resume, shapeOf, waitFor, type StepContext,
} from './step-context';

// (LifecycleStep and BackendStep carry several kinds each, so Extract<Step, { kind: K }> would miss them)
type StepOf<K extends Step['kind']> = Step & { kind: K };
type Executor<K extends Step['kind']> = (step: StepOf<K>, id: string, ctx: StepContext, block: TeardownStack) => Promise<void>;

async function installDrivers(step: StepOf<'install-drivers'>, _id: string, ctx: StepContext, block: TeardownStack): Promise<void> {
  const g = guestOf(ctx, step.guest);
  const drivers = (step.drivers ?? ctx.scenario.drivers) as DriverName[];
  const { bundle, cleanup, via } = await resolveBundle(step.bundle, drivers, ctx.scenario.source.file, ctx.openBundle, ctx.host.builtinArtefacts);
  block.defer(`bundle ${step.bundle}`, cleanup);
  if (via) ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `${step.guest}: ${step.bundle} is ${via} on this host (${ctx.host.builtinArtefacts!.where})${bundle.version ? `, version ${bundle.version}` : ', its version unknown: drivers-bound judges binding alone'}` });
  const install = ctx.host.agent(g).installDrivers({
    ...bundle, ...(step.verifier ? { verifier: true } : {}), ...(step.method === 'installer' ? { installer: true } : {}), ...(step.method === 'staged' ? { staged: true } : {}),
    onCleanup: (label, undo) => block.defer(label, undo),
  });
  if (step.expectExit !== undefined) return expectInstallerExit(ctx, step.guest, install, step.expectExit);
  const installed = await install;
  if (step.reboot) await reboot(ctx, step.guest);
  return reportDrivers(ctx, step.guest, {
    version: (installed && installed.version) || bundle.version, drivers, ...(step.verifier ? { verifier: true } : {}), ...(step.method === 'staged' ? { staged: true } : {}),
  });
}

async function uninstallDrivers(step: StepOf<'uninstall-drivers'>, _id: string, ctx: StepContext): Promise<void> {
  const { host } = ctx;
  const agent = host.agent(guestOf(ctx, step.guest));
  if (!agent.uninstallDrivers) throw unsupportedError(`host ${host.kind} cannot uninstall the PV drivers (no 'driver-uninstall' capability)`);
  await agent.uninstallDrivers({ ...(step.vendor ? { vendor: step.vendor } : {}), ...(step.method === 'installer' ? { installer: true } : {}) });
  if (step.reboot) await reboot(ctx, step.guest);
  return reportDrivers(ctx, step.guest, { version: '', drivers: [], removed: true });
}

async function setNic(step: StepOf<'set-nic'>, _id: string, ctx: StepContext): Promise<void> {
  const { host } = ctx;
  const g = guestOf(ctx, step.guest);
  const agent = host.agent(g);
  if (!agent.setNic) throw unsupportedError(`host ${host.kind} cannot configure a guest NIC (no 'nic-settings' capability)`);
  const dev = hostDevice(host, g, step.device);
  const devid = Number(dev.split('/')[1]);
  // the MAC the toolstack gave the frontend: real hosts replace a scenario's fixed one (hosts/guest-mac.ts)
  const given = await host.xenstore.read(`${host.homePath(g)}/device/${dev}/mac`).catch(() => undefined);
  const mac = given ?? shapeOf(ctx, step.guest).vifs.find((v) => v.devid === devid)?.mac;
  if (!mac) throw new StepFailure('NO_MAC', `${step.guest} ${dev}: no MAC address to find its NIC by (give the <vif> a mac)`);
  const nic = { mac: mac.toLowerCase(), ipv4: step.ipv4, ipv6: step.ipv6, dns: step.dns, ...(step.mtu !== undefined ? { mtu: step.mtu } : {}) };
  await agent.setNic(nic);
  ctx.sink.emit({ ev: 'nic.set', inst: ctx.inst, guest: step.guest, dev, ...nic });
}

async function blockWorkload(step: StepOf<'block'>, id: string, ctx: StepContext): Promise<void> {
  const g = guestOf(ctx, step.guest);
  const dev = hostDevice(ctx.host, g, step.device);
  const { result, raw } = await ctx.host.agent(g).blockWorkload({ ...step, device: dev });
  ctx.sink.emit({ ev: 'workload', inst: ctx.inst, guest: step.guest, step: id, dev, result, ...(raw !== undefined ? { raw } : {}) });
}

async function netWorkload(step: StepOf<'net'>, id: string, ctx: StepContext): Promise<void> {
  const { host } = ctx;
  const g = guestOf(ctx, step.guest);
  const dev = hostDevice(host, g, step.device);
  const peer = step.peer ? host.agent(guestOf(ctx, step.peer)) : undefined;
  const { result, raw } = await host.agent(g).netWorkload({ ...step, device: dev }, peer);
  ctx.sink.emit({ ev: 'workload', inst: ctx.inst, guest: step.guest, step: id, dev, result, ...(raw !== undefined ? { raw } : {}) });
}

async function hotplug(step: StepOf<'hotplug'>, _id: string, ctx: StepContext): Promise<void> {
  const { host } = ctx;
  const hp = need(host.hotplug, 'hotplug', 'hotplug');
  const g = guestOf(ctx, step.guest);
  if (step.action === 'unplug') return hp.detach(g, hostDevice(host, g, step.device), { surprise: step.surprise });
  const dev = await plug(ctx, g, step.device);
  const want = hostDevice(host, g, step.device);
  if (dev !== want) ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `plugged ${want} came back as ${dev}` });
}

async function xenifaceStore(step: StepOf<'xeniface-store'>, _id: string, ctx: StepContext): Promise<void> {
  const g = guestOf(ctx, step.guest);
  const path = padPath(step.path, step.pathBytes);
  const value = step.valueBytes !== undefined ? 'v'.repeat(step.valueBytes) : undefined;
  const out = await need(ctx.host.xenifaceStore, 'xeniface-store', 'xeniface-store').request(g, { op: step.op, path, ...(value !== undefined ? { value } : {}) });
  const what = `xeniface ${step.op} of a ${path.length}-byte path${value !== undefined ? ` and a ${value.length}-byte value` : ''}`;
  ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `${step.guest}: ${what}: ${out.status}` });
  // STATUS_PENDING: no reply ever came (the request was lost with the guest's xenstore connection)
  if (out.status === 'STATUS_PENDING') throw new StepFailure('XENIFACE_PENDING', `${what} never completed: xenstore did not answer`);
  const refused = out.status !== 'STATUS_SUCCESS';
  if (refused !== (step.expect === 'refused')) {
    throw new StepFailure('XENIFACE_OUTCOME', `${what} completed with ${out.status}, expected ${step.expect === 'refused' ? 'a refusal' : 'STATUS_SUCCESS'}`);
  }
}

async function backendRestart(step: StepOf<'backend-restart'>, _id: string, ctx: StepContext): Promise<void> {
  const { host } = ctx;
  const g = guestOf(ctx, step.guest);
  const bc = need(host.backendControl, 'backend-control', 'backend-restart');
  const dev = hostDevice(host, g, step.device);
  // a scenario about one kind of restart means nothing where the host does another: skipped, said why
  if (step.restartKind && step.restartKind !== bc.restartKind) {
    throw unsupportedError(`backend-restart kind="${step.restartKind}" (${BACKEND_RESTART_MEANS[step.restartKind]}): ${host.kind}'s backend-restart is ${bc.restartKind} (${BACKEND_RESTART_MEANS[bc.restartKind]})`);
  }
  // the kinds test different things: every restart says which one this host did
  ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `backend-restart of ${step.guest} ${dev} on ${host.kind}: ${bc.restartKind} (${BACKEND_RESTART_MEANS[bc.restartKind]})` });
  return bc.restartBackend(g, dev);
}

/** A fault switched on (for its duration, or until its block ends) or, with action off, off. */
async function fault(step: StepOf<'fault'>, _id: string, ctx: StepContext, block: TeardownStack): Promise<void> {
  const { host } = ctx;
  const name = step.fault.name;
  if (step.action === 'off') {
    const off = ctx.faultsOn.get(name);
    if (!off) throw new StepFailure('FAULT_NOT_ON', `fault '${name}' is not on`);
    ctx.faultsOn.delete(name);
    return off();
  }
  const faults = need(host.faults, 'fault-injection', `fault ${name}`);
  const g = step.fault.guest ? guestOf(ctx, step.fault.guest) : undefined;
  const off = once(await faults.inject(hostFault(host, step.fault, g), g));
  if (step.fault.durationMs !== undefined) {
    // on record while it lasts: if the scenario is cut short during the sleep, the instance's
    // teardown switches it off (the sleep itself may end only after the next scenario started)
    ctx.faultsOn.set(name, off);
    try {
      await host.clock.sleep(step.fault.durationMs);
    } finally {
      if (ctx.faultsOn.get(name) === off) ctx.faultsOn.delete(name);
    }
    return off();
  }
  ctx.faultsOn.set(name, off);
  block.defer(`fault ${name}`, async () => {
    if (ctx.faultsOn.get(name) === off) {
      ctx.faultsOn.delete(name);
      await off();
    }
  });
}

/** Every kind of step but the blocks (parallel, repeat), by kind. */
export const HOST_STEPS: { [K in Exclude<Step['kind'], 'parallel' | 'repeat'>]: Executor<K> } = {
  'install-drivers': installDrivers,
  'uninstall-drivers': uninstallDrivers,
  'set-nic': setNic,
  reboot: async (step, _id, ctx) => reboot(ctx, step.guest),
  wait: async (step, _id, ctx) => waitFor(step, ctx),
  block: blockWorkload,
  net: netWorkload,
  hotplug,
  suspend: async (step, _id, ctx) => need(ctx.host.suspend, 'suspend', 'suspend').suspend(guestOf(ctx, step.guest)),
  resume: async (step, _id, ctx) => resume(ctx, step.guest, destinationOf(ctx, step)),
  'suspend-resume': async (step, _id, ctx) => {
    await need(ctx.host.suspend, 'suspend', 'suspend-resume').suspend(guestOf(ctx, step.guest));
    return resume(ctx, step.guest, destinationOf(ctx, step));
  },
  migrate: async (step, _id, ctx) => {
    await ctx.xsProbe.watchNewDomains();
    const ref = await need(ctx.host.migrate, 'migrate', 'migrate').migrate(guestOf(ctx, step.guest), undefined, destinationOf(ctx, step));
    return rebind(ctx, ref);
  },
  'save-restore': async (step, _id, ctx) => {
    const sr = need(ctx.host.saveRestore, 'save-restore', 'save-restore');
    await ctx.xsProbe.watchNewDomains();
    const image = await sr.save(guestOf(ctx, step.guest));
    return rebind(ctx, await sr.restore(guestOf(ctx, step.guest), image, destinationOf(ctx, step)));
  },
  shutdown: async (step, _id, ctx) => ctx.host.shutdownGuest(guestOf(ctx, step.guest), 'clean'),
  start: async (step, _id, ctx) => ctx.host.startGuest(guestOf(ctx, step.guest)),
  'xeniface-store': xenifaceStore,
  bugcheck: async (step, _id, ctx) => need(ctx.host.bugcheck, 'guest-bugcheck', 'bugcheck').bugcheck(guestOf(ctx, step.guest), { code: step.code }),
  'backend-restart': backendRestart,
  'backend-close': async (step, _id, ctx) => {
    const g = guestOf(ctx, step.guest);
    return need(ctx.host.backendControl, 'backend-control', 'backend-close').forceBackendState(g, hostDevice(ctx.host, g, step.device), 5);
  },
  fault,
  sleep: async (step, _id, ctx) => ctx.host.clock.sleep(step.durationMs),
};
