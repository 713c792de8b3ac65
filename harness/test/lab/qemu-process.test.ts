// The lab's QEMU is found by its own pidfile and stopped over QMP, with a fake QEMU (a node script
// that behaves like QEMU for these purposes: slow to start, writes -pidfile once running, serves
// QMP on -qmp unix:...,server=on,wait=off and quits on `quit`). No real boot.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, runningLab } from '../../src/lab/lab';
import { labQemuPid, pidFileOf, qmpSocketOf, startQemu, stopLabQemu } from '../../src/lab/qemu-process';
import { writeState, readState, type LabState } from '../../src/lab/state';

const FAKE_QEMU = `
const net = require('node:net'); const fs = require('node:fs');
const a = process.argv.slice(2); const opt = (n) => a[a.indexOf(n) + 1];
const startMs = Number(process.env.FAKE_QEMU_START_MS || 0);
const ignoreQmp = process.env.FAKE_QEMU_DEAF_QMP === '1';
process.on('SIGTERM', () => { if (process.env.FAKE_QEMU_IGNORE_TERM !== '1') process.exit(0); });
setTimeout(() => {
  if (process.env.FAKE_QEMU_FAIL === '1') { console.error('qemu: could not load kernel'); process.exit(1); }
  const sock = /^unix:([^,]+)/.exec(opt('-qmp'))[1];
  fs.rmSync(sock, { force: true }); // as QEMU does before it binds a unix listening socket
  net.createServer((c) => {
    if (ignoreQmp) return;
    c.write('{"QMP": {"version": {}, "capabilities": []}}\\n');
    c.on('data', (d) => {
      for (const line of String(d).split('\\n').filter(Boolean)) {
        const cmd = JSON.parse(line).execute;
        c.write('{"return": {}}\\n');
        if (cmd === 'quit') setTimeout(() => process.exit(0), 50);
      }
    });
  }).listen(sock, () => fs.writeFileSync(opt('-pidfile'), process.pid + '\\n'));
}, startMs);
setInterval(() => undefined, 1000);
`;

function lab(t: { teardown: (fn: () => unknown) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-qemu-'));
  const script = join(dir, 'fake-qemu.js');
  writeFileSync(script, FAKE_QEMU);
  const argv = ['nice', '-n', '10', process.execPath, script, '-name', 'winpv-lab', '-pidfile', pidFileOf(dir), '-qmp', `unix:${qmpSocketOf(dir)},server=on,wait=off`];
  const pids: number[] = [];
  t.teardown(() => pids.forEach((p) => { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }));
  const state = (pid: number): LabState => ({ pid, argv, port: 1, user: 'root', sshKey: 'k', knownHosts: 'kh', hostKey: 'h', serialLog: join(dir, 'serial.log'), imageKey: 'x', startedAt: new Date().toISOString() });
  return { dir, argv, pids, state };
}

const waitFor = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
};

t.test('a slow-starting QEMU is not taken for an exited one, and is found once it writes its pidfile', async (t) => {
  const { dir, argv, pids, state } = lab(t);
  process.env.FAKE_QEMU_START_MS = '1500'; // a slow exec: the pid is `nice`, then a QEMU still starting
  const q = startQemu(dir, argv);
  delete process.env.FAKE_QEMU_START_MS;
  pids.push(q.pid);
  writeState(dir, state(q.pid));
  t.notOk(q.exited(), 'checked at once: still starting, not exited');
  t.ok(runningLab(dir), 'lab status: running while QEMU starts (the spawned pid carries this lab\'s -pidfile)');
  t.ok(await waitFor(() => labQemuPid(dir) === q.pid, 10_000), 'QEMU\'s own pidfile names the pid');
  t.ok(runningLab(dir));
  t.equal(await stopLabQemu(dir, q), q.pid);
  t.ok(q.exited(), 'stopped over QMP');
  t.notOk(existsSync(pidFileOf(dir)));
  t.notOk(runningLab(dir), 'lab status: not running');
});

t.test('a failing lab up stops the QEMU it started even before QEMU wrote its pidfile', async (t) => {
  const { dir, argv, pids } = lab(t);
  process.env.FAKE_QEMU_START_MS = '5000';
  const q = startQemu(dir, argv);
  delete process.env.FAKE_QEMU_START_MS;
  pids.push(q.pid);
  t.equal(labQemuPid(dir), undefined, 'no pidfile yet');
  t.equal(await stopLabQemu(dir, q, 5000), q.pid, 'stopped through the handle of the process it spawned');
  t.ok(q.exited());
});

t.test('lab down finds a QEMU left by an earlier failed lab up whose state was lost', async (t) => {
  const { dir, argv, pids } = lab(t);
  const q = startQemu(dir, argv);
  pids.push(q.pid);
  t.ok(await waitFor(() => labQemuPid(dir) === q.pid, 10_000));
  t.equal(readState(dir), undefined, 'no lab.json');
  const said: string[] = [];
  t.equal(await labDown({ dir, progress: (m) => said.push(m) }), true);
  t.ok(await waitFor(() => q.exited(), 5000), 'QEMU gone');
  t.match(said.join('\n'), /lab stopped \(QEMU pid \d+\)/);
  t.equal(await labDown({ dir, progress: (m) => said.push(m) }), false, 'a second down finds nothing');
});

t.test('a QEMU that ignores QMP and SIGTERM is killed; a recycled pid in the pidfile is not ours', async (t) => {
  const { dir, argv, pids } = lab(t);
  process.env.FAKE_QEMU_DEAF_QMP = '1';
  process.env.FAKE_QEMU_IGNORE_TERM = '1';
  const q = startQemu(dir, argv);
  delete process.env.FAKE_QEMU_DEAF_QMP;
  delete process.env.FAKE_QEMU_IGNORE_TERM;
  pids.push(q.pid);
  t.ok(await waitFor(() => labQemuPid(dir) === q.pid, 10_000));
  t.equal(await stopLabQemu(dir, undefined, 1000), q.pid);
  t.ok(await waitFor(() => q.exited(), 2000));
  t.match(q.exitStatus(), /SIGKILL/);
  writeFileSync(pidFileOf(dir), `${process.pid}\n`);
  t.equal(labQemuPid(dir), undefined, 'this test process does not carry the lab\'s -pidfile');
  t.equal(await stopLabQemu(dir), undefined, 'and is never signalled');
});

t.test('a QEMU that exits at once is seen as exited, with its status', async (t) => {
  const { dir, argv, pids } = lab(t);
  process.env.FAKE_QEMU_FAIL = '1';
  const q = startQemu(dir, argv);
  delete process.env.FAKE_QEMU_FAIL;
  pids.push(q.pid);
  t.ok(await waitFor(() => q.exited(), 10_000));
  t.match(q.exitStatus(), /exit 1/);
  t.match(readFileSync(join(dir, 'qemu.log'), 'utf8'), /could not load kernel/);
  t.equal(await stopLabQemu(dir, q), undefined);
});

t.test('a late cleanup of an earlier lab up stops only its own QEMU, not a newer one on the same directory', async (t) => {
  const { dir, argv, pids } = lab(t);
  const first = startQemu(dir, argv);
  pids.push(first.pid);
  t.ok(await waitFor(() => labQemuPid(dir) === first.pid, 10_000));
  process.kill(first.pid, 'SIGKILL'); // what `lab down` did meanwhile
  t.ok(await waitFor(() => first.exited(), 5000));
  const second = startQemu(dir, argv);
  pids.push(second.pid);
  t.ok(await waitFor(() => labQemuPid(dir) === second.pid, 10_000), 'the newer QEMU owns the pidfile and the QMP socket');
  t.equal(await stopLabQemu(dir, first, 2000), undefined, 'the first lab up\'s cleanup finds its QEMU gone');
  t.notOk(second.exited(), 'the newer QEMU still runs');
  t.equal(labQemuPid(dir), second.pid);
  t.equal(await stopLabQemu(dir, second), second.pid);
});
