import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearState, readState, writeState, type LabState } from '../../src/lab/state';
import { namesPidfile } from '../../src/lab/qemu-process';

const argv = ['nice', '-n', '10', 'qemu-system-x86_64', '-name', 'winpv-lab', '-kernel', '/c/xen'];

t.test('a pid is ours only while its command line names this lab\'s pidfile', async (t) => {
  const qemu = ['qemu-system-x86_64', '-name', 'winpv-lab', '-pidfile', '/c/qemu.pid'];
  t.ok(namesPidfile(7, '/c/qemu.pid', () => qemu));
  t.ok(namesPidfile(7, '/c/qemu.pid', () => ['nice', '-n', '10', ...qemu]), 'right after the spawn the pid is still nice, about to exec the same QEMU');
  t.notOk(namesPidfile(7, '/c/qemu.pid', () => ['bash', '-c', 'sleep']), 'a recycled pid is not ours');
  t.notOk(namesPidfile(7, '/d/qemu.pid', () => qemu), 'another lab is not ours');
  t.notOk(namesPidfile(7, '/c/qemu.pid', () => undefined), 'a gone process is not ours');
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
