// Hosts with capacity and labels: the config's host entries, `--host label:...`, scenario <labels>,
// and the bad input each refuses (exit 2).
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkWorkers, hostsWithLabels, resolveConfig } from '../../src/cli/config';
import { ExitCode, isWinpvError } from '../../src/model/errors';
import { loadScenarioFile } from '../../src/scenario';
import { plan } from '../../src/plan/planner';
import { runWinpv } from '../support/cli-io';
import { caught } from '../support/errors';

const dir = mkdtempSync(join(tmpdir(), 'winpv-labels-'));
const cfg = (o: unknown) => {
  const p = join(dir, `c${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(o, null, 2));
  return p;
};
const hosts = {
  a: { url: 'xl://root@a', capacity: 2, labels: ['vbd3', 'windows-2022'] },
  b: { url: 'xl://root@b', capacity: 4, labels: ['windows-2022'] },
  c: { url: 'xapi://root@c', labels: ['sriov'] },
};

t.test('label:... picks the configured hosts carrying every label; capacity and labels reach the resolved host', async (t) => {
  const user = { hosts };
  t.same(hostsWithLabels('label:windows-2022', user), ['a', 'b']);
  t.same(hostsWithLabels('label:windows-2022,vbd3', user), ['a']);
  const env = { WINPV_CONFIG: cfg({ hosts }) };
  const r = resolveConfig({ host: 'label:windows-2022' }, env);
  t.equal(r.host.name, 'a');
  t.equal(r.host.capacity, 2);
  t.same(r.host.labels, ['vbd3', 'windows-2022']);
  t.equal(resolveConfig({ host: 'c' }, env).host.capacity, 1, 'capacity defaults to 1');
});

t.test('bad input: unknown label, no host with all labels, capacity 0, bad labels, --workers above capacity', async (t) => {
  const user = { hosts };
  t.match(caught(() => hostsWithLabels('label:gpu', user)).message, /no configured host has label 'gpu' \(labels in the config: sriov, vbd3, windows-2022\)/);
  t.match(caught(() => hostsWithLabels('label:sriov,vbd3', user)).message, /no configured host carries all of sriov, vbd3/);
  t.match(caught(() => hostsWithLabels('label:', user)).message, /name at least one label/);
  const zero = cfg({ hosts: { z: { url: 'xl://root@z', capacity: 0, labels: ['Bad Label'] } } });
  const e = caught(() => resolveConfig({ host: 'z' }, { WINPV_CONFIG: zero }));
  t.ok(isWinpvError(e));
  const paths = e.problems.map((p) => p.location.path);
  t.same(paths, ['/hosts/z/capacity', '/hosts/z/labels/0']);
  t.match(e.problems[0].message, /capacity must be a whole number from 1 to 1024/);
  const a = resolveConfig({ host: 'a' }, { WINPV_CONFIG: cfg({ hosts }) }).host;
  t.equal(checkWorkers('2', a), 2);
  t.match(caught(() => checkWorkers('3', a)).message, /--workers 3 is more than the capacity of host 'a' \(2;/);
  t.match(caught(() => checkWorkers('0', a)).message, /--workers takes a whole number from 1/);
});

t.test('the CLI exits 2 for capacity 0 and an unknown label, naming the file and setting', async (t) => {
  const zero = cfg({ hosts: { z: { url: 'sim', capacity: 0 } } });
  const x = await runWinpv(['run', '--config', zero, '--host', 'z', '--list'], { env: { PATH: process.env.PATH } });
  t.equal(x.code, ExitCode.badInput);
  t.match(x.err, /capacity must be a whole number/);
  t.match(x.err, /\/hosts\/z\/capacity/);
  const y = await runWinpv(['run', '--config', cfg({ hosts }), '--host', 'label:gpu', '--list'], { env: { PATH: process.env.PATH } });
  t.equal(y.code, ExitCode.badInput);
  t.match(y.err, /no configured host has label 'gpu'/);
});

t.test('a scenario requiring labels runs only on a host carrying them; XSD and loader agree', async (t) => {
  const repo = resolve(__dirname, '..', '..', '..');
  t.match(readFileSync(join(repo, 'scenarios', 'scenario.xsd'), 'utf8'), /<xs:element name="labels" type="nameList" minOccurs="0"\/>/);
  const src = readFileSync(join(repo, 'scenarios', 'vbd-connect.xml'), 'utf8').replace(/(<\/drivers>)/, '$1\n  <labels>vbd3 windows-2022</labels>');
  const f = join(dir, 'labelled.xml');
  writeFileSync(f, src);
  const { scenario: s, problems } = loadScenarioFile(f);
  t.same(problems, []);
  if (!s) return;
  t.same(s.labels, ['vbd3', 'windows-2022']);
  t.equal(plan([s], { seed: 1, hostLabels: new Set(['vbd3', 'windows-2022']) }).instances[0].skip, undefined);
  t.equal(plan([s], { seed: 1, hostLabels: new Set(['windows-2022']), hostKind: 'xl' }).instances[0].skip, "host xl lacks label 'vbd3'");
  writeFileSync(f, src.replace('vbd3 windows-2022', 'Not A Name'));
  t.match(loadScenarioFile(f).problems.map((p) => p.message).join('\n'), /a name \(lower case/);
});
