// Artifacts land in the report directory whole or not at all, under names that cannot escape it.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactSegment, storeArtifact } from '../../src/util/artifacts';

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
