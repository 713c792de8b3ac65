// The trace reader: parses trace.jsonl back into events and validates it against winpv-trace/1.
// Bad lines are located problems (file:line), not exceptions; a trace that does not end with
// run.end (or whose last line was cut mid-write) is reported as truncated, and the events before
// the cut are still returned so the checks can judge what was recorded.
import { readFileSync } from 'node:fs';
import { inputError, type Problem } from '../model/errors';
import { TRACE_SCHEMA, type TraceEvent } from '../model/trace';

export interface ReadTrace {
  events: TraceEvent[];
  /** True when the trace ends with run.end. */
  complete: boolean;
  /** True when the last event is not run.end (the run was cut short or the file was cut). */
  truncated: boolean;
  problems: Problem[];
}

type FieldType = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'string|null';

/** Required fields per event type (beyond seq, t, ev). Optional fields are checked only for type. */
const SCHEMA: Record<TraceEvent['ev'], { required: Record<string, FieldType>; optional?: Record<string, FieldType> }> = {
  'run.start': { required: { schema: 'string', seed: 'number', host: 'object', specs: 'object', instances: 'array' }, optional: { shard: 'object', knownIssues: 'array' } },
  'scenario.start': {
    required: { inst: 'string', scenario: 'string', file: 'string', params: 'object', tags: 'array', drivers: 'array', guests: 'array', checks: 'array', faults: 'array' },
  },
  'scenario.skip': { required: { inst: 'string', reason: 'string' } },
  'scenario.end': { required: { inst: 'string', status: 'string' }, optional: { error: 'object' } },
  'step.start': { required: { inst: 'string', step: 'string', kind: 'string', label: 'string' } },
  'step.end': { required: { inst: 'string', step: 'string', kind: 'string', label: 'string' }, optional: { ok: 'boolean', error: 'object' } },
  guest: { required: { inst: 'string', guest: 'string', domid: 'number', what: 'string' }, optional: { detail: 'object' } },
  xs: { required: { inst: 'string', path: 'string', value: 'string|null' }, optional: { guest: 'string', snapshot: 'boolean' } },
  ring: {
    required: { inst: 'string', guest: 'string', dev: 'string', queue: 'number', ring: 'string', nr_ents: 'number', req_prod: 'number', req_event: 'number', rsp_prod: 'number', rsp_event: 'number', why: 'string' },
    optional: { req_cons: 'number', rsp_cons: 'number' },
  },
  'ring.io': { required: { inst: 'string', guest: 'string', dev: 'string', queue: 'number', ring: 'string', dir: 'string', id: 'number' }, optional: { op: 'number', status: 'number' } },
  'backend.stats': { required: { inst: 'string', guest: 'string', dev: 'string', stats: 'object' } },
  grants: { required: { inst: 'string', guest: 'string', domid: 'number', when: 'string', active: 'array', mapped: 'array', revokedWhileMapped: 'array' }, optional: { dev: 'string' } },
  workload: { required: { inst: 'string', guest: 'string', step: 'string', dev: 'string', result: 'object' }, optional: { raw: 'string' } },
  baseline: { required: { inst: 'string', metric: 'string', unit: 'string', better: 'string', values: 'array', hostClass: 'string', windowsBuild: 'string' }, optional: { note: 'string' } },
  drivers: { required: { inst: 'string', guest: 'string', bound: 'array', unbound: 'array', unplugged: 'object' }, optional: { expected: 'object', verified: 'array', states: 'array', nics: 'array' } },
  'nic.set': { required: { inst: 'string', guest: 'string', dev: 'string', mac: 'string', ipv4: 'array', ipv6: 'array', dns: 'array' }, optional: { mtu: 'number' } },
  memory: { required: { inst: 'string', guest: 'string', domid: 'number', targetKiB: 'number', staticMaxKiB: 'number', actualKiB: 'number' } },
  fault: { required: { inst: 'string', name: 'string', on: 'boolean' }, optional: { detail: 'object' } },
  artifact: {
    required: { inst: 'string', guest: 'string', kind: 'string' },
    optional: { path: 'string', bytes: 'number', sha256: 'string', source: 'string', missing: 'string', redacted: 'number' },
  },
  log: { required: { level: 'string', msg: 'string' }, optional: { inst: 'string' } },
  'teardown.fail': { required: { inst: 'string', label: 'string', error: 'object' } },
  'run.end': { required: { complete: 'boolean' }, optional: { reason: 'string', error: 'object' } },
};

function typeOk(v: unknown, t: FieldType): boolean {
  switch (t) {
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'string|null':
      return v === null || typeof v === 'string';
    default:
      return typeof v === t;
  }
}

/** Validates one parsed line; returns the problems (empty when valid). */
export function validateEvent(o: unknown): string[] {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return ['not a JSON object'];
  const e = o as Record<string, unknown>;
  const out: string[] = [];
  if (typeof e.seq !== 'number' || !Number.isInteger(e.seq) || e.seq < 0) out.push('seq must be a non-negative integer');
  if (typeof e.t !== 'number' || !Number.isFinite(e.t) || e.t < 0) out.push('t must be a non-negative number');
  if (typeof e.ev !== 'string') return [...out, 'ev must be a string'];
  const schema = SCHEMA[e.ev as TraceEvent['ev']];
  if (!schema) return [...out, `unknown event type '${e.ev}'`];
  for (const [k, t] of Object.entries(schema.required)) {
    if (!(k in e)) out.push(`${e.ev}: missing field '${k}'`);
    else if (!typeOk(e[k], t)) out.push(`${e.ev}: field '${k}' must be ${t}`);
  }
  for (const [k, t] of Object.entries(schema.optional ?? {})) {
    if (k in e && e[k] !== undefined && !typeOk(e[k], t)) out.push(`${e.ev}: field '${k}' must be ${t}`);
  }
  return out;
}

/** Parses trace text. `file` is used for locations only. */
export function parseTrace(text: string, file: string): ReadTrace {
  const events: TraceEvent[] = [];
  const problems: Problem[] = [];
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  if (endsWithNewline) lines.pop();
  let cutLastLine = false;
  let lastT = 0;
  lines.forEach((line, i) => {
    const loc = { file, line: i + 1 };
    if (line.trim() === '') {
      problems.push({ location: loc, message: 'empty line', rule: 'trace-syntax' });
      return;
    }
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (err) {
      if (i === lines.length - 1 && !endsWithNewline) {
        cutLastLine = true; // the writer was interrupted mid-line: that is truncation, not corruption
        return;
      }
      problems.push({ location: loc, message: `not valid JSON: ${(err as Error).message}`, rule: 'trace-syntax' });
      return;
    }
    const bad = validateEvent(o);
    for (const m of bad) problems.push({ location: loc, message: m, rule: 'trace-schema' });
    if (bad.length) return;
    const e = o as TraceEvent;
    // seq is consecutive from 0; a gap means a lost event
    const expectedSeq = events.length === 0 ? 0 : events[events.length - 1].seq + 1;
    if (e.seq !== expectedSeq) {
      problems.push({ location: loc, message: `seq ${e.seq} where ${expectedSeq} was expected (an event was lost or reordered)`, rule: 'trace-seq' });
    }
    if (e.t < lastT) problems.push({ location: loc, message: `time runs backwards (${e.t} < ${lastT})`, rule: 'trace-time' });
    lastT = Math.max(lastT, e.t);
    if (events.length === 0 && e.ev !== 'run.start') {
      problems.push({ location: loc, message: `the first event must be run.start, not ${e.ev}`, rule: 'trace-start' });
    }
    if (e.ev === 'run.start' && e.schema !== TRACE_SCHEMA) {
      problems.push({ location: loc, message: `schema '${e.schema}' is not ${TRACE_SCHEMA}`, rule: 'trace-schema' });
    }
    if (events.length > 0 && events[events.length - 1].ev === 'run.end') {
      problems.push({ location: loc, message: 'event after run.end', rule: 'trace-end' });
    }
    events.push(e);
  });
  if (events.length === 0 && problems.length === 0) {
    problems.push({ location: { file, line: 1 }, message: 'empty trace (no run.start)', rule: 'trace-start' });
  }
  const last = events[events.length - 1];
  const complete = last?.ev === 'run.end' && !cutLastLine;
  return { events, complete, truncated: !complete, problems };
}

/** Reads and validates a trace file; throws a located input error when the file is unreadable or invalid. */
export function readTraceFile(file: string, displayName = file): ReadTrace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw inputError('TRACE_UNREADABLE', `cannot read trace ${displayName}: ${(e as Error).message}`, [], { file: displayName });
  }
  const r = parseTrace(text, displayName);
  if (r.problems.length) {
    throw inputError('TRACE_INVALID', `${displayName} is not a valid ${TRACE_SCHEMA} trace (${r.problems.length} problem${r.problems.length > 1 ? 's' : ''})`, r.problems);
  }
  return r;
}
