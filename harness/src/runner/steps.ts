// Step execution: each scenario step through the HostBackend and its capability objects, with
// step.start/step.end events, workload and drivers events, dotted step ids (`4.1.2` = step 4,
// branch or iteration 1, step 2) and block-scoped faults switched off when their block ends. What
// each kind of step does is in step-kinds.ts; what they share in step-context.ts.
import type { Step } from '../model/scenario';
import { errorInfo, Interrupted } from './errors';
import { TeardownStack } from './teardown';
import type { StepContext } from './step-context';
import { HOST_STEPS } from './step-kinds';

export { hostDevice, hostFault, type StepContext } from './step-context';

function label(step: Step): string {
  if (step.label) return step.label;
  switch (step.kind) {
    case 'uninstall-drivers':
      return `uninstall ${step.vendor ? `${step.vendor} ` : ''}drivers${step.method === 'installer' ? ' (vendor installer)' : ''}${step.reboot ? ' + reboot' : ''}`;
    case 'set-nic':
      return `set-nic ${step.device} ${[...step.ipv4, ...step.ipv6].join(' ')}${step.dns.length ? ` dns ${step.dns.join(' ')}` : ''}${step.mtu ? ` mtu ${step.mtu}` : ''}`;
    case 'install-drivers':
      return `install ${step.bundle}${step.method === 'installer' ? ' (vendor installer)' : step.method === 'staged' ? ' (staged)' : ''}${step.expectExit ? ` expecting exit ${step.expectExit}` : ''}${step.verifier ? ' + Driver Verifier' : ''}${step.reboot ? ' + reboot' : ''}`;
    case 'wait':
      return `wait ${step.path}${step.equals !== undefined ? ` = ${step.equals}` : step.exists === false ? ' absent' : ''}`;
    case 'block':
      return `block ${step.device} ${step.blockSize / 1024}K qd${step.queueDepth} ${step.writePercent}%w ${step.pattern} ${step.durationMs} ms`;
    case 'net':
      return `net ${step.device} ${step.direction} x${step.threads} ${step.durationMs} ms${step.peer ? ` with ${step.peer}` : ''}`;
    case 'hotplug':
      return `${step.surprise ? 'surprise-' : ''}${step.action} ${step.device}`;
    case 'backend-restart':
    case 'backend-close':
      return `${step.kind} ${step.device}`;
    case 'fault':
      return `fault ${step.fault.name} ${step.action ?? 'on'}${step.fault.durationMs ? ` for ${step.fault.durationMs} ms` : ''}`;
    case 'sleep':
      return `sleep ${step.durationMs} ms`;
    case 'parallel':
      return `parallel x${step.branches.length}`;
    case 'repeat':
      return `repeat x${step.count}`;
    default:
      return `${step.kind} ${'guest' in step ? step.guest : ''}`.trim();
  }
}

/** Runs a block of steps in order; faults switched on in the block without a duration go off at its end. */
export async function runSteps(steps: readonly Step[], prefix: string, ctx: StepContext): Promise<void> {
  const block = new TeardownStack();
  let failure: unknown;
  try {
    for (let i = 0; i < steps.length; i++) {
      if (ctx.cancelled()) throw new Interrupted('cancelled');
      const id = prefix ? `${prefix}.${i + 1}` : String(i + 1);
      await runStep(steps[i], id, ctx, block);
    }
  } catch (e) {
    failure = e;
  }
  const undone = await block.unwind();
  for (const u of undone) ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'error', msg: `switching off ${u.label} failed: ${u.error.message}` });
  if (failure !== undefined) throw failure;
}

async function runStep(step: Step, id: string, ctx: StepContext, block: TeardownStack): Promise<void> {
  const l = label(step);
  ctx.sink.emit({ ev: 'step.start', inst: ctx.inst, step: id, kind: step.kind, label: l });
  try {
    await execute(step, id, ctx, block);
  } catch (e) {
    ctx.sink.emit({ ev: 'step.end', inst: ctx.inst, step: id, kind: step.kind, label: l, ok: false, error: errorInfo(e) });
    throw e;
  }
  ctx.sink.emit({ ev: 'step.end', inst: ctx.inst, step: id, kind: step.kind, label: l, ok: true });
}

async function execute(step: Step, id: string, ctx: StepContext, block: TeardownStack): Promise<void> {
  switch (step.kind) {
    case 'parallel': {
      const settled = await Promise.allSettled(step.branches.map((b, i) => runSteps(b, `${id}.${i + 1}`, ctx)));
      const bad = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (bad) throw bad.reason;
      return;
    }
    case 'repeat':
      for (let i = 0; i < step.count; i++) await runSteps(step.steps, `${id}.${i + 1}`, ctx);
      return;
    default:
      return (HOST_STEPS[step.kind] as (s: typeof step, id: string, ctx: StepContext, block: TeardownStack) => Promise<void>)(step, id, ctx, block);
  }
}
