// JUnit XML for CI systems: one <testsuite> per scenario instance, one <testcase> per check plus
// `steps`; failures carry the message and the diagnostics, skips their reason. A run that stopped
// early gets an erroring `run` testcase saying why.
import type { CheckResult, InstanceResult, RunSummary } from '../model/result';
import { yamlBlock } from '../util/tap';

const esc = (s: string) =>
  s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const secs = (ms: number) => (ms / 1000).toFixed(3);

function testcase(classname: string, c: CheckResult, seed: number): string {
  const open = `    <testcase classname="${esc(classname)}" name="${esc(c.check)}" time="0">`;
  if (c.verdict === 'skip') return `${open}<skipped message="${esc(c.message)}"/></testcase>`;
  if (c.verdict === 'pass') return `${open}</testcase>`;
  const body = yamlBlock({ ...(c.diagnostics ?? {}), seed }, '');
  return `${open}\n      <failure message="${esc(c.message)}" type="${esc(c.check)}">${esc(body)}</failure>\n    </testcase>`;
}

function suite(r: InstanceResult, seed: number): string {
  const cls = r.scenario;
  if (r.verdict === 'skip') {
    return `  <testsuite name="${esc(r.inst)}" tests="1" failures="0" errors="0" skipped="1" time="0">\n    <testcase classname="${esc(cls)}" name="${esc(r.inst)}"><skipped message="${esc(r.skipReason ?? '')}"/></testcase>\n  </testsuite>`;
  }
  const cases = r.checks.map((c) => testcase(cls, c, seed));
  cases.push(
    r.aborted
      ? `    <testcase classname="${esc(cls)}" name="steps" time="${secs(r.durationMs)}">\n      <error message="${esc(r.aborted.message)}" type="${esc(r.aborted.code)}"/>\n    </testcase>`
      : `    <testcase classname="${esc(cls)}" name="steps" time="${secs(r.durationMs)}"></testcase>`,
  );
  const failures = r.checks.filter((c) => c.verdict === 'fail').length;
  const skipped = r.checks.filter((c) => c.verdict === 'skip').length;
  const props = [...Object.entries(r.params), ...(r.flaky ? [['flaky', `passed on attempt ${r.attempts}`]] : []), ...(r.known ? [['known-issue', r.known.issue]] : [])]
    .map(([k, v]) => `      <property name="${esc(k)}" value="${esc(v)}"/>`);
  return [
    `  <testsuite name="${esc(r.inst)}" tests="${cases.length}" failures="${failures}" errors="${r.aborted ? 1 : 0}" skipped="${skipped}" time="${secs(r.durationMs)}" file="${esc(r.file)}">`,
    ...(props.length ? ['    <properties>', ...props, '    </properties>'] : []),
    ...cases,
    '  </testsuite>',
  ].join('\n');
}

export function renderJunit(s: RunSummary): string {
  const suites = s.instances.map((r) => suite(r, s.seed));
  if (s.bailOut) {
    suites.push(`  <testsuite name="run" tests="1" failures="0" errors="1" skipped="0" time="0">\n    <testcase classname="winpv" name="run"><error message="${esc(s.bailOut)}" type="BAIL_OUT"/></testcase>\n  </testsuite>`);
  }
  const tests = s.instances.reduce((n, r) => n + (r.verdict === 'skip' ? 1 : r.checks.length + 1), 0) + (s.bailOut ? 1 : 0);
  const failures = s.counts.checksFailed;
  const errors = s.instances.filter((r) => r.aborted).length + (s.bailOut ? 1 : 0);
  const time = s.instances.reduce((n, r) => n + r.durationMs, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="winpv" tests="${tests}" failures="${failures}" errors="${errors}"${s.counts.flaky ? ` flaky="${s.counts.flaky}"` : ''}${s.counts.known ? ` known="${s.counts.known}"` : ''} time="${secs(time)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
