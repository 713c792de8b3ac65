// Types for the parts of Vates' `xen-api` (4.7.x, ESM-only, no bundled types) that winpv uses.
// Loaded with require() (Node >= 20.19 loads ESM that way), lazily, only when a xapi:// host is used.
declare module 'xen-api' {
  import type { EventEmitter } from 'node:events';

  export interface XapiRecord {
    readonly $ref: string;
    readonly $type: string;
    readonly $id: string;
    readonly [field: string]: unknown;
  }

  /** xo-collection: the object cache fed by event.from; emits add/update/remove with {id: record}. */
  export interface XapiObjects extends EventEmitter {
    readonly all: Record<string, XapiRecord>;
    on(event: 'add' | 'update' | 'remove', listener: (objects: Record<string, XapiRecord | undefined>) => void): this;
    /** After every batch of add/update/remove. */
    on(event: 'finish', listener: () => void): this;
    removeListener(event: 'add' | 'update' | 'remove' | 'finish', listener: (...args: never[]) => void): this;
  }

  export interface XapiOptions {
    url: string;
    auth: { user: string; password: string };
    allowUnauthorized?: boolean;
    transport?: 'auto' | 'json-rpc' | 'xml-rpc';
    /** Types to watch with event.from (default: every type the host lists). */
    watchEvents?: string[] | false;
    callTimeout?: number;
    httpInactivityTimeout?: number;
    eventPollDelay?: number;
    debounce?: number;
    readOnly?: boolean;
  }

  export class Xapi extends EventEmitter {
    readonly status: 'connected' | 'connecting' | 'disconnected';
    readonly objects: XapiObjects;
    readonly objectsFetched: Promise<void>;
    readonly pool: XapiRecord | null;
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
    callAsync<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
    getObjectByRef(ref: string, defaultValue?: unknown): XapiRecord | undefined;
    getRecord(type: string, ref: string): Promise<XapiRecord>;
    getAllRecords(type: string): Promise<XapiRecord[]>;
    /** HTTP PUT of a body to a XAPI handler (`/import_raw_vdi`) with the session id in the query,
     *  watched through a task it creates; resolves with the task's result. */
    putResource(body: NodeJS.ReadableStream & { length?: number }, pathname: string, opts?: { host?: XapiRecord; query?: Record<string, string>; task?: boolean | string }): Promise<unknown>;
  }

  export interface XapiErrorLike extends Error {
    code: string;
    params: string[];
  }

  export function createClient(opts: XapiOptions): Xapi;
}
