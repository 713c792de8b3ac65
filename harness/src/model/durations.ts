// How long each scenario instance took in earlier runs, for splitting a catalogue into shards that
// finish together. A source is an interface so that a CI cache's durations file (report/durations.ts)
// and, later, a results database can feed the planner the same way.

/** Instance id -> duration in ms, as last measured on hosts of one kind (sim, xl, xapi). */
export type Durations = ReadonlyMap<string, number>;

export interface DurationSource {
  /** The recorded durations for hosts of this kind; empty when there is no history. */
  durations(hostKind: string): Promise<Durations>;
}

export const DURATIONS_SCHEMA = 'winpv-durations/1';

/** The durations file: `{ schema, hosts: { <kind>: { <instance id>: ms } } }`. */
export interface DurationsFile {
  schema: typeof DURATIONS_SCHEMA;
  hosts: Record<string, Record<string, number>>;
}
