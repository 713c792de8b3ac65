import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearState, isOurProcess, labDir, readState, writeState, type LabState } from '../../src/lab/state';

const argv = ['nice', '-n', '10', 'qemu-system-x86_64', '-name', 'winpv-lab', '-kernel', '/c/xen'];

t.test('a pid is ours only while its command line is the QEMU we started', async (t) => {
  const cmd = 'qemu-system-x86_64\0-name\0winpv-lab\0-kernel\0/c/xen\0';
  t.ok(isOurProcess({ pid: 7, argv }, () => cmd));
  t.ok(isOurProcess({ pid: 7, argv }, () => ['nice', '-n', '10', cmd].join('\0')), 'right after the spawn the pid is still nice, about to exec the same QEMU');
  t.notOk(isOurProcess({ pid: 7, argv }, () => 'bash\0-c\0sleep\0'), 'a recycled pid is not ours');
  t.notOk(isOurProcess({ pid: 7, argv }, () => cmd.replace('/c/xen', '/d/xen')), 'another lab is not ours');
  t.notOk(isOurProcess({ pid: 7, argv }, () => {
    throw new Error('ENOENT');
  }), 'a gone process is not ours');
});

t.test('lab directory precedence: --dir, WINPV_LAB_DIR, XDG_CACHE_HOME', async (t) => {
  t.equal(labDir({ WINPV_LAB_DIR: '/e' }, '/x'), '/x');
  t.equal(labDir({ WINPV_LAB_DIR: '/e', XDG_CACHE_HOME: '/c' }), '/e');
  t.equal(labDir({ XDG_CACHE_HOME: '/c' }), join('/c', 'winpv', 'lab'));
});

t.test('state round trip and an unreadable state file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-labstate-'));
  t.equal(readState(dir), undefined);
  const s: LabState = { pid: 1, argv, port: 2222, user: 'root', sshKey: 'k', knownHosts: 'kh', hostKey: 'ssh-ed25519 AAAA', serialLog: 's', imageKey: 'abc', startedAt: 'now' };
  writeState(dir, s);
  t.same(readState(dir), s);
  require('node:fs').writeFileSync(join(dir, 'lab.json'), '{broken');
  t.throws(() => readState(dir), /unreadable lab state/);
  clearState(dir);
  t.equal(readState(dir), undefined);
});
