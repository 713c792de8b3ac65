import t from 'tap';
import { XapiSession } from '../../../src/hosts/xapi/session';
import { Secret } from '../../../src/model/secret';
import { startXapiServer } from '../../support/xapi-server';
import { rejects } from '../../support/xapi-pool';

const PW = 'planted-Pa55word-7f3a';


t.test('TLS is verified by default: a self-signed server is refused, insecure accepts it', async (t) => {
  const srv = await startXapiServer({ user: 'root', password: PW, tls: true });
  t.teardown(() => srv.close());
  const e = await rejects(XapiSession.open({ url: srv.url, user: 'root', password: new Secret(PW), insecure: false }));
  t.equal(e.code, 'XAPI_TLS');
  t.equal(e.kind, 'host');
  t.match(e.message, /insecure/);
  t.equal(srv.pool.sessions.size, 0, 'no session was opened over the untrusted channel');

  const s = await XapiSession.open({ url: srv.url, user: 'root', password: new Secret(PW), insecure: true });
  t.ok(s.all('VM').some((v) => v.is_a_template), 'the object cache is filled by event.from');
  t.equal(srv.pool.sessions.size, 1);
  await s.close();
  t.equal(srv.pool.sessions.size, 0, 'close() logged the session out');
});

for (const transport of ['json-rpc', 'xml-rpc'] as const) {
  t.test(`${transport}: login, calls, tasks and events`, async (t) => {
    // a guest with PV drivers: only then does xapi have guest metrics for it
    const srv = await startXapiServer({ user: 'root', password: PW, tls: true, guest: () => ({ ip: '192.0.2.100', pvVersion: { major: 9, minor: 1, micro: 0, build: 1 }, agent: true }) });
    t.teardown(() => srv.close());
    const s = await XapiSession.open({ url: srv.url, user: 'root', password: new Secret(PW), insecure: true, transport });
    t.teardown(() => s.close());
    t.ok(transport === 'json-rpc' ? srv.hits.json > 0 && srv.hits.xml === 0 : srv.hits.xml > 0 && srv.hits.json === 0, 'the chosen transport carried every call');

    const tpl = s.all('VM').find((v) => v.is_a_template && !v.is_a_snapshot)!;
    const clone = await s.callAsync<string>('VM.clone', tpl.$ref, 'winpv:test:x');
    t.match(clone, /^OpaqueRef:/, 'a task result carries the new reference');
    const rec = await s.waitFor('the clone in the cache', 5000, () => s.get(clone));
    t.equal(rec.name_label, 'winpv:test:x');
    t.equal(Number(rec.memory_static_max), 4096 * 2 ** 20, '64-bit ints arrive (as strings over XML-RPC)');

    const e = await rejects(s.callAsync('VM.start', tpl.$ref, false, false));
    t.equal(e.code, 'XAPI_VM_IS_TEMPLATE');
    const e2 = await rejects(s.call('VM.get_power_state', 'OpaqueRef:nope'));
    t.equal(e2.code, 'XAPI_HANDLE_INVALID');

    await s.call('VM.set_is_a_template', clone, false);
    await s.callAsync('VM.start', clone, false, false);
    const e3 = await rejects(s.callAsync('VM.destroy', clone));
    t.equal(e3.code, 'XAPI_VM_BAD_POWER_STATE');
    t.match(e3.message, /halted, running/);
    const ip = await s.waitFor('guest metrics', 5000, () => {
      const vm = s.get(clone)!;
      return vm.guest_metrics !== 'OpaqueRef:NULL' ? s.get(vm.guest_metrics as string)?.networks : undefined;
    });
    t.same(ip, { '0/ip': '192.0.2.100', '0/ipv4/0': '192.0.2.100' });
    const e4 = await rejects(s.waitFor('something that never happens', 100, () => undefined));
    t.equal(e4.code, 'XAPI_TIMEOUT');
    // aborted before the wait began (between two rounds of a loop): refused at once (before the fix it ran
    // to its timeout: XAPI_TIMEOUT)
    const stop = new AbortController();
    stop.abort();
    const e5 = await rejects(s.waitFor('something aborted already', 60_000, () => undefined, stop.signal));
    t.equal(e5.code, 'XAPI_WAIT_ABORTED');
  });
}

t.test('a wrong password is SESSION_AUTHENTICATION_FAILED and never echoed', async (t) => {
  const srv = await startXapiServer({ user: 'root', password: PW, tls: true });
  t.teardown(() => srv.close());
  const wrong = 'wrong-Secret-91bd';
  const e = await rejects(XapiSession.open({ url: srv.url, user: 'root', password: new Secret(wrong), insecure: true }));
  t.equal(e.code, 'XAPI_SESSION_AUTHENTICATION_FAILED');
  t.notMatch(e.message, wrong);
  t.notMatch(JSON.stringify(e), wrong);
});

t.test('the wire: XML-RPC at / (Status/Value/ErrorDescription, ints as strings) and JSON-RPC at /jsonrpc', async (t) => {
  const srv = await startXapiServer({ user: 'root', password: PW, tls: false });
  t.teardown(() => srv.close());
  const post = async (path: string, type: string, body: string) => {
    const r = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    return { type: r.headers.get('content-type'), text: await r.text() };
  };
  const call = (method: string, ...params: string[]) =>
    `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value>${p}</value></param>`).join('')}</params></methodCall>`;
  const bad = await post('/', 'text/xml', call('session.login_with_password', 'root', 'nope'));
  t.equal(bad.type, 'text/xml', 'exactly text/xml');
  t.match(bad.text, /<name>Status<\/name><value>Failure<\/value>.*<name>ErrorDescription<\/name><value><array><data><value>SESSION_AUTHENTICATION_FAILED<\/value><value>root<\/value>/);
  const ok = await post('/', 'text/xml', call('session.login_with_password', 'root', PW));
  const session = /<name>Value<\/name><value>(OpaqueRef:[^<]+)<\/value>/.exec(ok.text)?.[1];
  t.ok(session, 'a session reference');
  const rec = await post('/', 'text/xml', call('VM.get_record', session!, srv.pool.templateRef));
  t.match(rec.text, /<name>memory_static_max<\/name><value>4294967296<\/value>/, 'a 64-bit int travels as a string');
  t.match(rec.text, /<name>is_a_template<\/name><value><boolean>1<\/boolean><\/value>/);
  const stale = await post('/', 'text/xml', call('VM.get_record', 'OpaqueRef:stale', srv.pool.templateRef));
  t.match(stale.text, /SESSION_INVALID/);
  const json = await post('/jsonrpc', 'application/json', JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_power_state', params: [session, 'OpaqueRef:gone'], id: 7 }));
  t.equal(json.type, 'application/json');
  t.same(JSON.parse(json.text), { jsonrpc: '2.0', error: { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:gone'] }, id: 7 });
});
