// A dom0 watch stream read in a test as the backends read it: the lines a child process prints
// (the Perl reader, or the xenstore-watch fallback) through watchStreamReader, and a wait for the
// n-th change with a deadline of its own, so that a reader that never answers fails naming what came
// instead of hanging until tap's per-file timeout.
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { watchStreamReader } from '../../src/hosts/dom0-xenstore';
import type { ReadBatch } from '../../src/model/trace';

/** A stream prints within milliseconds; this is for one that never does. */
export const WATCH_LINE_DEADLINE_MS = 30_000;

export interface WatchChange {
  path: string;
  value: string | null;
  batch?: ReadBatch;
}

export function readWatchStream(child: ChildProcessByStdio<null, Readable, Readable | null>, deadlineMs = WATCH_LINE_DEADLINE_MS): { changes: WatchChange[]; next: (n: number) => Promise<void> } {
  const changes: WatchChange[] = [];
  let waiting: (() => void) | undefined;
  let partial = '';
  let stderr = '';
  const reader = watchStreamReader((path, value, batch) => changes.push({ path, value, ...(batch !== undefined ? { batch } : {}) }));
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    const parts = (partial + c).split('\n');
    partial = parts.pop()!;
    parts.forEach(reader);
    waiting?.();
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const next = async (n: number) => {
    const end = Date.now() + deadlineMs;
    while (changes.length < n) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`the watch stream gave ${changes.length} of ${n} changes within ${deadlineMs / 1000} s: ${JSON.stringify(changes)}; its stderr: ${stderr || '(not read)'}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        waiting = r;
        timer = setTimeout(r, left);
      }).finally(() => clearTimeout(timer));
    }
  };
  return { changes, next };
}
