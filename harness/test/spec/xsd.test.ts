// The XSD and the loader's shape rules must agree: xmllint (Debian's libxml2-utils) accepts exactly
// the files the loader finds no shape problem in, for the shipped specs and every broken fixture.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MUTATIONS, SHAPE_RULES } from '../fixtures/spec/mutations';
import { checkSpecs } from '../../src/spec';
import { formatProblem } from '../../src/model/errors';
import { applyMutation, shippedDir } from './mutate';
import { skipUnlessTool } from '../support/tools';

const xsd = join(shippedDir, 'driver-spec.xsd');
const skip = skipUnlessTool('xmllint');

function xmllint(file: string): { ok: boolean; output: string } {
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', xsd, file], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

t.test('the shipped specs validate against the XSD', { skip }, async (t) => {
  const files = readdirSync(shippedDir).filter((f) => f.endsWith('.xml'));
  t.same(files.sort(), ['xenbus.xml', 'xeniface.xml', 'xennet.xml', 'xenvbd.xml', 'xenvif.xml']);
  for (const f of files) {
    const r = xmllint(join(shippedDir, f));
    t.ok(r.ok, `${f}: ${r.output}`);
  }
});

t.test('xmllint and the loader agree on every broken spec', { skip }, async (t) => {
  for (const m of MUTATIONS) {
    const a = applyMutation(m);
    try {
      const loader = checkSpecs(a.dir, a.dir).problems.filter((p) => p.location.file === a.file && SHAPE_RULES.has(p.rule ?? ''));
      const lint = xmllint(join(a.dir, a.file));
      t.equal(lint.ok, loader.length === 0, `${m.rule} (${a.file}): xmllint ${lint.ok ? 'accepts' : 'rejects'} it, the loader ${loader.length ? 'rejects' : 'accepts'} it\n${lint.output}\n${loader.map(formatProblem).join('\n')}`);
      if (SHAPE_RULES.has(m.rule)) {
        t.notOk(lint.ok, `xmllint rejects the ${m.rule} fixture`);
        // Both point at the same element: libxml2 gives the line where a start tag ends, the loader where it
        // starts (a start tag here spans at most 3 lines). For a sequence out of order each names a
        // different culprit (the first unexpected element or the ones after it), so lines are not compared.
        const line = Number(/:(\d+):/.exec(lint.output)?.[1]);
        if (m.rule !== 'child-order') {
          t.ok(loader.some((p) => p.location.line! <= line && line <= p.location.line! + 2), `same element: xmllint says line ${line}, the loader ${loader.map((p) => p.location.line).join(',')}`);
        }
      }
    } finally {
      rmSync(a.dir, { recursive: true, force: true });
    }
  }
});
