import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isoVolumeId, openBundle, writeIsoImage } from '../../src/inf/index';
import { skipUnlessTool } from '../fixtures/build/tools';
import { rejects } from '../support/errors';

t.test('writeIsoImage: a directory as an ISO that openBundle reads back; failures leave no file', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-iso-src-'));
  mkdirSync(join(dir, 'xenbus', 'x64'), { recursive: true });
  writeFileSync(join(dir, 'xenbus', 'x64', 'xenbus_long_file_name.inf'), '[Version]\r\n');
  const out = join(mkdtempSync(join(tmpdir(), 'winpv-iso-out-')), 'b.iso');
  await writeIsoImage(dir, out, '9.1.0.42');
  const b = await openBundle(out);
  t.teardown(() => b.cleanup());
  t.equal(b.source.kind, 'iso');
  t.ok(existsSync(join(b.dir, 'xenbus', 'x64', 'xenbus_long_file_name.inf')), 'nested folders and long names survive (Joliet + Rock Ridge)');
  t.equal(isoVolumeId('9.1.0.42'), 'WINPV_9_1_0_42');

  const bad = join(mkdtempSync(join(tmpdir(), 'winpv-iso-out-')), 'bad.iso');
  const e = await rejects(writeIsoImage(join(dir, 'no-such-dir'), bad, '1.0'));
  t.equal(e.code, 'XORRISO_FAILED');
  t.notOk(existsSync(bad), 'no partial ISO left');

  const path = process.env.PATH;
  process.env.PATH = '';
  t.teardown(() => void (process.env.PATH = path));
  const missing = await rejects(writeIsoImage(dir, bad, '1.0'));
  process.env.PATH = path;
  t.equal(missing.code, 'TOOL_MISSING', 'no xorriso: an infra error naming the package');
  t.match(missing.message, /Debian package xorriso/);
});
