import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo as io } from '../support/cli-io';
import { main } from '../../src/cli/main';
import { writeState } from '../../src/lab/state';


t.test('status, ssh and down without a running lab', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-labcli-'));
  const a = io();
  t.equal(await main(['lab', 'status', '--dir', dir], a), 3);
  t.match(a.text().out, /lab: not running/);
  const b = io();
  t.equal(await main(['lab', 'ssh', '--dir', dir, '--', 'xl', 'list'], b), 3);
  t.match(b.text().err, /no lab running/);
  const c = io();
  t.equal(await main(['lab', 'down', '--dir', dir], c), 0);
  t.match(c.text().err, /no lab running/);
});

t.test('a state file whose QEMU is gone is reported and forgotten; no other process is touched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-labcli-'));
  // our own pid: alive, but not a QEMU, so down must not signal it
  writeState(dir, { pid: process.pid, argv: ['qemu-system-x86_64', '-name', 'winpv-lab'], port: 1, user: 'root', sshKey: 'k', knownHosts: 'kh', hostKey: 'h', serialLog: 's', imageKey: 'i', startedAt: 'now' });
  const a = io();
  t.equal(await main(['lab', 'status', '--dir', dir], a), 3);
  t.match(a.text().out, /stopped \(QEMU gone\)/);
  const b = io();
  t.equal(await main(['lab', 'down', '--dir', dir], b), 0);
  t.match(b.text().err, /no longer running; forgetting it/);
  const c = io();
  await main(['lab', 'status', '--dir', dir], c);
  t.match(c.text().out, /lab: not running/);
});

t.test('usage', async (t) => {
  const a = io();
  t.equal(await main(['lab'], a), 2);
  t.match(a.text().out, /usage: winpv lab <up\|status\|ssh\|down>/);
  const b = io();
  t.equal(await main(['lab', 'reboot'], b), 2);
  t.match(b.text().err, /unknown subcommand 'reboot'/);
});
