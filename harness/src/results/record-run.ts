// Recording a finished run into the store, as `winpv run` does when a store is in use. The reports
// are written first and stay the source: a store that cannot be reached or refuses the run costs a
// warning, never the run or its reports, and `winpv results import <dir>` loads it later.
import { existsSync } from 'node:fs';
import type { TraceEvent } from '../model/trace';
import { defaultDataDir, maskUrl } from './db';
import { readRunDir } from './record';
import { ResultsStore } from './store';

/** Which store `winpv run` records into: the one configured (--db, WINPV_DB, config), else the default
 *  data directory once it exists (made by the first `winpv results import`), else none. */
export function runStoreTarget(configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (configured === 'none' || configured === '') return undefined;
  if (configured !== undefined) return configured;
  const dflt = defaultDataDir(env);
  return existsSync(dflt) ? dflt : undefined;
}

/** Records the run in dir; returns a warning to print when it could not. */
export async function recordRunDir(target: string, dir: string, harnessVersion: string, events?: readonly TraceEvent[]): Promise<{ recorded?: string; warning?: string }> {
  try {
    const rec = readRunDir(dir, harnessVersion, events);
    const store = await ResultsStore.open(target);
    try {
      await store.record(rec);
      return { recorded: store.label };
    } finally {
      await store.close().catch(() => undefined);
    }
  } catch (e) {
    return { warning: `the results store ${maskUrl(target)} did not record this run (${(e as Error).message}); the reports are complete: load them later with winpv results import ${dir}` };
  }
}
