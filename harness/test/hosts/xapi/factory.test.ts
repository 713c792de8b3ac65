import t from 'tap';
import { createHost } from '../../../src/hosts/factory';
import { resolveHost } from '../../../src/cli/config';

t.test('the factory makes the XenAPI backend for xapi:// hosts, with the password from the environment', async (t) => {
  const h = resolveHost('xapi://admin@pool-master.example:8443', {}, { WINPV_XAPI_PASSWORD: 'planted-Factory-pw' });
  const host = createHost(h, { specs: new Map() });
  t.equal(host.kind, 'xapi');
  t.equal(host.label, 'xapi://admin@pool-master.example:8443');
  t.ok(host.capabilities.has('windows-guest'));
  t.notMatch(JSON.stringify(host), 'planted-Factory-pw', 'the backend serialises without the password');
  t.throws(() => createHost(resolveHost('xapi://admin@pool-master.example', {}, {}), { specs: new Map() }), /no password/);
});
