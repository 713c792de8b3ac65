// The destroy's one command for a guest's loop devices and files, run by a real sh with a stand-in
// losetup on PATH that logs what it was asked.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RELEASE_SCRIPT } from '../../../src/hosts/xl/lifecycle';

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
