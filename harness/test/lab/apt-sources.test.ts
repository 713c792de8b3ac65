import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseMirror, machineMirror, parseDeb822Sources, parseOneLineSources } from '../../src/lab/apt-sources';
import { isWinpvError } from '../../src/model/errors';

const deb822 = `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://vendor.example/node_20.x
Suites: nodistro
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
`;

t.test('deb822 stanzas: URIs, suites, components; disabled ones skipped', async (t) => {
  const s = parseDeb822Sources(deb822);
  t.equal(s.length, 3);
  t.same(s[0], { uri: 'http://mirror.example/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'] });
});

t.test('one-line sources: options and deb-src skipped', async (t) => {
  const s = parseOneLineSources('deb [arch=amd64] http://m.example/debian bookworm main contrib\ndeb-src http://m.example/debian bookworm main\n# deb http://x bookworm main\n');
  t.same(s, [{ uri: 'http://m.example/debian', suites: ['bookworm'], components: ['main', 'contrib'] }]);
});

t.test('the mirror is the Debian release entry; updates and security come along; vendors are left out', async (t) => {
  const m = chooseMirror(parseDeb822Sources(deb822), 'bookworm');
  t.equal(m.mirror, 'http://mirror.example/debian');
  t.equal(m.suite, 'bookworm');
  t.equal(m.sourcesList, [
    'deb http://mirror.example/debian bookworm main',
    'deb http://mirror.example/debian bookworm-updates main',
    'deb http://mirror.example/debian-security bookworm-security main',
  ].join('\n'));
  t.notMatch(m.sourcesList, /vendor|disabled/);
});

t.test('no source for the release is a located infra error, not a guess', async (t) => {
  try {
    chooseMirror(parseDeb822Sources(deb822), 'trixie');
    t.fail('expected an error');
  } catch (e) {
    t.ok(isWinpvError(e) && e.code === 'LAB_NO_MIRROR');
  }
});

t.test('machineMirror reads sources.list, sources.list.d and os-release under a root', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-apt-'));
  mkdirSync(join(root, 'apt/sources.list.d'), { recursive: true });
  writeFileSync(join(root, 'apt/sources.list.d/debian.sources'), deb822);
  writeFileSync(join(root, 'os-release'), 'NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n');
  t.equal(machineMirror(root).mirror, 'http://mirror.example/debian');
  writeFileSync(join(root, 'os-release'), 'NAME=x\n');
  t.throws(() => machineMirror(root), /VERSION_CODENAME/);
});
