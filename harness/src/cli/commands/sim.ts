// winpv sim diff-lab: the simulator's blkback/netback beside a recording of Linux's on real Xen (the
// lab), state by state and key by key, each difference with its reason when it is a known one.
import { mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { inputError } from '../../model/errors';
import type { Command, CommandContext } from '../command';
import { parseCommandArgs, runSubcommand } from '../command';
import { driverSpecs } from '../run-support';
import { diffLab, diffTapback, explainStepDiff, simBackendEvents, simBackendSteps, type BackendRecording } from '../../hosts/sim/lab-diff';
import { sequenceOf, stepDiffText, timingsName, xenVersionOf } from '../../hosts/xl/backend-keys';
import { comparisonLines, compareLabTimings, labTimings, type LabTimings } from '../../hosts/sim/lab-timings';
import { readTraceFile } from '../../trace/reader';
import { writeFileAtomic } from '../../util/atomic-write';

/** Where the committed recordings are (capture-backend-keys.ts writes them there). */
const RECORDINGS = resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'lab');

const HELP = [
  'usage: winpv sim diff-lab [recording.json ...] [--json]',
  '',
  "Compares the simulator's blkback and netback with a recording of Linux's on real Xen",
  '(backend-states.xen-<xen>.linux-<kernel>.json, made by harness/test/fixtures/lab/capture-backend-keys.ts',
  'on `winpv lab up`; by default the committed ones): each end\'s state sequence, then at every backend',
  'state the driver-written backend keys and their values. Prints one line per difference with its',
  'reason when it is a known one; exits 1 when a difference has no reason (fix the simulator or explain it).',
  'Then the simulated tapdisk3 disk (backend/vbd3) against tapback as its source writes xenstore',
  '(hosts/sim/tapback.ts, from xapi-project/blktap): the states, the keys at each, and the order of its writes.',
  '',
  'options:',
  '  --json   machine-readable output',
].join('\n');

async function diffLabCommand(ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(ctx, { help: HELP }, { json: { type: 'boolean' } }, { positionals: true });
  if (!args) return 0;
  const files = args.positionals.length
    ? args.positionals.map((f) => resolve(ctx.cwd, f))
    : readdirSync(RECORDINGS).filter((f) => /^backend-states\..*\.json$/.test(f)).map((f) => join(RECORDINGS, f));
  if (files.length === 0) throw inputError('SIM_NO_RECORDING', `no recording of real backends (backend-states.*.json) in ${RECORDINGS}: run capture-backend-keys.ts on the lab`);
  const sim = await simBackendSteps(driverSpecs(ctx.cwd).specs);
  let unexplained = 0;
  const report = files.map((file) => {
    let rec: BackendRecording;
    try {
      rec = JSON.parse(readFileSync(file, 'utf8')) as BackendRecording;
    } catch (e) {
      throw inputError('SIM_BAD_RECORDING', `${file}: not a recording of real backends: ${(e as Error).message}`);
    }
    if (!rec.devices?.vbd?.steps || !rec.devices?.vif?.steps) throw inputError('SIM_BAD_RECORDING', `${file}: no devices.vbd.steps / devices.vif.steps`);
    const devices = diffLab(rec, sim).map(({ device, diffs }) => ({
      device,
      real: { backend: sequenceOf(rec.devices[device].steps, 'backend'), frontend: sequenceOf(rec.devices[device].steps, 'frontend') },
      sim: { backend: sequenceOf(sim[device], 'backend'), frontend: sequenceOf(sim[device], 'frontend') },
      diffs: diffs.map((d) => ({ ...d, line: stepDiffText(d), reason: explainStepDiff(d) })),
    }));
    unexplained += devices.reduce((n, d) => n + d.diffs.filter((x) => !x.reason).length, 0);
    return { recording: basename(file), xen: rec.captured.xen, kernel: rec.captured.kernel, devices };
  });
  const tapback = diffTapback((await simBackendEvents(driverSpecs(ctx.cwd).specs, 5, { diskBackend: 'vbd3' })).vbd).map((d) => ({ ...d, line: stepDiffText(d) }));
  unexplained += tapback.length;
  if (args.values.json) ctx.out.write(JSON.stringify({ recordings: report, tapback }, null, 2) + '\n');
  else {
    for (const r of report) {
      ctx.out.write(`${r.recording} (Xen ${r.xen}, Linux ${r.kernel}) vs the simulator\n`);
      for (const d of r.devices) {
        ctx.out.write(`  ${d.device}: backend states real ${d.real.backend.join(' ')} / sim ${d.sim.backend.join(' ')}; frontend states real ${d.real.frontend.join(' ')} / sim ${d.sim.frontend.join(' ')}\n`);
        if (d.diffs.length === 0) ctx.out.write('    no difference\n');
        for (const x of d.diffs) ctx.out.write(`    ${x.reason ? 'known' : 'NEW  '} ${x.line}${x.reason ? `: ${x.reason}` : ''}\n`);
      }
    }
    ctx.out.write(`tapdisk3 (vbd3) as blktap's tapback writes it vs the simulator: ${tapback.length ? '' : 'no difference'}\n`);
    for (const x of tapback) ctx.out.write(`    NEW   ${x.line}\n`);
    ctx.out.write(`${unexplained} difference(s) without a reason\n`);
  }
  return unexplained ? 1 : 0;
}

const TIMINGS_HELP = [
  'usage: winpv sim lab-timings <trace.jsonl> [--xen V | --xl-info FILE] [--kernel V] [--compare FILE] [--out-dir DIR]',
  '',
  "The durations the simulator models, measured in a real host's trace (a `winpv run --host lab` run):",
  "boot to the first frontend state, a backend's reaction to a frontend state change, hot-unplug from",
  'the request to both directories gone, save/restore and migration downtime. Prints JSON (the fixture',
  'test/fixtures/lab/timings.xen-<xen>.linux-<kernel>.json is this output for the lab of those versions).',
  '',
  'options:',
  '  --xen V          the Xen version of the host the trace came from (recorded in the output)',
  "  --xl-info FILE   the Xen version read from that host's `xl info` output (xen_major.xen_minor xen_extra)",
  '  --kernel V       its dom0 kernel version (`winpv lab ssh -- uname -r`)',
  '  --out-dir DIR    write the JSON to DIR/timings.xen-<xen>.linux-<kernel>.json instead of printing it',
  '  --compare FILE   print each figure beside a committed timings file, and whether the host\'s Xen and',
  "                   kernel are the ones the file's name says; exits 1 when they are not. Timing",
  '                   differences are printed only, never a failure. Needs the versions (--xen or --xl-info,',
  '                   and --kernel); the JSON is then printed only with --out-dir.',
].join('\n');

/** A file named on the command line, read whole; a missing one is bad input. */
function readText(ctx: CommandContext, f: string): string {
  try {
    return readFileSync(resolve(ctx.cwd, f), 'utf8');
  } catch (e) {
    throw inputError('SIM_TIMINGS_USAGE', `${f}: ${(e as Error).message}`);
  }
}

async function labTimingsCommand(ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(
    ctx,
    { help: TIMINGS_HELP },
    { xen: { type: 'string' }, 'xl-info': { type: 'string' }, kernel: { type: 'string' }, compare: { type: 'string' }, 'out-dir': { type: 'string' } },
    { positionals: true },
  );
  if (!args) return 0;
  if (args.positionals.length !== 1) throw inputError('SIM_TIMINGS_USAGE', 'winpv sim lab-timings takes one trace.jsonl');
  if (args.values.xen !== undefined && args.values['xl-info'] !== undefined) throw inputError('SIM_TIMINGS_USAGE', 'give the Xen version once: --xen or --xl-info');
  const xen = args.values['xl-info'] !== undefined ? xenVersionOf(readText(ctx, args.values['xl-info'])) : args.values.xen;
  if (args.values['xl-info'] !== undefined && !xen) throw inputError('SIM_TIMINGS_USAGE', `${args.values['xl-info']}: no xen_major/xen_minor in it (not \`xl info\` output)`);
  const kernel = args.values.kernel;
  const versioned = args.values.compare !== undefined || args.values['out-dir'] !== undefined;
  if (versioned && (!xen || !kernel)) throw inputError('SIM_TIMINGS_USAGE', '--compare and --out-dir need the host\'s versions: --xen (or --xl-info) and --kernel');
  const file = resolve(ctx.cwd, args.positionals[0]!);
  const { events } = readTraceFile(file, args.positionals[0]);
  // the committed figures, read before anything is written (--out-dir may name the fixtures' directory)
  let committed: Partial<LabTimings> | undefined;
  if (args.values.compare !== undefined) {
    try {
      committed = JSON.parse(readText(ctx, args.values.compare)) as Partial<LabTimings>;
      if (typeof committed !== 'object' || committed === null) throw new Error('not a JSON object');
    } catch (e) {
      throw inputError('SIM_BAD_TIMINGS', `${args.values.compare}: not a timings file: ${(e as Error).message}`);
    }
  }
  const start = events[0]?.ev === 'run.start' ? events[0] : undefined;
  const measured = labTimings(events);
  const out = {
    // the run's directory names the run (reports/<run-id>/trace.jsonl): the trace, without this machine's path
    source: { trace: `${basename(dirname(realpathSync(file)))}/${basename(file)}`, host: start?.host.label, xen: xen ?? null, kernel: kernel ?? null, instances: start?.instances ?? [] },
    note: `ms between events the xenstore probe saw in dom0 (a watch over SSH): each includes the probe's delivery${start?.host.label === 'lab' ? '. The lab is Xen inside QEMU TCG: slower than hardware' : ''}`,
    ...measured,
  };
  const json = JSON.stringify(out, null, 2) + '\n';
  if (args.values['out-dir'] !== undefined) {
    const dir = resolve(ctx.cwd, args.values['out-dir']);
    mkdirSync(dir, { recursive: true });
    const target = join(dir, timingsName(xen!, kernel!));
    writeFileAtomic(target, json);
    ctx.out.write(`wrote ${basename(target)}\n`);
  } else if (args.values.compare === undefined) ctx.out.write(json);
  if (committed === undefined) return 0;
  const c = compareLabTimings(basename(resolve(ctx.cwd, args.values.compare!)), committed, measured, { xen: xen!, kernel: kernel! });
  ctx.out.write(comparisonLines(c).join('\n') + '\n');
  return c.versionsMatch ? 0 : 1;
}

const command: Command = {
  name: 'sim',
  summary: 'the simulated host: its fidelity to real backends',
  help: [
    'usage: winpv sim <subcommand>',
    '',
    '  diff-lab      the simulator\'s blkback/netback vs a recording of Linux\'s on real Xen, key by key',
    '  lab-timings   the durations the simulator models, measured in a real host\'s trace',
  ].join('\n'),
  run(ctx) {
    return runSubcommand(ctx, this, { 'diff-lab': diffLabCommand, 'lab-timings': labTimingsCommand });
  },
};
export default command;
