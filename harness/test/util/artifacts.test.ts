// Artifacts land in the report directory whole or not at all, under names that cannot escape it.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactSegment, redactFile, secretPatterns, storeArtifact } from '../../src/util/artifacts';

t.test('a stored artifact is renamed into place with its size and sha256', async (t) => {
  const artifacts = join(mkdtempSync(join(tmpdir(), 'winpv-artifacts-')), 'artifacts');
  const data = Buffer.from('PAGEDU64 dump bytes');
  const a = await storeArtifact(artifacts, 'crash[os=2022]', 'win-MEMORY.DMP', async (tmp) => writeFileSync(tmp, data));
  t.same(a, { path: 'artifacts/crash_os_2022_/win-MEMORY.DMP', bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  t.same(readFileSync(join(artifacts, 'crash_os_2022_', 'win-MEMORY.DMP')), data);
  t.same(readdirSync(join(artifacts, 'crash_os_2022_')), ['win-MEMORY.DMP'], 'no temporary file beside it');
});

t.test('a failed copy leaves nothing behind', async (t) => {
  const artifacts = join(mkdtempSync(join(tmpdir(), 'winpv-artifacts-')), 'artifacts');
  await t.rejects(storeArtifact(artifacts, 'i', 'win-MEMORY.DMP', async (tmp) => {
    writeFileSync(tmp, 'half a dump');
    throw new Error('connection lost');
  }), /connection lost/);
  t.notOk(existsSync(join(artifacts, 'i')), 'neither the partial file nor an empty folder');
});

t.test('names from guests and instances cannot leave the artifacts directory', async (t) => {
  t.equal(artifactSegment('../../etc/passwd'), '__.._etc_passwd');
  t.equal(artifactSegment('..'), '_');
  t.equal(artifactSegment('C:\\Windows\\MEMORY.DMP'), 'C_Windows_MEMORY.DMP');
  t.equal(artifactSegment(''), '_');
});

t.test('the run\'s secrets are masked in a stored artifact, in UTF-8 and UTF-16LE, across chunk edges', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-redact-'));
  const f = join(dir, 'dump');
  const pw = 'planted-Redact-pw-5e1';
  const body = Buffer.concat([Buffer.from('PAGEDU64'), Buffer.from(`..${pw}..`), Buffer.alloc(5, 1), Buffer.from(pw, 'utf16le'), Buffer.from('tail')]);
  writeFileSync(f, body);
  const n = redactFile(f, secretPatterns([pw, 'ab']), 16); // 16-byte chunks: both copies straddle a chunk edge
  t.equal(n, 2, 'both copies found');
  const after = readFileSync(f);
  t.equal(after.length, body.length, 'the file keeps its size and layout');
  t.equal(after.indexOf(Buffer.from(pw)), -1);
  t.equal(after.indexOf(Buffer.from(pw, 'utf16le')), -1);
  t.equal(after.subarray(0, 8).toString(), 'PAGEDU64', 'the rest is untouched');
  t.equal(after.subarray(10, 10 + pw.length).toString(), '*'.repeat(pw.length));
  const artifacts = join(dir, 'artifacts');
  const a = await storeArtifact(artifacts, 'i', 'dump', async (tmp) => writeFileSync(tmp, body), { redact: secretPatterns([pw]) });
  t.equal(a.redacted, 2);
  t.equal(a.sha256, createHash('sha256').update(readFileSync(join(artifacts, 'i', 'dump'))).digest('hex'), 'the sha256 is of what is stored');
  t.same(secretPatterns(['ab']), [], 'secrets shorter than 3 characters are not looked for (they would mask at random)');
});
