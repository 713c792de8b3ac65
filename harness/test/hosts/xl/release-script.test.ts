// The destroy's one command for a guest's loop devices and files, run by a real sh with a stand-in
// losetup on PATH that logs what it was asked; the stop of xl's monitor, with a real pkill.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorPattern, RELEASE_SCRIPT, STOP_MONITOR_SCRIPT } from '../../../src/hosts/xl/lifecycle';
import { skipUnlessTool } from '../../support/tools';

t.test('loop devices detached one by one, then every file removed, names with spaces intact', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-release-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'losetup.log');
  writeFileSync(join(dir, 'losetup'), `#!/bin/sh\necho "$*" >> '${log}'\n`);
  chmodSync(join(dir, 'losetup'), 0o755);
  const files = [join(dir, 'g1 disk.img'), join(dir, 'g1.cfg')];
  for (const f of files) writeFileSync(f, 'x');
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  execFileSync('sh', ['-c', RELEASE_SCRIPT, 'sh', '2', '/dev/loop3', '/dev/loop7', ...files], { env });
  t.same(readFileSync(log, 'utf8').trim().split('\n'), ['--detach /dev/loop3', '--detach /dev/loop7']);
  for (const f of files) t.notOk(existsSync(f), `${f} removed`);
  // no loops and no files: nothing run, exit 0
  rmSync(log);
  execFileSync('sh', ['-c', RELEASE_SCRIPT, 'sh', '0'], { env });
  t.notOk(existsSync(log), 'losetup not run');
  // files only
  writeFileSync(files[0]!, 'x');
  execFileSync('sh', ['-c', RELEASE_SCRIPT, 'sh', '0', files[0]!], { env });
  t.notOk(existsSync(files[0]!));
});

t.test('the teardown stops xl\'s monitor of its own guest only (real pkill on processes named as xl\'s are)', { skip: skipUnlessTool('pkill', 'perl') }, async (t) => {
  // xl create's monitor, as seen in the lab's dom0: `/usr/lib/xen-4.17/bin/xl create -p <cfg>`
  const monitor = (args: string, verb = 'create') => spawn('perl', ['-e', `$0 = "/usr/lib/xen-4.17/bin/xl ${verb} ${args}"; sleep 60`], { stdio: 'ignore' });
  const mine = [monitor('-p /var/lib/winpv/run/winpv-s0-a.b-ref.cfg'), monitor('/var/lib/winpv/run/winpv-s0-a.b-ref.save', 'restore')];
  const others = [
    monitor('-p /var/lib/winpv/run/winpv-s0-a.b-ref.cfg.old'), monitor('-p /var/lib/winpv/run/winpv-s0-aXb-ref.cfg'),
    monitor('-p /var/lib/winpv/run/winpv-s0-a.b-ref2.cfg'), monitor('/var/lib/winpv/run/winpv-s0-a.b-ref2.save', 'restore'),
  ];
  t.teardown(() => [...mine, ...others].forEach((p) => p.kill()));
  await new Promise((r) => setTimeout(r, 300)); // perl has set its name
  const gone = Promise.all(mine.map((p) => new Promise((r) => p.once('exit', r))));
  execFileSync('sh', ['-c', STOP_MONITOR_SCRIPT, 'sh', monitorPattern('winpv-s0-a.b-ref')]);
  await gone;
  t.ok(mine.every((p) => p.signalCode === 'SIGTERM'), 'its monitors (xl create, xl restore) stopped');
  t.ok(others.every((p) => p.exitCode === null && p.signalCode === null), 'other guests\' monitors (a longer name, a dot that is not one) left alone');
  execFileSync('sh', ['-c', STOP_MONITOR_SCRIPT, 'sh', monitorPattern('none')]);
  t.pass('nothing to stop: exit 0');
});
