// JUnit XML for CI systems: one <testsuite> per scenario instance, one <testcase> per check plus
// `steps`; failures carry the message and the diagnostics, skips their reason. A run that stopped
// early gets an erroring `run` testcase saying why. The document is built with xml2js's Builder,
// which escapes text and attribute values (newlines in attributes too); characters XML 1.0 cannot
// carry at all (most C0 controls, a lone surrogate) are dropped first, as Builder refuses them.
import { Builder } from 'xml2js';
import type { CheckResult, InstanceResult, RunSummary } from '../model/result';
import { yamlBlock } from '../util/tap';

const builder = new Builder({
  rootName: 'testsuites',
  xmldec: { version: '1.0', encoding: 'UTF-8' },
  renderOpts: { pretty: true, indent: '  ', newline: '\n' },
});

// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const text = (s: string) => s.replace(NOT_XML, '');
const secs = (ms: number) => (ms / 1000).toFixed(3);

type Testcase = Record<string, unknown>;

function testcase(classname: string, c: CheckResult, seed: number): Testcase {
  const $ = { classname: text(classname), name: text(c.check), time: '0' };
  if (c.verdict === 'skip') return { $, skipped: { $: { message: text(c.message) } } };
  if (c.verdict === 'pass') return { $ };
  const body = yamlBlock({ ...(c.diagnostics ?? {}), seed }, '');
  return { $, failure: { $: { message: text(c.message), type: text(c.check) }, _: text(body) } };
}

function suite(r: InstanceResult, seed: number): Record<string, unknown> {
  const cls = r.scenario;
  if (r.verdict === 'skip') {
    return {
      $: { name: text(r.inst), tests: 1, failures: 0, errors: 0, skipped: 1, time: '0' },
      testcase: { $: { classname: text(cls), name: text(r.inst) }, skipped: { $: { message: text(r.skipReason ?? '') } } },
    };
  }
  const steps: Testcase = { $: { classname: text(cls), name: 'steps', time: secs(r.durationMs) } };
  if (r.aborted) steps.error = { $: { message: text(r.aborted.message), type: text(r.aborted.code) } };
  const cases = [...r.checks.map((c) => testcase(cls, c, seed)), steps];
  const failures = r.checks.filter((c) => c.verdict === 'fail').length;
  const skipped = r.checks.filter((c) => c.verdict === 'skip').length;
  const props = [...Object.entries(r.params), ...(r.flaky ? [['flaky', `passed on attempt ${r.attempts}`]] : []), ...(r.known ? [['known-issue', r.known.issue]] : [])];
  return {
    $: { name: text(r.inst), tests: cases.length, failures, errors: r.aborted ? 1 : 0, skipped, time: secs(r.durationMs), file: text(r.file) },
    ...(props.length ? { properties: { property: props.map(([k, v]) => ({ $: { name: text(k), value: text(v) } })) } } : {}),
    testcase: cases,
  };
}

export function renderJunit(s: RunSummary): string {
  const suites = s.instances.map((r) => suite(r, s.seed));
  if (s.bailOut) {
    suites.push({
      $: { name: 'run', tests: 1, failures: 0, errors: 1, skipped: 0, time: '0' },
      testcase: { $: { classname: 'winpv', name: 'run' }, error: { $: { message: text(s.bailOut), type: 'BAIL_OUT' } } },
    });
  }
  const tests = s.instances.reduce((n, r) => n + (r.verdict === 'skip' ? 1 : r.checks.length + 1), 0) + (s.bailOut ? 1 : 0);
  const errors = s.instances.filter((r) => r.aborted).length + (s.bailOut ? 1 : 0);
  const time = s.instances.reduce((n, r) => n + r.durationMs, 0);
  const $ = {
    name: 'winpv',
    tests,
    failures: s.counts.checksFailed,
    errors,
    ...(s.counts.flaky ? { flaky: s.counts.flaky } : {}),
    ...(s.counts.known ? { known: s.counts.known } : {}),
    time: secs(time),
  };
  return builder.buildObject({ $, testsuite: suites }) + '\n';
}
