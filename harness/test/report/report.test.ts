import t from 'tap';
import { Parser } from 'tap-parser';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstanceResult, RunSummary } from '../../src/model/result';
import { renderTap } from '../../src/report/tap';
import { renderJunit } from '../../src/report/junit';
import { parseXml } from '../../src/xml';
import { renderHtml } from '../../src/report/html';
import { updateLatest, writeReports } from '../../src/report/files';
import { ConsoleReporter } from '../../src/report/console';
import { skipUnlessTool } from '../support/tools';

const pass: InstanceResult = {
  inst: 'vbd-connect', scenario: 'vbd-connect', file: 'scenarios/vbd-connect.xml', params: {}, tags: ['smoke'], verdict: 'pass', durationMs: 1234,
  checks: [
    { check: 'xenbus-transitions', verdict: 'pass', message: '6 transitions # fine' },
    { check: 'grants', verdict: 'skip', message: "host xl cannot observe this (no 'grant-audit' capability)" },
  ],
};
const fail: InstanceResult = {
  inst: 'multi-page-ring[order=2]', scenario: 'multi-page-ring', file: 'scenarios/multi-page-ring.xml', params: { order: '2' }, tags: ['nightly'], verdict: 'fail', durationMs: 900,
  checks: [
    { check: 'ring-progress', verdict: 'fail', message: 'win vbd/51712 q0 blk: STUCK', diagnostics: { expected: 'progress within 1000 ms', observed: { req_prod: 40, rsp_prod: 36 }, at: 5200, ring: 'win vbd/51712 q0 blk', seq: 812 } },
    { check: 'xenstore-keys', verdict: 'fail', message: 'protocol: bad "value"\nwith a newline', diagnostics: { expected: 'x86_64-abi', observed: 'x86_32-abi', at: 10, path: '/local/domain/1/device/vbd/51712/protocol' } },
  ],
};
const skipped: InstanceResult = { inst: 'migrate-under-io', scenario: 'migrate-under-io', file: 'x', params: {}, tags: [], verdict: 'skip', skipReason: "host xl lacks 'migrate'", checks: [], durationMs: 0 };
const aborted: InstanceResult = { ...pass, inst: 'aborted-one', verdict: 'fail', aborted: { code: 'TIMEOUT', message: 'wait for x did not finish within 2000 ms (host time)' } };

const summary = (instances: InstanceResult[], bailOut?: string): RunSummary => ({
  seed: 42, host: { kind: 'sim', label: 'sim' }, complete: !bailOut, ...(bailOut ? { bailOut } : {}),
  counts: { instances: instances.length, passed: 1, failed: 2, skipped: 1, checks: 6, checksFailed: 2 }, instances,
});

async function parse(tap: string) {
  const p = new Parser();
  const done = new Promise<any>((r) => p.on('complete', r));
  const asserts: any[] = [];
  p.on('assert', (a: any) => asserts.push(a));
  const children: any[] = [];
  p.on('child', (c: Parser) => c.on('assert', (a: any) => children.push(a)));
  p.end(tap);
  return { results: await done, asserts, children };
}

t.test('TAP 14 parses back: subtests, points per check, YAML diagnostics, skips', async (t) => {
  const tap = renderTap(summary([pass, fail, skipped, aborted]));
  t.match(tap, /^TAP version 14\n/);
  const { results, asserts, children } = await parse(tap);
  t.equal(results.ok, false);
  t.equal(results.count, 4);
  t.same(asserts.map((a) => [a.name, a.ok, !!a.skip]), [
    ['vbd-connect', true, false], ['multi-page-ring[order=2]', false, false], ['migrate-under-io', true, true], ['aborted-one', false, false],
  ]);
  const stuck = children.find((c) => /ring-progress/.test(c.name));
  t.equal(stuck.ok, false);
  t.same(stuck.diag.observed, { req_prod: 40, rsp_prod: 36 });
  t.equal(stuck.diag.seed, 42);
  t.equal(stuck.diag.time, 5200);
  t.equal(stuck.diag.ring, 'win vbd/51712 q0 blk');
  const keys = children.find((c) => /xenstore-keys/.test(c.name));
  t.equal(keys.diag.path, '/local/domain/1/device/vbd/51712/protocol');
  t.equal(keys.diag.message, 'protocol: bad "value"\nwith a newline');
  t.match(children.find((c) => /xenbus-transitions/.test(c.name)).name, /6 transitions \\?# fine/, 'a # in a message is escaped, not a directive');
  t.ok(children.find((c) => c.name.startsWith('grants')).skip);
  const steps = children.filter((c) => /^steps/.test(c.name));
  t.same(steps.map((s) => s.ok), [true, true, false]);
});

t.test('a run that stopped early ends with Bail out!', async (t) => {
  const tap = renderTap(summary([pass], 'host failure: SSH_DROPPED'));
  t.match(tap, /\nBail out! host failure: SSH_DROPPED\n$/);
  const { results } = await parse(tap);
  t.equal(results.bailout, 'host failure: SSH_DROPPED');
});

t.test('JUnit is well-formed XML with a suite per instance', async (t) => {
  const x = renderJunit(summary([pass, fail, skipped, aborted], 'interrupted'));
  t.match(x, /<testsuites name="winpv" tests="\d+" failures="2" errors="2"/);
  t.match(x, /<failure message="win vbd\/51712 q0 blk: STUCK" type="ring-progress">/);
  t.match(x, /<skipped message="host xl lacks &apos;migrate&apos;"\/>|<skipped message="host xl lacks 'migrate'"\/>/);
  t.match(x, /<error message="interrupted" type="BAIL_OUT"\/>/);
  t.test('xmllint reads it as well-formed XML', { skip: skipUnlessTool('xmllint') }, async (t) => {
    const r = spawnSync('xmllint', ['--noout', '-'], { input: x, encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
  });
});

t.test('JUnit escapes what a message can hold: read back, every character is as the check wrote it', async (t) => {
  const nasty = 'a < b && "c" \'d\' > e\nsecond line\u0001 ]]> end';
  const bad = { ...fail, inst: 'q&a<1>', checks: [{ check: 'xenstore-keys' as const, verdict: 'fail' as const, message: nasty, diagnostics: { observed: '</failure>' } }] };
  const { root, problems } = parseXml(renderJunit(summary([bad])), 'junit.xml');
  t.same(problems, []);
  const suite = root!.child('testsuite')!;
  t.equal(suite.attr('name'), 'q&a<1>');
  const failure = suite.child('testcase')!.child('failure')!;
  t.equal(failure.attr('message'), nasty.replace('\u0001', ''), 'quotes, ampersands, the newline kept; a control character XML cannot carry dropped');
  t.match(failure.text, /observed: "<\/failure>"/, "the diagnostics survive as text");
});

t.test('the report directory is written atomically and latest points at it', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-rep-'));
  const s = summary([pass, fail]);
  const events = [
    { seq: 0, t: 0, ev: 'ring' as const, inst: 'multi-page-ring[order=2]', guest: 'win', dev: 'vbd/51712' as const, queue: 0, ring: 'blk' as const, nr_ents: 32, req_prod: 4, req_event: 5, rsp_prod: 0, rsp_event: 1, why: 'periodic' as const },
    { seq: 1, t: 10, ev: 'xs' as const, inst: 'multi-page-ring[order=2]', path: '/local/domain/1/device/vbd/51712/state', value: '4' },
  ];
  for (const id of ['run-1', 'run-2']) {
    writeReports(join(root, id), s, { runId: id, startedAt: '2026-01-01T00:00:00.000Z', inputs: ['scenarios'], command: 'run' }, events);
    updateLatest(join(root, id));
    t.equal(readlinkSync(join(root, 'latest')), id);
  }
  t.ok(lstatSync(join(root, 'latest')).isSymbolicLink());
  const sum = JSON.parse(readFileSync(join(root, 'run-2', 'summary.json'), 'utf8'));
  t.equal(sum.runId, 'run-2');
  t.equal(sum.schema, 'winpv-summary/1');
  const html = readFileSync(join(root, 'run-2', 'report.html'), 'utf8');
  t.match(html, /<script type="application\/json" id="winpv-data">/);
  t.notMatch(html, /<script[^>]+src=|<link\b|url\(\s*['"]?https?:/, 'self-contained: no external script, stylesheet or image');
  const { results } = await parse(readFileSync(join(root, 'run-2', 'results.tap'), 'utf8'));
  t.equal(results.count, 2);
});

t.test('HTML escapes what it shows', async (t) => {
  const evil = { ...pass, inst: '<script>x</script>' };
  t.notMatch(renderHtml(summary([evil]), [], { runId: 'r', startedAt: 'now', inputs: [], command: 'run' }), /<script>x/);
});

/** A console reporter writing into a string, started for two instances. */
function consoleInto(tty: boolean) {
  const sink = { text: '' };
  const stream = { write: (s: string) => ((sink.text += s), true) } as unknown as NodeJS.WritableStream;
  const c = new ConsoleReporter(stream, tty);
  c.onRunStart({ seed: 42, host: { kind: 'sim', label: 'sim' }, instances: ['vbd-connect', 'x'] });
  c.onInstanceStart('vbd-connect');
  return { c, sink };
}

t.test('console: one line per instance off a terminal, and a summary', async (t) => {
  const { c, sink } = consoleInto(false);
  c.onInstanceEnd(pass);
  c.onInstanceEnd(fail);
  c.onRunEnd(summary([pass, fail]));
  const out = sink.text;
  t.match(out, /ok    vbd-connect \(1 checks, 1.2 s host time\)\n/);
  t.match(out, /FAIL  multi-page-ring\[order=2\]: ring-progress: win vbd\/51712 q0 blk: STUCK\n/);
  t.match(out, /failures:\n  multi-page-ring\[order=2\]: ring-progress/);
  t.notMatch(out, /\x1b/, 'no terminal escapes off a terminal');
});

t.test('console on a terminal: a progress line rewritten in place', async (t) => {
  const { c, sink } = consoleInto(true);
  t.match(sink.text, /\r\x1b\[2K\[1\/2\] vbd-connect \.\.\.$/);
  c.onInstanceEnd(pass);
  t.match(sink.text, /\r\x1b\[2Kok    vbd-connect/);
  c.onRunEnd(summary([pass]));
  t.match(sink.text, /1 passed, 2 failed/);
});
