// A dom0 for lease tests, over real SSH (the test SSH server): `sh -c` commands run in a local shell
// with dom0's /run/winpv-lease mapped into a temporary directory, so mkdir, mktemp and mv -T are the
// real tools with the real rename(2) the xl lease store relies on. `xl info` fails unless told
// otherwise (a dom0 whose toolstack is down: the xl backend's health check refuses it).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestSshServer, type TestSshServer } from './ssh-server';
import { XL_LEASE_DIR } from '../../src/hosts/xl/lease';

export interface LeaseDom0 {
  ssh: TestSshServer;
  /** Where dom0's lease directory really is. */
  leaseDir: string;
  knownHosts: string;
  password: string;
  close(): Promise<void>;
}

export async function startLeaseDom0(o: { xlWorks?: boolean } = {}): Promise<LeaseDom0> {
  const root = mkdtempSync(join(tmpdir(), 'winpv-lease-dom0-'));
  const leaseDir = join(root, 'run-winpv-lease');
  const password = 'lease-dom0-pw-5d1c';
  const ssh = await startTestSshServer({
    user: 'root',
    password,
    onExec: (ctx) =>
      new Promise<number>((done) => {
        if (/^xl info\b|^'xl' 'info'/.test(ctx.command) && !o.xlWorks) {
          ctx.stderr('xl: command failed: libxl: error: Cannot connect to xenstored\n');
          return done(1);
        }
        const p = spawn('sh', ['-c', ctx.command.split(XL_LEASE_DIR).join(leaseDir)], { stdio: ['ignore', 'pipe', 'pipe'] });
        p.stdout.on('data', (b: Buffer) => ctx.stdout(b));
        p.stderr.on('data', (b: Buffer) => ctx.stderr(b));
        p.on('close', (code) => done(code ?? 1));
      }),
  });
  const knownHosts = join(root, 'known_hosts');
  writeFileSync(knownHosts, ssh.knownHostsLine + '\n');
  return { ssh, leaseDir, knownHosts, password, close: () => ssh.close() };
}
