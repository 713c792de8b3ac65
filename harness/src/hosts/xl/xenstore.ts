// dom0's xenstore over SSH without one round trip per key: a single long-lived `xenstore-watch`
// on /local/domain feeds every watcher (frontends, backends under /local/domain/0/backend, and the
// guests' own paths all live there), and reads issued together go to dom0 as one batched command.
import { hostError } from '../../model/errors';
import type { XenstoreView } from '../../model/host';
import { shJoin } from '../../util/quote';
import type { Dom0 } from './dom0';

/** Root of the single remote watch. Paths outside it are watched with a stream of their own. */
export const WATCH_ROOT = '/local/domain';

/** Reads many keys in one command; each answer is `V<base64>` or `N` (no such key), one line per path. */
export const BATCH_READ_SCRIPT =
  'for p in "$@"; do if v=$(xenstore-read -- "$p" 2>/dev/null); then printf "V%s\\n" "$(printf %s "$v" | base64 -w0)"; else echo N; fi; done';

export function parseBatchRead(paths: readonly string[], stdout: string): Map<string, string | null> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  if (lines.length !== paths.length) throw hostError('XS_BATCH', `batched xenstore read answered ${lines.length} of ${paths.length} paths`);
  const out = new Map<string, string | null>();
  paths.forEach((p, i) => out.set(p, lines[i]!.startsWith('V') ? Buffer.from(lines[i]!.slice(1), 'base64').toString('utf8') : null));
  return out;
}

const under = (path: string, root: string) => path === root || path.startsWith(root.endsWith('/') ? root : root + '/');

interface Watcher {
  path: string;
  cb: (changed: string) => void;
}

interface RemoteWatch {
  root: string;
  watchers: Set<Watcher>;
  ready: Promise<void>;
  stop(): void;
}

/** Largest number of paths in one batched read (keeps the command line well under ARG_MAX). */
const BATCH_MAX = 256;

export class XlXenstore implements XenstoreView {
  private readonly streams = new Map<string, RemoteWatch>();
  private queue = new Map<string, ((v: string | null) => void)[]>();
  private rejectors = new Map<string, ((e: unknown) => void)[]>();
  private flushScheduled = false;
  /** Commands issued (for the fidelity of "batched": tests count them). */
  commands = 0;

  constructor(private readonly dom0: Dom0) {}

  read(path: string): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const waiting = this.queue.get(path) ?? [];
      waiting.push(resolve);
      this.queue.set(path, waiting);
      this.rejectors.set(path, [...(this.rejectors.get(path) ?? []), reject]);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const queue = this.queue;
    const rejectors = this.rejectors;
    this.queue = new Map();
    this.rejectors = new Map();
    const paths = [...queue.keys()];
    for (let i = 0; i < paths.length; i += BATCH_MAX) {
      const chunk = paths.slice(i, i + BATCH_MAX);
      try {
        this.commands++;
        const out = await this.dom0.run(['sh', '-c', BATCH_READ_SCRIPT, 'sh', ...chunk]);
        const values = parseBatchRead(chunk, out);
        for (const p of chunk) for (const r of queue.get(p)!) r(values.get(p) ?? null);
      } catch (e) {
        for (const p of chunk) for (const r of rejectors.get(p)!) r(e);
      }
    }
  }

  async directory(path: string): Promise<string[]> {
    this.commands++;
    const r = await this.dom0.try(['xenstore-list', '--', path]);
    if (r.code !== 0) return [];
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  async write(path: string, value: string): Promise<void> {
    this.commands++;
    await this.dom0.run(['xenstore-write', '--', path, value]);
  }

  async rm(path: string): Promise<void> {
    this.commands++;
    await this.dom0.run(['xenstore-rm', '--', path]);
  }

  async watch(path: string, onChange: (changedPath: string) => void): Promise<() => Promise<void>> {
    const root = under(path, WATCH_ROOT) ? WATCH_ROOT : path;
    let rw = this.streams.get(root);
    if (!rw) {
      rw = this.startStream(root);
      this.streams.set(root, rw);
    }
    const w: Watcher = { path, cb: onChange };
    rw.watchers.add(w);
    await rw.ready;
    // xenstored fires a new watch once at registration; the view does the same for each watcher.
    onChange(path);
    return async () => {
      rw!.watchers.delete(w);
      if (rw!.watchers.size === 0) {
        rw!.stop();
        this.streams.delete(root);
      }
    };
  }

  private startStream(root: string): RemoteWatch {
    const watchers = new Set<Watcher>();
    let markReady!: () => void;
    let fail!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      markReady = res;
      fail = rej;
    });
    let first = true;
    // xenstore-watch flushes after every event; exec so that closing the channel ends it.
    const s = this.dom0.link.stream(`exec ${shJoin(['xenstore-watch', '--', root])}`, (line) => {
      if (first) {
        first = false;
        markReady();
        return; // the registration event for the root itself
      }
      const changed = line.trim();
      if (!changed) return;
      for (const w of watchers) if (under(changed, w.path)) w.cb(changed);
    });
    s.done.then(
      (r) => {
        if (first) fail(hostError('XS_WATCH', `xenstore-watch ${root} ended at once (exit ${r.code}): ${r.stderr.trim()}`));
      },
      (e) => fail(e),
    );
    return { root, watchers, ready, stop: () => s.stop() };
  }

  /** Stops every remote watch (on close). */
  stopAll(): void {
    for (const rw of this.streams.values()) rw.stop();
    this.streams.clear();
  }
}
