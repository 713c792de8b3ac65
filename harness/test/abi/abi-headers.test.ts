// The ABI table agrees with Debian's Xen headers (libxen-dev), number by number, compiled with gcc.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main';
import type { AbiTable } from '../../src/abi/table';
import { cProgram, compareNumbers, parseProbeOutput, tableNumbers } from './c-probe';
import { skipUnlessTool } from '../support/tools';

const HEADER = '/usr/include/xen/io/ring.h';

async function abiJson(t: Test): Promise<AbiTable> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const code = await main(['abi', '--json'], { out, err: new PassThrough() });
  t.equal(code, 0, 'winpv abi --json exits 0');
  return JSON.parse(text) as AbiTable;
}

const skip = skipUnlessTool('gcc', HEADER);
if (skip) {
  t.test('every size, offset, ring size and constant matches the headers', { skip }, async () => {});
} else {
  t.test('every size, offset, ring size and constant matches the headers', async (t) => {
    const table = await abiJson(t);
    const dir = mkdtempSync(join(tmpdir(), 'winpv-abi-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'probe.c'), cProgram(table));
    execFileSync('gcc', ['-Wall', '-o', join(dir, 'probe'), join(dir, 'probe.c')], { stdio: 'pipe' });
    const theirs = parseProbeOutput(execFileSync(join(dir, 'probe'), { encoding: 'utf8' }));
    const ours = tableNumbers(table);
    t.ok(ours.size > 150, `compared ${ours.size} numbers`);
    t.same(compareNumbers(ours, theirs), [], 'no disagreement');
    // The comparison can fail: a wrong offset is reported with its key.
    const wrong = new Map(ours).set('struct.blkif_response.status.offset', 9);
    t.match(compareNumbers(wrong, theirs), [/blkif_response\.status\.offset: winpv abi says 9, the headers say 10/]);
  });
}

t.test('plain rendering names the headers and ring sizes', async (t) => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  t.equal(await main(['abi'], { out, err: new PassThrough() }), 0);
  t.match(text, /struct blkif_request {2}size 112/);
  t.match(text, /blkif +entry 112 B {2}0:32 1:64 2:128 3:256 4:512/);
  t.match(text, /netif_tx +entry {2}12 B {2}0:256/);
});
