// netback's debugfs for the ring sampler's tests: a temp directory standing for
// /sys/kernel/debug/xen-netback, io_ring_q<N> files written as netback prints them, and the
// sampler's own shell scripts run by the shell they name (bash, sh) against it (so a test proves the script, not a copy of it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETBACK_DEBUGFS } from '../../src/hosts/netback-rings';

export interface QueueIndices {
  tx: number;
  /** The frontend keeps 256 rx buffers posted ahead of netback's responses. */
  rx: number;
}

/**
 * One io_ring_q<N> file as Linux drivers/net/xen-netback/xenbus.c xenvif_read_io_ring prints it:
 * `Queue N`, the TX ring (req prod/cons/event with their distance from rsp_prod, rsp prod/pvt/event),
 * pending and dealloc counters, a blank line, the RX ring, a blank line, then NAPI and credit state.
 */
export function ioRingText(queue: number, i: QueueIndices): string {
  const { tx, rx } = i;
  return (
    `Queue ${queue}\nTX: nr_ents 256\nreq prod ${tx} (0) cons ${tx} (0) event ${tx + 1} (1)\nrsp prod ${tx} (base) pvt ${tx} (0) event ${tx + 1} (1)\n` +
    `pending prod ${tx + 256} pending cons ${tx} nr_pending_reqs 0\ndealloc prod ${tx} dealloc cons ${tx} dealloc_queue 0\n\n` +
    `RX: nr_ents 256\nreq prod ${rx + 256} (256) cons ${rx} (0) event ${rx + 1} (1)\nrsp prod ${rx} (base) pvt ${rx} (0) event ${rx + 1} (1)\n\n` +
    `NAPI state: 10 NAPI weight: 64 TX queue len 0\n`
  );
}

export class FakeNetbackDebugfs {
  readonly root = mkdtempSync(join(tmpdir(), 'winpv-netback-'));

  dir(domid: number, devid: number): string {
    return join(this.root, `vif${domid}.${devid}`);
  }

  /** Writes every queue's file of a vif, atomically: a read sees the whole old file or the whole new one
   *  (netback's own file is no single moment: hosts/xl/parse.ts, parseNetbackIoRing). */
  set(domid: number, devid: number, queues: QueueIndices[]): void {
    const d = this.dir(domid, devid);
    mkdirSync(d, { recursive: true });
    queues.forEach((q, n) => {
      writeFileSync(join(d, `.q${n}`), ioRingText(n, q));
      renameSync(join(d, `.q${n}`), join(d, `io_ring_q${n}`));
    });
  }

  /** netback's xenvif_debugfs_delif: the vif's directory goes with the interface. */
  remove(domid: number, devid: number): void {
    rmSync(this.dir(domid, devid), { recursive: true, force: true });
  }

  /** argv as dom0 would run it, netback's debugfs paths moved into this directory. */
  mapped(argv: readonly string[]): string[] {
    return argv.map((a) => (a === NETBACK_DEBUGFS || a.startsWith(`${NETBACK_DEBUGFS}/`) ? this.root + a.slice(NETBACK_DEBUGFS.length) : a));
  }

  /** Runs argv (`bash -c SCRIPT bash DIR ...`, `sh -c ...`) as sshd would run the command line. */
  spawn(argv: readonly string[]): ChildProcess {
    const [cmd, ...rest] = this.mapped(argv);
    return spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  close(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
