import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TraceWriter } from '../../src/trace/writer';
import { parseTrace, readTraceFile } from '../../src/trace/reader';
import { TRACE_SCHEMA, type RunStartEvent } from '../../src/model/trace';

const dir = mkdtempSync(join(tmpdir(), 'winpv-trace-'));
const start: Omit<RunStartEvent, 'seq' | 't'> = { ev: 'run.start', schema: TRACE_SCHEMA, seed: 1, host: { kind: 'sim', label: 'sim', capabilities: [] }, specs: {}, instances: ['a'] };

t.test('the writer stamps seq and host time, writes JSONL in batches (flush writes what it holds), and closes with run.end', async (t) => {
  let now = 0;
  const file = join(dir, 'a.jsonl');
  const w = new TraceWriter({ file });
  w.emit(start);
  w.setClock(() => now);
  now = 12.5;
  w.emit({ ev: 'xs', inst: 'a', path: '/local/domain/1/device/vbd/51712/state', value: '1' });
  t.equal(readFileSync(file, 'utf8'), '', 'held in a batch');
  w.flush();
  t.equal(readFileSync(file, 'utf8').split('\n').length - 1, 2, 'written before the run ends when flushed');
  now = 5; // a clock going backwards never makes time go backwards in the trace
  w.emit({ ev: 'xs', inst: 'a', path: '/x', value: null });
  w.close({ complete: true });
  w.emit({ ev: 'log', level: 'info', msg: 'late' });
  const r = readTraceFile(file);
  t.same(r.problems, []);
  t.equal(r.complete, true);
  t.same(r.events.map((e) => [e.seq, e.t, e.ev]), [[0, 0, 'run.start'], [1, 12.5, 'xs'], [2, 12.5, 'xs'], [3, 12.5, 'run.end']]);
  t.same(r.events, w.events);
});

t.test('a process that dies of an uncaught exception leaves its trace up to the crash', async (t) => {
  const file = join(dir, 'crash.jsonl');
  const writer = require.resolve('../../src/trace/writer');
  const child = spawnSync(process.execPath, ['-r', require.resolve('../support/ts-require.cjs'), '-e', `
    const { TraceWriter } = require(${JSON.stringify(writer)});
    const w = new TraceWriter({ file: ${JSON.stringify(file)} });
    w.emit(${JSON.stringify(start)});
    for (let i = 0; i < 3; i++) w.emit({ ev: 'log', level: 'info', msg: 'before the crash ' + i });
    throw new Error('planted crash');
  `], { encoding: 'utf8', timeout: 60_000 });
  t.not(child.status, 0, 'the child crashed');
  t.match(child.stderr, /planted crash/);
  const r = readTraceFile(file);
  t.equal(r.truncated, true, 'no run.end');
  t.same(r.events.map((e) => e.ev === 'log' ? e.msg : e.ev), ['run.start', 'before the crash 0', 'before the crash 1', 'before the crash 2']);
});

t.test('a trace without run.end is truncated, and a half-written last line is truncation too', async (t) => {
  const w = new TraceWriter();
  w.emit(start);
  w.emit({ ev: 'scenario.skip', inst: 'a', reason: 'x' });
  const text = w.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const r1 = parseTrace(text, 'trace.jsonl');
  t.equal(r1.truncated, true);
  t.same(r1.problems, []);
  const r2 = parseTrace(text + '{"seq":2,"t":0,"ev":"lo', 'trace.jsonl');
  t.equal(r2.truncated, true);
  t.same(r2.problems, [], 'a cut last line is not corruption');
  t.equal(r2.events.length, 2);
});

t.test('bad lines are located problems', async (t) => {
  const lines = [
    JSON.stringify({ seq: 0, t: 3, ...start, schema: 'winpv-trace/0' }),
    '{not json}',
    JSON.stringify({ seq: 1, t: 1, ev: 'ring', inst: 'a' }),
    JSON.stringify({ seq: 5, t: 0.5, ev: 'log', level: 'info', msg: 'x' }),
    JSON.stringify({ seq: 6, t: 2, ev: 'teleport' }),
    // a name every object inherits is no event type either (it was looked up on a plain object)
    JSON.stringify({ seq: 7, t: 2, ev: 'constructor' }),
    JSON.stringify({ seq: 7, t: 2, ev: 'run.end', complete: true }),
  ];
  const r = parseTrace(lines.join('\n') + '\n', 'run/trace.jsonl');
  const msgs = r.problems.map((p) => `${p.location.file}:${p.location.line}: ${p.message}`);
  t.match(msgs, [
    /^run\/trace.jsonl:1: schema 'winpv-trace\/0' is not one this winpv reads \(winpv-trace\/1, winpv-trace\/2\)/,
    /^run\/trace.jsonl:2: not valid JSON/,
    /^run\/trace.jsonl:3: ring: missing field 'guest'/,
  ]);
  t.ok(msgs.some((m) => /:4: seq 5 where 1 was expected/.test(m)), 'a gap in seq');
  t.ok(msgs.some((m) => /:4: time runs backwards/.test(m)));
  t.ok(msgs.some((m) => /:5: unknown event type 'teleport'/.test(m)));
  t.ok(msgs.some((m) => /:6: unknown event type 'constructor'/.test(m)), 'an inherited name is an unknown event type, not a crash');
  const f = join(dir, 'bad.jsonl');
  writeFileSync(f, lines.join('\n') + '\n');
  t.throws(() => readTraceFile(f, 'bad.jsonl'), { code: 'TRACE_INVALID' });
  t.throws(() => readTraceFile(join(dir, 'missing.jsonl'), 'missing.jsonl'), { code: 'TRACE_UNREADABLE' });
});

t.test('a ring sample\'s second read: its indices must be numbers (ring-invariants compares them)', async (t) => {
  const ring = { ev: 'ring', inst: 'a', guest: 'g', dev: 'vif/0', queue: 0, ring: 'rx', nr_ents: 256, req_prod: 865, req_event: 1, rsp_prod: 611, rsp_event: 612, req_cons: 609, why: 'periodic' };
  const text = (reread: unknown) => [{ seq: 0, t: 0, ...start }, { seq: 1, t: 1, ...ring, reread }].map((l) => JSON.stringify(l) + '\n').join('');
  t.same(parseTrace(text({ req_prod: 866, rsp_prod: 613, req_cons: 613 }), 'ok.jsonl').problems, [], 'a well-formed reread');
  t.match(parseTrace(text({ req_prod: '866', rsp_prod: 613, req_cons: null }), 'bad.jsonl').problems.map((p) => p.message), [/ring: field 'reread.req_prod' must be number/, /ring: field 'reread.req_cons' must be number/]);
  t.match(parseTrace(text([1, 2]), 'arr.jsonl').problems.map((p) => p.message), [/ring: field 'reread' must be object/]);
});

t.test('ring.io: consecutive ids of one ring, direction and instant are one event; anything else between them, or another instant, starts another', async (t) => {
  let now = 1;
  const w = new TraceWriter({ clock: () => now });
  const io = (dir: 'req' | 'rsp', id: number, more: { ring?: 'blk' | 'rx'; op?: number; status?: number } = {}) =>
    w.emit({ ev: 'ring.io', inst: 'a', guest: 'win', dev: 'vbd/51712', queue: 0, ring: more.ring ?? 'blk', dir, ids: [id], ...(more.op !== undefined ? { ops: [more.op] } : {}), ...(more.status !== undefined ? { statuses: [more.status] } : {}) });
  w.emit(start);
  io('req', 1, { op: 0 });
  io('req', 2, { op: 1 });
  io('req', 3, { op: 6 });
  io('rsp', 1, { status: 0 }); // other direction
  io('rsp', 2, { status: -1 });
  w.emit({ ev: 'ring', inst: 'a', guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', nr_ents: 32, req_prod: 3, req_event: 4, rsp_prod: 2, rsp_event: 3, why: 'notify' });
  io('rsp', 3, { status: 0 }); // after another event
  io('req', 7, { ring: 'rx' }); // another ring
  now = 2;
  io('req', 8, { ring: 'rx' }); // another instant
  io('req', 9, { ring: 'rx' });
  const last = w.events.at(-1)!;
  t.same(w.events.map((e) => [e.seq, e.ev, (e as { ids?: number[] }).ids]), [
    [0, 'run.start', undefined], [1, 'ring.io', [1, 2, 3]], [2, 'ring.io', [1, 2]], [3, 'ring', undefined], [4, 'ring.io', [3]], [5, 'ring.io', [7]], [6, 'ring.io', [8, 9]],
  ], 'the events in the order they were emitted, each run of ids once');
  t.same(w.events[1], { seq: 1, t: 1, ev: 'ring.io', inst: 'a', guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', dir: 'req', ids: [1, 2, 3], ops: [0, 1, 6] });
  t.same((w.events[2] as { statuses?: number[] }).statuses, [0, -1]);
  t.equal(last.t, 2);
  io('req', 10, { ring: 'rx' });
  t.same((w.events.at(-1) as { ids: number[] }).ids, [10], 'an event read out is written: later ids start a new one');
});

t.test('a winpv-trace/1 trace (one ring.io per id) is read as runs of one id; an unknown schema is refused with the reason', async (t) => {
  const lines = [
    { seq: 0, t: 0, ...start, schema: 'winpv-trace/1' },
    { seq: 1, t: 1, ev: 'ring.io', inst: 'a', guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', dir: 'rsp', id: 4, op: 0, status: 0 },
    { seq: 2, t: 1, ev: 'run.end', complete: true },
  ];
  const r = parseTrace(lines.map((l) => JSON.stringify(l) + '\n').join(''), 'old.jsonl');
  t.same(r.problems, []);
  t.same(r.events[1], { seq: 1, t: 1, ev: 'ring.io', inst: 'a', guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', dir: 'rsp', ids: [4], ops: [0], statuses: [0] });
  const v2 = parseTrace([{ ...lines[0], schema: TRACE_SCHEMA }, lines[1], lines[2]].map((l) => JSON.stringify(l) + '\n').join(''), 'new.jsonl');
  t.match(v2.problems.map((p) => p.message), [/ring.io: missing field 'ids'/], 'a /2 trace must carry ids');
  const future = parseTrace([{ ...lines[0], schema: 'winpv-trace/99' }, lines[2]].map((l) => JSON.stringify(l) + '\n').join(''), 'future.jsonl');
  t.match(future.problems.map((p) => p.message), [/schema 'winpv-trace\/99' is not one this winpv reads .*the winpv that wrote it/]);
});
