// The durations file a CI cache keeps between runs (default <report-dir>/durations.json): each run
// adds the durations of the instances it ran (from its summary), and the next run's --shard reads it.
import { readFileSync } from 'node:fs';
import { inputError } from '../model/errors';
import { DURATIONS_SCHEMA, type DurationSource, type Durations, type DurationsFile } from '../model/durations';
import type { RunSummary } from '../model/result';
import { writeFileAtomic } from '../util/atomic-write';

function readFile(path: string): DurationsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schema: DURATIONS_SCHEMA, hosts: {} };
    throw inputError('DURATIONS_UNREADABLE', `cannot read the durations file: ${(e as Error).message}`, [], { file: path });
  }
  let v: Partial<DurationsFile>;
  try {
    v = JSON.parse(text) as Partial<DurationsFile>;
  } catch (e) {
    throw inputError('DURATIONS_INVALID', `the durations file is not JSON: ${(e as Error).message}`, [], { file: path });
  }
  const ok = v.schema === DURATIONS_SCHEMA && typeof v.hosts === 'object' && v.hosts !== null &&
    Object.values(v.hosts).every((m) => typeof m === 'object' && m !== null && Object.values(m).every((ms) => typeof ms === 'number' && ms >= 0));
  if (!ok) throw inputError('DURATIONS_INVALID', `the durations file is not ${DURATIONS_SCHEMA} ({ schema, hosts: { <kind>: { <instance id>: ms } } })`, [], { file: path });
  return v as DurationsFile;
}

/** A durations file as a DurationSource; a missing file is no history. */
export class FileDurations implements DurationSource {
  constructor(readonly path: string) {}
  async durations(hostKind: string): Promise<Durations> {
    return new Map(Object.entries(readFile(this.path).hosts[hostKind] ?? {}));
  }
}

/** Adds the durations of a run's instances that ran (not skipped) to the file, atomically. */
export function recordDurations(path: string, summary: RunSummary): void {
  const file = readFile(path);
  const kind = summary.host.kind;
  const map = { ...(file.hosts[kind] ?? {}) };
  for (const i of summary.instances) if (i.verdict !== 'skip' && !i.aborted) map[i.inst] = i.durationMs;
  file.hosts[kind] = Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n');
}
