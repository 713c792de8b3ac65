// What the simulator needs from a xenstore connection. Each domain (dom0's toolstack and backends,
// every guest's drivers) talks to the in-process xenstored through its own connection with its own
// domid, so permissions are enforced exactly as for real guests. `connectXenstore` (xs-adapter.ts)
// builds one on the xenstore/ client.

export interface XsTx {
  read(path: string): Promise<string | null>;
  write(path: string, value: string): Promise<void>;
  rm(path: string): Promise<void>;
  /** Permission list in xenstore's text form: first entry owner/default (`n0`), then `r5`, `b3`, ... */
  setPerms(path: string, perms: string[]): Promise<void>;
}

export interface Xs extends XsTx {
  readonly domid: number;
  /** Children of a node; [] when it does not exist. */
  directory(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  /** Watch `path` (and below); fires once at registration as xenstored does. Returns the unwatch function. */
  watch(path: string, cb: (changed: string) => void): Promise<() => Promise<void>>;
  /** Runs fn in a transaction, retrying the whole of it on EAGAIN (up to `maxRetries`). */
  transaction<T>(fn: (tx: XsTx) => Promise<T>, opts?: { maxRetries?: number }): Promise<T>;
  close(): Promise<void>;
  /** One raw request on this connection, its payload sent whatever its length (see XenstoreClient.request). */
  requestUnchecked(type: number, payload: Buffer): Promise<Buffer>;
}

/** Reads a key as an integer (NaN-free): undefined when absent or not a decimal number. */
export async function readInt(xs: XsTx, path: string): Promise<number | undefined> {
  const v = await xs.read(path);
  if (v === null || !/^-?\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}
