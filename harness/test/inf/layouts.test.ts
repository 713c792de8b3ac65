// Each bundle layout is described once (inf/layouts.ts), for the readers and for the writers: the
// writers spell no path of their own, and what is written by those names is what the readers find.
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WINPV_BUNDLE } from '../../src/inf/layouts';
import { bundleLayout } from '../../src/guests/windows/bundle-layout';
import { readPackageSet } from '../../src/inf/index';

const src = join(__dirname, '..', '..', 'src');
const WRITERS = ['build/run-build.ts', 'build/bundle.ts'];

t.test('the writers name the layout through inf/layouts.ts, nobody else spells the manifest name', async (t) => {
  for (const f of WRITERS) {
    const text = readFileSync(join(src, f), 'utf8');
    t.match(text, /import \{[^}]*\bWINPV_BUNDLE\b[^}]*\} from '\.\.\/inf\/layouts'/, `${f} writes through WINPV_BUNDLE`);
    t.notMatch(text, /dir: b\.driver\b|`\$\{b\.driver\}\//, `${f} spells no package folder of its own`);
  }
  const spelled: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(join('inf', 'layouts.ts')) && /(['"`])manifest\.json\1/.test(readFileSync(p, 'utf8'))) spelled.push(p.slice(src.length + 1));
    }
  };
  for (const d of ['build', 'inf', 'guests', 'hosts', 'runner']) walk(join(src, d));
  t.same(spelled, [], 'only inf/layouts.ts names manifest.json among the bundle readers and writers');
});

t.test('a set written by the layout\'s names is what the readers find', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-layout-'));
  for (const d of ['xenbus', 'xenvif']) {
    for (const f of [`${d}.inf`, `${d}.sys`, `${d}.cat`]) {
      const p = join(dir, ...WINPV_BUNDLE.packageFile(d, f).split('/'));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.endsWith('.inf') ? `[Version]\r\nSignature="$Windows NT$"\r\nClass=System\r\nProvider=%V%\r\nDriverVer=09/21/2026,9.1.0.42\r\nCatalogFile=${d}.cat\r\n[Strings]\r\nV="Xen Project"\r\n` : 'x');
    }
  }
  const layout = await bundleLayout(dir, ['xenbus', 'xenvif']);
  t.same([...layout.infs.values()], [WINPV_BUNDLE.flatInf('xenbus'), WINPV_BUNDLE.flatInf('xenvif')], 'the guest agent\'s reader finds each INF where the writer put it');
  t.same((await readPackageSet(dir)).map((p) => p.path).sort(), [WINPV_BUNDLE.flatInf('xenbus'), WINPV_BUNDLE.flatInf('xenvif')], 'so does the package-set reader');
});
