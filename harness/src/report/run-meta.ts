// What a report says about the run besides its results: written into summary.json (files.ts) and
// the page header (html.ts).
export interface RunMeta {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  /** Scenario files or folders the run was given, relative to the working directory. */
  inputs: string[];
  shard?: { index: number; count: number };
  /** For `report merge`: the shard directories merged. */
  mergedFrom?: string[];
  command: string;
}
