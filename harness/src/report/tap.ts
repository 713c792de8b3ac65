// TAP 14: one subtest per scenario instance, one test point per check plus a `steps` point (did
// every step run), YAML diagnostics on failures (check, expected, observed, time, xenstore path or
// ring, seed), `# SKIP reason` for skips, `Bail out!` where a run stopped early.
import type { CheckResult, InstanceResult, RunSummary } from '../model/result';
import type { Reporter, RunInfo } from '../model/reporter';
import { TAP_HEADER, tapDescription as desc, tapPoint, yamlBlock } from '../util/tap';

function point(n: number, c: CheckResult, seed: number, indent: string): string {
  if (c.verdict === 'skip') return tapPoint({ n, ok: true, description: c.check, skip: c.message, indent });
  if (c.verdict === 'pass') return tapPoint({ n, ok: true, description: `${c.check}: ${c.message}`, indent });
  const { expected, observed, at, path, ring, ...rest } = c.diagnostics ?? {};
  return tapPoint({ n, ok: false, description: `${c.check}: ${c.message}`, indent, diagnostics: { check: c.check, message: c.message, expected, observed, time: at, path, ring, ...rest, seed } });
}

/** The TAP lines of one instance (subtest and its parent point numbered n). */
export function renderInstance(n: number, r: InstanceResult, seed: number): string {
  if (r.verdict === 'skip') return `ok ${n} - ${desc(r.inst)} # SKIP ${desc(r.skipReason ?? 'skipped')}`;
  const ind = '    ';
  const lines = [`# Subtest: ${desc(r.inst)}`];
  r.checks.forEach((c, i) => lines.push(point(i + 1, c, seed, ind)));
  const stepsN = r.checks.length + 1;
  if (r.aborted) {
    lines.push(`${ind}not ok ${stepsN} - steps: ${desc(r.aborted.message)}`);
    lines.push(`${ind}  ---\n${yamlBlock({ check: 'steps', code: r.aborted.code, message: r.aborted.message, seed }, `${ind}  `)}\n${ind}  ...`);
  } else lines.push(`${ind}ok ${stepsN} - steps: all steps completed`);
  lines.push(`${ind}1..${stepsN}`);
  const failed = r.checks.filter((c) => c.verdict === 'fail').map((c) => c.check);
  // flaky (failed, then passed on a retry) and known failures are TODO: shown, not counted as failures
  const todo = r.known ? ` # TODO known issue ${desc(r.known.issue)}` : r.flaky ? ` # TODO flaky: passed on attempt ${r.attempts} of ${r.attempts}` : '';
  lines.push(`${r.verdict === 'fail' ? 'not ok' : 'ok'} ${n} - ${desc(r.inst)}${todo || ` # time=${r.durationMs}ms`}`);
  if (r.verdict === 'fail' || r.flaky) {
    lines.push(`  ---\n${yamlBlock({ scenario: r.scenario, file: r.file, params: Object.keys(r.params).length ? r.params : undefined, failed: failed.length ? failed : undefined, aborted: r.aborted?.code, flaky: r.flaky, attempts: r.attempts, known: r.known?.issue, seed }, '  ')}\n  ...`);
  }
  return lines.join('\n');
}

/** The closing lines: the plan, or `Bail out!` when the run stopped early. */
function renderTapEnd(s: Pick<RunSummary, 'bailOut' | 'instances' | 'knownNotFailing'>): string {
  const stale = (s.knownNotFailing ?? []).map((k) => `# known issue ${k.issue} (${k.scenario}, ${k.check}) did not fail: it may be fixed; close it and remove it from the known-issues file\n`).join('');
  return stale + (s.bailOut ? `Bail out! ${desc(s.bailOut)}` : `1..${s.instances.length}`);
}

export function renderTap(s: RunSummary): string {
  return [TAP_HEADER, ...s.instances.map((r, i) => renderInstance(i + 1, r, s.seed)), renderTapEnd(s)].join('\n') + '\n';
}

/** Streams TAP as instances end (for `--reporter tap` on stdout). */
export class TapStreamReporter implements Reporter {
  private n = 0;
  private seed = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}
  onRunStart(info: RunInfo): void {
    this.seed = info.seed;
    this.out.write(TAP_HEADER + '\n');
  }
  onInstanceEnd(r: InstanceResult): void {
    this.out.write(renderInstance(++this.n, r, this.seed) + '\n');
  }
  onRunEnd(s: RunSummary): void {
    this.out.write(renderTapEnd(s) + '\n');
  }
}
