// One XenAPI session through Vates' xen-api client: calls, tasks (callAsync), the event.from-fed
// object cache, and waits that are woken by events (never polling). Every XenAPI failure becomes a
// WinpvError of kind 'host' with code XAPI_<CODE>; TLS trust failures say how to fix them.
import type { Xapi, XapiRecord } from 'xen-api';
import { hostError, WinpvError } from '../../model/errors';
import type { Secret } from '../../model/secret';

export const NULL_REF = 'OpaqueRef:NULL';

export interface XapiConnectOptions {
  /** https://host[:port] (http:// only for tests against a local server). */
  url: string;
  user: string;
  password: Secret;
  /** Skip TLS certificate verification: only when the user set `insecure: true`. */
  insecure: boolean;
  transport?: 'auto' | 'json-rpc' | 'xml-rpc';
  /** How long a single call may take (ms). */
  callTimeoutMs?: number;
}

/** The object types whose records the harness reads from the cache. */
const WATCHED_TYPES = ['pool', 'host', 'SR', 'VDI', 'VBD', 'VIF', 'network', 'VM', 'VM_metrics', 'VM_guest_metrics', 'task'];

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
]);

function causeCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && (TLS_CODES.has(code) || code.startsWith('ECONN') || code === 'ENOTFOUND' || code === 'ETIMEDOUT')) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turn whatever xen-api threw into a WinpvError (host kind), without credentials in the text. */
export function toWinpvError(e: unknown, what: string, host: string): WinpvError {
  if (e instanceof WinpvError) return e;
  const err = e as { code?: unknown; params?: unknown; message?: string };
  const low = causeCode(e);
  if (low && TLS_CODES.has(low)) {
    return hostError('XAPI_TLS', `TLS certificate of ${host} is not trusted (${low}): trust its CA (NODE_EXTRA_CA_CERTS) or set "insecure": true in this host's config entry`, e);
  }
  if (low) return hostError('XAPI_UNREACHABLE', `cannot reach XenAPI at ${host} (${low}) during ${what}`, e);
  if (typeof err.code === 'string' && Array.isArray(err.params)) {
    const params = (err.params as unknown[]).map(String).join(', ');
    return hostError(`XAPI_${err.code}`, `XenAPI ${what} failed: ${err.code}${params ? `(${params})` : ''}`, e);
  }
  return hostError('XAPI_FAILED', `XenAPI ${what} failed: ${err.message ?? String(e)}`, e);
}

export class XapiSession {
  private constructor(
    readonly client: Xapi,
    readonly hostLabel: string,
  ) {}

  static async open(o: XapiConnectOptions): Promise<XapiSession> {
    // xen-api is ESM-only; Node >= 20.19 loads it through require(). Loaded here, lazily, so that
    // commands that never touch XenAPI do not pay for it.
    const { createClient } = require('xen-api') as typeof import('xen-api');
    const host = new URL(o.url).host;
    const client = createClient({
      url: o.url,
      auth: { user: o.user, password: o.password.reveal() },
      allowUnauthorized: o.insecure,
      transport: o.transport ?? 'auto',
      watchEvents: WATCHED_TYPES,
      callTimeout: o.callTimeoutMs ?? 30 * 60_000,
      // a failed event.from is retried after this delay (default 60 s)
      eventPollDelay: 2_000,
      debounce: 50,
    });
    // xen-api reports event-loop trouble itself; keep the process from crashing on an unhandled 'error'.
    client.on('error', () => undefined);
    const s = new XapiSession(client, host);
    try {
      await client.connect();
      await client.objectsFetched;
    } catch (e) {
      await s.close();
      throw toWinpvError(e, 'login', host);
    }
    return s;
  }

  async call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    try {
      return await this.client.call<T>(method, ...args);
    } catch (e) {
      throw toWinpvError(e, method, this.hostLabel);
    }
  }

  /** Runs the Async.<method> variant and waits for its task through events. */
  async callAsync<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    try {
      return await this.client.callAsync<T>(method, ...args);
    } catch (e) {
      throw toWinpvError(e, method, this.hostLabel);
    }
  }

  /** The cached record of a reference (kept current by event.from), or undefined when it is gone. */
  get(ref: string): XapiRecord | undefined {
    if (!ref || ref === NULL_REF) return undefined;
    return this.client.getObjectByRef(ref, undefined) as XapiRecord | undefined;
  }

  all(type: string): XapiRecord[] {
    return Object.values(this.client.objects.all).filter((r) => r.$type === type);
  }

  /**
   * Resolves with probe()'s value once it is defined, re-evaluated after every batch of events from
   * event.from. Rejects with XAPI_TIMEOUT after timeoutMs, or when `abort()` of the returned handle is
   * called through the signal.
   */
  waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined, signal?: AbortSignal): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    // An abort that came before this wait (between two waits of a loop) fires no event: refused now,
    // or the wait would run to its timeout and the loop go on looking for a guest that has halted.
    if (signal?.aborted) return Promise.reject(hostError('XAPI_WAIT_ABORTED', `stopped waiting for ${what}`));
    return new Promise<T>((resolve, reject) => {
      const objects = this.client.objects;
      const done = (fn: () => void) => {
        clearTimeout(timer);
        objects.removeListener('finish', check);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const check = () => {
        let v: T | undefined;
        try {
          v = probe();
        } catch (e) {
          done(() => reject(e));
          return;
        }
        if (v !== undefined) done(() => resolve(v as T));
      };
      const onAbort = () => done(() => reject(hostError('XAPI_WAIT_ABORTED', `stopped waiting for ${what}`)));
      const timer = setTimeout(() => done(() => reject(hostError('XAPI_TIMEOUT', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`))), timeoutMs);
      objects.on('finish', check);
      signal?.addEventListener('abort', onAbort);
    });
  }

  async close(): Promise<void> {
    // Wake the event loop's long-poll event.from (an injected event on the pool) and log out while
    // it pauses between polls: it then waits for a reconnect instead of polling a dead session.
    const pool = this.client.pool;
    if (this.client.status === 'connected' && pool) await this.client.call('event.inject', 'pool', pool.$ref).catch(() => undefined);
    try {
      await this.client.disconnect();
    } catch {
      // already gone
    }
    // xen-api sends session.logout without waiting for it, and the woken event.from is still on its
    // way back: give both a moment before the dispatcher goes. Anything still pending after that
    // (an XAPI that did not wake the long poll: up to 60 s) is cut by destroying the dispatcher.
    await new Promise((r) => setTimeout(r, 200));
    const dispatcher = (this.client as unknown as { _undiciDispatcher?: { destroy(): Promise<void> } })._undiciDispatcher;
    await dispatcher?.destroy().catch(() => undefined);
  }
}

export const num = (v: unknown): number => Number(v);
