import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDirFrom, parseHostUrl, resolveConfig, resolveLabDir, resolveRunHosts } from '../../src/cli/config';
import { isWinpvError } from '../../src/model/errors';

const dir = mkdtempSync(join(tmpdir(), 'winpv-config-'));
const cfg = (o: unknown) => {
  const p = join(dir, `c${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(p, typeof o === 'string' ? o : JSON.stringify(o, null, 2));
  return p;
};

t.test('host URLs', async (t) => {
  t.same(parseHostUrl('sim'), { kind: 'sim', lab: false });
  t.same(parseHostUrl('lab'), { kind: 'xl', lab: true });
  t.same(parseHostUrl('xl://root@10.0.0.2:2222'), { kind: 'xl', lab: false, user: 'root', hostname: '10.0.0.2', port: 2222 });
  t.same(parseHostUrl('xapi://admin@pool-master'), { kind: 'xapi', lab: false, user: 'admin', hostname: 'pool-master', port: undefined });
  t.throws(() => parseHostUrl('xapi://root:hunter2@pool'), /passwords are not accepted/);
  t.throws(() => parseHostUrl('ftp://x'), /not a host/);
});

t.test('precedence: flags > environment > file > defaults', async (t) => {
  const file = cfg({ defaultHost: 'pool', reportDir: '/from-file', hosts: { pool: { url: 'xapi://root@pool-master', passwordEnv: 'POOL_PW' } } });
  const env = { WINPV_CONFIG: file, POOL_PW: 'planted-secret-123' };
  const fromFile = resolveConfig({}, env);
  t.equal(fromFile.host.kind, 'xapi');
  t.equal(fromFile.host.label, 'xapi://root@pool-master');
  t.equal(fromFile.host.password?.reveal(), 'planted-secret-123');
  t.notMatch(JSON.stringify(fromFile), /planted-secret-123/, 'the password never serialises');
  t.equal(fromFile.reportDir, '/from-file');
  const fromEnv = resolveConfig({}, { ...env, WINPV_HOST: 'sim', WINPV_REPORT_DIR: '/from-env', WINPV_SEED: '7' });
  t.equal(fromEnv.host.kind, 'sim');
  t.equal(fromEnv.reportDir, '/from-env');
  t.equal(fromEnv.seed, 7);
  const fromFlags = resolveConfig({ host: 'xl://root@h', reportDir: '/from-flag', seed: '9' }, { ...env, WINPV_HOST: 'sim', WINPV_REPORT_DIR: '/from-env' });
  t.equal(fromFlags.host.kind, 'xl');
  t.equal(fromFlags.reportDir, '/from-flag');
  t.equal(fromFlags.seed, 9);
  const defaults = resolveConfig({}, { HOME: dir });
  t.equal(defaults.host.kind, 'sim');
});

t.test('bad config files are located input errors', async (t) => {
  const e1 = (() => { try { resolveConfig({ config: cfg('{\n  "hosts": {\n  ,\n}') }, {}); } catch (e) { return e; } })();
  t.ok(isWinpvError(e1));
  t.equal((e1 as { exitCode: number }).exitCode, 2);
  const e2 = (() => { try { resolveConfig({ config: cfg({ hosts: { p: { url: 'xapi://root@p', password: 'x' } }, colour: 1 }) }, {}); } catch (e) { return e; } })() as { problems: { location: { path: string } }[] };
  t.same(e2.problems.map((p) => p.location.path).sort(), ['/colour', '/hosts/p/password']);
  t.throws(() => resolveConfig({ seed: 'abc' }, {}), /--seed/);
  t.throws(() => resolveConfig({ config: join(dir, 'missing.json') }, {}), /cannot read/);
  t.throws(() => resolveConfig({ host: 'pool' }, { WINPV_CONFIG: cfg({ hosts: { pool: { url: 'xapi://root@p', passwordEnv: 'NOPE' } } }) }), /NOPE/);
});

t.test('the lab directory: one rule for winpv run and winpv lab, the config file\'s labDir honoured', async (t) => {
  const env = { WINPV_CONFIG: cfg({ labDir: '/srv/lab' }), XDG_CACHE_HOME: '/c' };
  t.equal(resolveConfig({}, env).labDir, '/srv/lab');
  t.equal(resolveLabDir({}, env), '/srv/lab');
  t.equal(resolveLabDir({ labDir: '/x' }, { ...env, WINPV_LAB_DIR: '/e' }), '/x');
  t.equal(resolveConfig({}, { ...env, WINPV_LAB_DIR: '/e' }).labDir, '/e');
  t.equal(resolveLabDir({}, { XDG_CACHE_HOME: '/c', XDG_CONFIG_HOME: join(dir, 'none') }), join('/c', 'winpv', 'lab'), 'XDG_CACHE_HOME, as winpv lab always did');
});

t.test('lab directory precedence: --dir, WINPV_LAB_DIR, the config file, XDG_CACHE_HOME, HOME', async (t) => {
  t.equal(labDirFrom({ WINPV_LAB_DIR: '/e' }, '/x', '/f'), '/x');
  t.equal(labDirFrom({ WINPV_LAB_DIR: '/e', XDG_CACHE_HOME: '/c' }, undefined, '/f'), '/e');
  t.equal(labDirFrom({ XDG_CACHE_HOME: '/c' }, undefined, '/f'), '/f');
  t.equal(labDirFrom({ XDG_CACHE_HOME: '/c', HOME: '/h' }), join('/c', 'winpv', 'lab'));
  t.equal(labDirFrom({ HOME: '/h' }), join('/h', '.cache', 'winpv', 'lab'));
  t.equal(labDirFrom({}, 'rel'), join(process.cwd(), 'rel'), 'absolute');
});

t.test('the lab host carries the lab directory, so its backend and its lease store use the same one', async (t) => {
  const file = cfg({ labDir: '/srv/lab', hosts: { mylab: { url: 'lab', labels: ['real-xen'] } } });
  t.equal(resolveConfig({ host: 'lab' }, { WINPV_CONFIG: file }).host.labDir, '/srv/lab', 'the config file\'s labDir (the lease store once read the environment alone)');
  t.equal(resolveConfig({ host: 'lab' }, { WINPV_CONFIG: file, WINPV_LAB_DIR: '/e' }).host.labDir, '/e');
  const cfgd = resolveConfig({ host: 'label:real-xen' }, { WINPV_CONFIG: file });
  t.same(resolveRunHosts(cfgd, 'label:real-xen', { WINPV_CONFIG: file }).map((h) => h.labDir), ['/srv/lab'], 'a lab picked by label too');
  t.equal(resolveConfig({ host: 'sim' }, { WINPV_CONFIG: file }).host.labDir, undefined, 'only the lab host has one');
});

t.test('secrets are read once, here: XenAPI, SSH and the Windows guests\' password', async (t) => {
  const file = cfg({ hosts: {
    pool: { url: 'xapi://root@pool-master' },
    named: { url: 'xapi://root@pool-master', passwordEnv: 'POOL_PW', guestPasswordEnv: 'WIN_PW' },
    filed: { url: 'xapi://root@pool-master', passwordFile: cfg('from-a-file\n'), guestPasswordFile: cfg('guest-from-a-file\n') },
  } });
  const env = { WINPV_CONFIG: file, WINPV_XAPI_PASSWORD: 'xapi-pw', WINPV_GUEST_PASSWORD: 'guest-pw', WINPV_SSH_PASSWORD: 'ssh-pw', POOL_PW: 'pool-pw', WIN_PW: 'win-pw' };
  const pool = resolveConfig({ host: 'pool' }, env).host;
  t.same([pool.password?.reveal(), pool.guestPassword?.reveal()], ['xapi-pw', 'guest-pw'], 'the generic variables');
  const named = resolveConfig({ host: 'named' }, env).host;
  t.same([named.password?.reveal(), named.guestPassword?.reveal()], ['pool-pw', 'win-pw'], 'the variables the entry names win');
  const filed = resolveConfig({ host: 'filed' }, env).host;
  t.same([filed.password?.reveal(), filed.guestPassword?.reveal()], ['from-a-file', 'guest-from-a-file'], 'files, one trailing newline dropped');
  t.equal(resolveConfig({ host: 'xl://root@h' }, env).host.password?.reveal(), 'ssh-pw');
  t.equal(resolveConfig({ host: 'xl://root@h' }, env).host.guestPassword, undefined, 'guest passwords are a XenAPI setting');
  t.notMatch(JSON.stringify(resolveConfig({ host: 'named' }, env)), /pw/, 'no secret serialises');
  t.throws(() => resolveConfig({ host: 'named' }, { WINPV_CONFIG: file, POOL_PW: 'x' }), { code: 'USAGE', message: /guests of host 'named': environment variable WIN_PW \(guestPasswordEnv\) is not set/ });
});

t.test('a pool\'s "bundles": the real artefacts for builtin bundles, each key and value checked', async (t) => {
  const good = { url: 'xapi://root@p', passwordEnv: 'PW', bundles: { '9.0.0@XS': 'iso:XenServer-VM-Tools-9.0.0.iso', '9.0.0': '/srv/winpv/winpv-9.0.0.zip' } };
  const r = resolveConfig({ host: 'pool' }, { WINPV_CONFIG: cfg({ hosts: { pool: good } }), PW: 'x' });
  t.same(r.host.entry.bundles, good.bundles);
  const e = (() => { try { resolveConfig({ config: cfg({ hosts: { p: { url: 'xapi://root@p', bundles: { 'XS-9': 'iso:x.iso', '9.1.0@XS': 'tools/xs.iso', '9.2.0': 'iso:a/b.iso' } } } }) }, {}); } catch (e) { return e; } })() as { problems: { location: { path: string }; message: string }[] };
  t.same(e.problems.map((p) => p.location.path).sort(), ['/hosts/p/bundles/9.1.0@XS', '/hosts/p/bundles/9.2.0', '/hosts/p/bundles/XS-9']);
  t.match(e.problems.find((p) => p.location.path.endsWith('9.1.0@XS'))!.message, /must be "iso:<file name on the ISO SR>" or an absolute path/);
  t.match(e.problems.find((p) => p.location.path.endsWith('XS-9'))!.message, /is not <version>\[@<vendor prefix>\]/);
  const notObject = (() => { try { resolveConfig({ config: cfg({ hosts: { p: { url: 'xapi://root@p', bundles: ['iso:x.iso'] } } }) }, {}); } catch (e) { return e; } })() as { problems: { message: string }[] };
  t.match(notObject.problems[0]!.message, /bundles must be an object/);
});
