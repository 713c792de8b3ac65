// A XenAPI test server: a real HTTP(S) server answering JSON-RPC at /jsonrpc and XML-RPC at / (and
// /xmlrpc, where the xen-api client posts), over a stateful pool model. Content types are exactly
// `application/json` and `text/xml`, as xen-api's transports require.
import { createServer as createHttp, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FakePool, XapiFailure, type PoolOptions } from './pool';
import { XapiApi } from './methods';
import { formatMethodResponse, parseMethodCall, type XrValue } from './xmlrpc';
import { importRawVdi } from './http-import';

export { FakePool, XapiFailure, POOL_ISOS } from './pool';
export type { GuestState, PoolOptions } from './pool';

export interface XapiTestServer {
  url: string;
  port: number;
  pool: FakePool;
  /** Count of requests per transport, to prove which one was used. */
  hits: { json: number; xml: number };
  close(): Promise<void>;
}

export const testTlsCert = () => readFileSync(join(__dirname, 'tls', 'cert.pem'));

export async function startXapiServer(opts: PoolOptions & { tls?: boolean; jsonRpc?: boolean }): Promise<XapiTestServer> {
  const pool = new FakePool(opts);
  const api = new XapiApi(pool);
  const hits = { json: 0, xml: 0 };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'PUT' && path === '/import_raw_vdi') {
        importRawVdi(pool, new URL(req.url ?? '/', 'http://x').searchParams, Buffer.concat(chunks), res);
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      if (path === '/jsonrpc' && opts.jsonRpc !== false) void json(body, res);
      else if (path === '/' || path === '/xmlrpc' || path === '/jsonrpc') void xml(body, res);
      else res.writeHead(404).end();
    });
  };

  async function json(body: string, res: ServerResponse) {
    hits.json++;
    let id: unknown = null;
    try {
      const msg = JSON.parse(body) as { jsonrpc?: string; method: string; params?: XrValue[]; id: unknown };
      id = msg.id;
      const result = await api.call(msg.method, msg.params ?? []);
      send(res, 'application/json', JSON.stringify({ jsonrpc: '2.0', result, id }));
    } catch (e) {
      const f = e instanceof XapiFailure ? e : new XapiFailure('INTERNAL_ERROR', [String(e)]);
      send(res, 'application/json', JSON.stringify({ jsonrpc: '2.0', error: { code: 1, message: f.code, data: f.params }, id }));
    }
  }

  async function xml(body: string, res: ServerResponse) {
    hits.xml++;
    let value: XrValue;
    try {
      const call = parseMethodCall(body);
      const result = await api.call(call.method, call.params);
      value = { Status: 'Success', Value: result };
    } catch (e) {
      const f = e instanceof XapiFailure ? e : new XapiFailure('INTERNAL_ERROR', [String(e)]);
      value = { Status: 'Failure', ErrorDescription: [f.code, ...f.params] };
    }
    send(res, 'text/xml', formatMethodResponse(value));
  }

  function send(res: ServerResponse, type: string, text: string) {
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  const server: Server = opts.tls
    ? createHttps({ cert: testTlsCert(), key: readFileSync(join(__dirname, 'tls', 'key.pem')) }, handler)
    : createHttp(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    pool,
    hits,
    async close() {
      pool.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
