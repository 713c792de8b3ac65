// winpv spec lint | show, through the CLI entry point.
import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWinpv } from '../support/cli-io';
import { shippedDir } from './mutate';

const winpv = (argv: string[], cwd = tmpdir()) => runWinpv(argv, { cwd, env: {} });

t.test('lint of the shipped specs from any directory', async (t) => {
  const r = await winpv(['spec', 'lint']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^ok: 5 driver specs in .*drivers-spec \(xenbus, xeniface, xennet, xenvbd, xenvif\)\n$/);
});

t.test('lint prints every problem as file:line:col path: message [rule] and exits 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-spec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(shippedDir, join(dir, 'specs'), { recursive: true });
  const f = join(dir, 'specs', 'xenvbd.xml');
  writeFileSync(f, readFileSync(f, 'utf8').replace('<revision id="0900000B"/>', '<revision id="0900000D"/>'));
  const g = join(dir, 'specs', 'xenvif.xml');
  writeFileSync(g, readFileSync(g, 'utf8').replace('max-ring-page-order="0"', 'max-ring-page-order="7"'));
  const r = await winpv(['spec', 'lint', 'specs'], dir);
  t.equal(r.code, 2);
  const lines = r.out.trim().split('\n');
  t.equal(lines.length, 2, r.out);
  t.match(lines[0], /^specs\/xenvbd\.xml:29:15 \/driver\/binds\/revision\/@id: revision 0900000D is not advertised by xenbus .*\[revision-exists\]$/);
  t.match(lines[1], /^specs\/xenvif\.xml:\d+:\d+ \/driver\/ring\/@max-ring-page-order: .*above the maximum 4 \[attribute-value\]$/);
  t.match(r.err, /2 problems in 2 files of specs/);
  t.notMatch(r.out + r.err, /at .*\.ts:\d+/, 'no stack trace');

  const show = await winpv(['spec', 'show', 'xenvbd', '--dir', 'specs'], dir);
  t.equal(show.code, 2, 'show refuses a broken set');
  t.match(show.err, /problems in driver specs/);
  t.match(show.err, /specs\/xenvbd\.xml:29:15 \/driver\/binds\/revision\/@id/);
});

t.test('lint --rules lists the rules', async (t) => {
  const r = await winpv(['spec', 'lint', '--rules']);
  t.equal(r.code, 0);
  t.match(r.out, /^revision-exists +each revision a child binds is advertised by its parent$/m);
});

t.test('show renders the resolved contract', async (t) => {
  const r = await winpv(['spec', 'show', 'xenvif']);
  t.equal(r.code, 0, r.err);
  for (const want of [
    /^xenvif: PV network class/,
    /XENBUS\\VEN_XP0001&DEV_VIF&REV_0900000B/,
    /advertised revisions\n  09000001  XENBUS\.CACHE 2, VIF 8/,
    /binds xenbus revision 0900000B/,
    /event-channel-tx .*when backend:feature-split-event-channels/,
    /multi-queue-num-queues .*constraint <= backend:multi-queue-max-queues/,
    /connect +1->4 \(backend 2\/3\)/,
    /feature\/hotplug\/vif/,
    /ring: netif, max ring-page-order 0, multi-queue up to 8/,
    /unplug \(requests NICS\): bit 1 all NICs/,
    /build: build\.ps1 -Type free\|checked -Arch x86\|x64 -SignMode TestSign\|ProductionSign\|Off; after xenbus/,
  ]) t.match(r.out, want);
  const j = await winpv(['spec', 'show', 'xennet', '--json']);
  t.equal(j.code, 0);
  const spec = JSON.parse(j.out);
  t.equal(spec.name, 'xennet');
  t.same(spec.bindsRevisions, ['09000005']);
  t.ok(spec.hardwareIdsExpanded.includes('XENVIF\\VEN_XN0002&DEV_NET&REV_09000005'));
});

t.test('usage errors', async (t) => {
  const none = await winpv(['spec', 'show']);
  t.equal(none.code, 2);
  const unknown = await winpv(['spec', 'show', 'xenfoo']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /no spec for driver 'xenfoo' \(specs: xenbus, xeniface, xennet, xenvbd, xenvif\)/);
  const sub = await winpv(['spec', 'frob']);
  t.equal(sub.code, 2);
  const help = await winpv(['spec', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /lint \[DIR\]/);
});
