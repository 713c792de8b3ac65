// What `winpv run` takes on its command line, shared by the command (commands/run.ts: parsing, help)
// and the run itself (run-flow.ts).

/** Tags of the default catalogue run (no files and no --tag given): everything but the lab-only scenarios. */
export const DEFAULT_TAGS = ['smoke', 'nightly', 'release'];

export const RUN_OPTIONS = {
  host: { type: 'string' },
  seed: { type: 'string' },
  tag: { type: 'string', multiple: true },
  grep: { type: 'string' },
  shard: { type: 'string' },
  'report-dir': { type: 'string' },
  reporter: { type: 'string' },
  config: { type: 'string' },
  list: { type: 'boolean' },
  'lease-timeout': { type: 'string' },
  durations: { type: 'string' },
  db: { type: 'string' },
  retries: { type: 'string' },
  'repeat-each': { type: 'string' },
  'keep-on-failure': { type: 'boolean' },
  'known-issues': { type: 'string' },
  workers: { type: 'string' },
} as const;

/** The command line's option values. */
export type RunValues = { [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K] extends { type: 'boolean' } ? boolean : (typeof RUN_OPTIONS)[K] extends { multiple: true } ? string[] : string };
