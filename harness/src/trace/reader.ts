// The trace reader: parses trace.jsonl back into events and validates it against its schema
// (TRACE_SCHEMA, or an older one it still reads: a winpv-trace/1 ring.io event, one id each, is
// read as a run of one id, so `winpv check` judges an old trace as it was judged when written).
// Bad lines are located problems (file:line), not exceptions; a trace that does not end with
// run.end (or whose last line was cut mid-write) is reported as truncated, and the events before
// the cut are still returned so the checks can judge what was recorded.
import { readFileSync } from 'node:fs';
import { inputError, type Problem } from '../model/errors';
import { TRACE_SCHEMA, TRACE_SCHEMAS_READ, type TraceEvent } from '../model/trace';

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
  xs: { required: { inst: 'string', path: 'string', value: 'string|null' }, optional: { guest: 'string', snapshot: 'boolean', batch: 'object' } },
  ring: {
    required: { inst: 'string', guest: 'string', dev: 'string', queue: 'number', ring: 'string', nr_ents: 'number', req_prod: 'number', req_event: 'number', rsp_prod: 'number', rsp_event: 'number', why: 'string' },
    optional: { req_cons: 'number', rsp_cons: 'number', reread: 'object' },
  },
  'ring.io': { required: { inst: 'string', guest: 'string', dev: 'string', queue: 'number', ring: 'string', dir: 'string', ids: 'array' }, optional: { ops: 'array', statuses: 'array' } },
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
    optional: { path: 'string', bytes: 'number', sha256: 'string', source: 'string', missing: 'string', redacted: 'number', bugcheck: 'string' },
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

/** winpv-trace/1 wrote one ring.io per id (`id`, `op`, `status`). */
const RING_IO_V1 = { required: { inst: 'string', guest: 'string', dev: 'string', queue: 'number', ring: 'string', dir: 'string', id: 'number' }, optional: { op: 'number', status: 'number' } } as const;

/** Each schema's fields as lists, made once: a run's trace is read back line by line (report.html),
 *  and listing them per line was a third of the validation's time. */
type Fields = { required: [string, FieldType][]; optional: [string, FieldType][] };
const fieldsOf = (sc: { required: Record<string, FieldType>; optional?: Record<string, FieldType> }): Fields => ({
  required: Object.entries(sc.required),
  optional: Object.entries(sc.optional ?? {}),
});
const FIELDS = new Map<string, Fields>(Object.entries(SCHEMA).map(([ev, sc]) => [ev, fieldsOf(sc)]));
/** Object fields whose own fields a check reads as numbers (a ring sample's second read). */
const NESTED = new Map<string, [string, Fields][]>([
  ['ring', [['reread', fieldsOf({ required: { req_prod: 'number', rsp_prod: 'number' }, optional: { req_cons: 'number', rsp_cons: 'number' } })]]],
]);
const RING_IO_V1_FIELDS = fieldsOf(RING_IO_V1);

/** A winpv-trace/1 ring.io event as a run of one id (keys in the order the writer puts them). */
function ringIoFromV1(e: Record<string, unknown>): Record<string, unknown> {
  const { id, op, status, ...rest } = e;
  return { ...rest, ids: [id], ...(op !== undefined ? { ops: [op] } : {}), ...(status !== undefined ? { statuses: [status] } : {}) };
}

/** Validates one parsed line of a trace written with schema `written` (default TRACE_SCHEMA); returns the problems (empty when valid). */
function validateEvent(o: unknown, written = TRACE_SCHEMA): string[] {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return ['not a JSON object'];
  const e = o as Record<string, unknown>;
  const out: string[] = [];
  if (typeof e.seq !== 'number' || !Number.isInteger(e.seq) || e.seq < 0) out.push('seq must be a non-negative integer');
  if (typeof e.t !== 'number' || !Number.isFinite(e.t) || e.t < 0) out.push('t must be a non-negative number');
  if (typeof e.ev !== 'string') return [...out, 'ev must be a string'];
  const fields = e.ev === 'ring.io' && written === 'winpv-trace/1' ? RING_IO_V1_FIELDS : FIELDS.get(e.ev);
  if (!fields) return [...out, `unknown event type '${e.ev}'`];
  for (const [k, t] of fields.required) {
    if (!(k in e)) out.push(`${e.ev}: missing field '${k}'`);
    else if (!typeOk(e[k], t)) out.push(`${e.ev}: field '${k}' must be ${t}`);
  }
  for (const [k, t] of fields.optional) {
    if (k in e && e[k] !== undefined && !typeOk(e[k], t)) out.push(`${e.ev}: field '${k}' must be ${t}`);
  }
  for (const [k, inner] of NESTED.get(e.ev) ?? []) {
    const v = e[k] as Record<string, unknown> | undefined;
    if (!v || !typeOk(v, 'object')) continue;
    for (const [f, t] of inner.required) if (!typeOk(v[f], t)) out.push(`${e.ev}: field '${k}.${f}' must be ${t}`);
    for (const [f, t] of inner.optional) if (f in v && v[f] !== undefined && !typeOk(v[f], t)) out.push(`${e.ev}: field '${k}.${f}' must be ${t}`);
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
  /** The schema run.start names (a trace of an unreadable schema is a problem at its first line). */
  let schema: string = TRACE_SCHEMA;
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
    if (events.length === 0 && typeof (o as { schema?: unknown }).schema === 'string') schema = (o as { schema: string }).schema;
    const bad = validateEvent(o, schema);
    for (const m of bad) problems.push({ location: loc, message: m, rule: 'trace-schema' });
    if (bad.length) return;
    const e = (schema === 'winpv-trace/1' && (o as { ev: string }).ev === 'ring.io' ? ringIoFromV1(o as Record<string, unknown>) : o) as TraceEvent;
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
    if (e.ev === 'run.start' && !TRACE_SCHEMAS_READ.includes(e.schema)) {
      problems.push({ location: loc, message: `schema '${e.schema}' is not one this winpv reads (${TRACE_SCHEMAS_READ.join(', ')}); check it with the winpv that wrote it`, rule: 'trace-schema' });
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
    throw inputError('TRACE_INVALID', `${displayName} is not a valid ${TRACE_SCHEMAS_READ.join(' or ')} trace (${r.problems.length} problem${r.problems.length > 1 ? 's' : ''})`, r.problems);
  }
  return r;
}
