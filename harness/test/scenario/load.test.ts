import { DEFAULT_CHECKS } from '../../src/checks/evaluate';
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadScenarios, loadScenarioFile } from '../../src/scenario';
import { isWinpvError } from '../../src/model/errors';
import { plan } from '../../src/plan/planner';
import { skipUnlessTool } from '../support/tools';

const repo = resolve(__dirname, '..', '..', '..');
const catalogue = join(repo, 'scenarios');

t.test('the catalogue loads, is at least 20 scenarios, and is tagged', async (t) => {
  const all = loadScenarios(['scenarios'], repo);
  t.ok(all.length >= 20, `${all.length} scenarios`);
  for (const s of all) {
    t.ok(s.tags.some((x) => ['smoke', 'nightly', 'release', 'lab'].includes(x)), `${s.name} has a known tag`);
    t.ok(s.steps.length > 0, `${s.name} has steps`);
    t.equal(s.source.file.startsWith('scenarios/'), true, 'files are named relative to the working directory');
  }
  const names = all.map((s) => s.name);
  for (const n of ['install-connect', 'upgrade-over-older', 'multi-page-ring', 'suspend-resume-x3-under-io', 'migrate-under-io', 'surprise-removal', 'two-guests-traffic']) {
    t.ok(names.includes(n), n);
  }
  const p = plan(all, { seed: 1 });
  t.ok(p.instances.length > all.length, 'the matrix adds instances');
});

t.test('matrix expansion substitutes typed values per instance', async (t) => {
  const [s] = loadScenarios(['scenarios/multi-page-ring.xml'], repo);
  t.same(s.matrix, [{ name: 'order', values: ['0', '1', '2', '3', '4'] }]);
  const p = plan([s], { seed: 1 });
  t.same(p.instances.map((i) => i.id), [0, 1, 2, 3, 4].map((o) => `multi-page-ring[order=${o}]`));
  t.same(p.instances.map((i) => i.scenario.guests[0].vbds[0].ringPageOrder), [0, 1, 2, 3, 4]);
  t.equal(p.instances[3].scenario.title, 'Multi-page blkif ring at ring-page-order 3');
  t.equal(s.guests[0].vbds[0].backend['max-ring-page-order'], '4');
});

t.test('capability needs are derived from the steps', async (t) => {
  const [s] = loadScenarios(['scenarios/migrate-under-io.xml'], repo);
  t.ok(s.needs.includes('migrate'));
  t.ok(s.needs.includes('windows-guest'));
  const p = plan([s], { seed: 1, capabilities: new Set(['windows-guest']), hostKind: 'xl' });
  t.equal(p.instances[0].skip, "host xl lacks 'migrate'");
});

const xmllintSkip = skipUnlessTool('xmllint');
t.test('scenario.xsd accepts every catalogue file (xmllint)', { skip: xmllintSkip }, async (t) => {
  for (const f of readdirSync(catalogue).filter((n) => n.endsWith('.xml'))) {
    const r = spawnSync('xmllint', ['--noout', '--schema', join(catalogue, 'scenario.xsd'), join(catalogue, f)], { encoding: 'utf8' });
    t.equal(r.status, 0, `${f}: ${r.stderr.trim()}`);
  }
});

const dir = mkdtempSync(join(tmpdir(), 'winpv-scn-'));
function bad(name: string, body: string, head = '<title>t</title><tags>smoke</tags><drivers>xenbus xenvbd</drivers>'): string {
  const text = `<?xml version="1.0"?>\n<scenario name="${name}">\n${head}\n${body}\n</scenario>\n`;
  const f = join(dir, `${name}.xml`);
  writeFileSync(f, text);
  return f;
}
const GUEST = '<guest name="win"><vbd vdev="xvda" size="1G"/><vif devid="0"/></guest>';

const has = (list: string[], re: RegExp) => list.some((x) => re.test(x)) || `no problem matching ${re} in ${JSON.stringify(list)}`;
function problems(file: string): string[] {
  return loadScenarioFile(file, 'x.xml').problems.map((p) => `${p.location.line}:${p.location.path ?? ''}: ${p.message}`);
}

t.test('bad scenarios get located problems, all of them at once', async (t) => {
  t.equal(has(problems(bad('a', `${GUEST}<steps><frobnicate guest="win"/></steps>`)), /^4:\/scenario\/steps\/frobnicate: element <frobnicate> is not allowed/), true);
  t.equal(has(problems(bad('b', `${GUEST}<steps><block guest="win" device="xvdq" duration="1s"/></steps>`)), /^4:.*@device: guest 'win' has no device xvdq/), true);
  t.equal(has(problems(bad('c', `${GUEST}<steps><reboot guest="nobody"/></steps>`)), /no guest 'nobody'/), true);
  t.equal(has(problems(bad('d', `${GUEST}<steps><block guest="win" device="xvda" duration="1s" write-percent="130"/></steps>`)), /write-percent.*above the maximum 100/), true);
  t.equal(has(problems(bad('e', `${GUEST}<faults><fault name="gremlins"/></faults><steps><sleep duration="1s"/></steps>`)), /'gremlins' is not a fault/), true);
  t.equal(has(problems(bad('f', `${GUEST}<steps><sleep duration="1s"/></steps><checks><check name="workload"><param name="minGiraffes" value="1"/></check></checks>`)), /no parameter 'minGiraffes'/), true);
  const two = problems(bad('g', `${GUEST}<steps><sleep duration="soon"/><net guest="win" device="xvda" duration="1s"/></steps>`));
  t.equal(two.length, 2, 'every problem reported');
  t.equal(has(problems(bad('h', `<guest name="win"><vbd vdev="xvda" size="1G" ring-page-order="\${order}"/></guest><steps><sleep duration="1s"/></steps>`)), /\$\{order\} is not a matrix variable/), true);
  const i = problems(bad('i', `<guest name="win"><vbd vdev="xvda" size="1G" ring-page-order="\${o}"/></guest><steps><sleep duration="1s"/></steps>`, '<title>t</title><tags>smoke</tags><drivers>xenbus</drivers><matrix><axis name="o" values="3 4 5"/></matrix>'));
  t.equal(has(i, /ring-page-order.*above the maximum 4 \(matrix o=5\)/), true);
  t.equal(i.length, 1, 'only the combination that is wrong');
  t.equal(has(problems(bad('j', '<guest name="win"/><steps><sleep duration="1s"/></steps><oops/>')), /<oops> is not allowed/), true);
  t.ok(problems(bad('k', '<guest name="win"/><steps><sleep duration="1s"/>')).length > 0, 'not well formed');
  t.equal(has(problems(bad('l', `${GUEST}<steps><install-drivers guest="win" bundle="builtin:9.1.0" method="setup.exe"/></steps>`)), /^4:\/scenario\/steps\/install-drivers\/@method: .*not one of pnputil, installer/), true);
});

t.test('an install step asks for the vendor installer and Driver Verifier', async (t) => {
  const f = join(mkdtempSync(join(tmpdir(), 'winpv-scn-ok-')), 'vendor.xml');
  writeFileSync(f, `<?xml version="1.0"?>\n<scenario name="vendor">\n<title>t</title><tags>smoke</tags><drivers>xenbus xenvbd</drivers>\n${GUEST}<steps><install-drivers guest="win" bundle="builtin:9.1.0" method="installer" verifier="true"/><install-drivers guest="win" bundle="builtin:9.1.0"/></steps>\n</scenario>\n`);
  const r = loadScenarioFile(f, 'vendor.xml');
  t.same(r.problems, []);
  t.match(r.scenario?.steps[0], { kind: 'install-drivers', method: 'installer', verifier: true });
  t.ok(r.scenario!.needs.includes('vendor-installer') && r.scenario!.needs.includes('driver-verifier'), 'the options are needs');
  const p = plan([r.scenario!], { seed: 1, capabilities: new Set(['windows-guest', 'hotplug', 'suspend', 'save-restore', 'migrate', 'snapshot', 'backend-control', 'backend-keys', 'fault-injection', 'ring-ids', 'grant-audit']), hostKind: 'sim' });
  t.equal(p.instances[0]!.skip, "host sim lacks 'driver-verifier', 'vendor-installer'", 'skipped on the simulator, with the reason');
  t.notOk(r.scenario && 'method' in r.scenario.steps[1]! , 'pnputil without Driver Verifier is the default (no fields)');
  if (!xmllintSkip) t.equal(spawnSync('xmllint', ['--noout', '--schema', join(catalogue, 'scenario.xsd'), f], { encoding: 'utf8' }).status, 0, 'scenario.xsd accepts it too');
});

t.test('a guest sets driver registry parameters (<registry>), matrix variables included', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'winpv-scn-reg-'));
  const f = join(d, 'reg.xml');
  writeFileSync(f, `<?xml version="1.0"?>\n<scenario name="reg">\n<title>t</title><tags>smoke</tags><drivers>xenbus xenvbd xenvif</drivers><matrix><axis name="o" values="0 3"/></matrix>\n<guest name="win"><vbd vdev="xvda" size="1G"/><registry driver="xenvbd" value="max-ring-page-order" data="\${o}"/><registry driver="xenvif" value="FrontendMaxQueues" data="1"/></guest><steps><sleep duration="1s"/></steps>\n</scenario>\n`);
  const r = loadScenarioFile(f, 'reg.xml');
  t.same(r.problems, []);
  t.same(r.scenario!.guests[0].registry?.[1], { driver: 'xenvif', value: 'FrontendMaxQueues', data: 1 });
  const p = plan([r.scenario!], { seed: 1 });
  t.same(p.instances.map((i) => i.scenario.guests[0].registry?.[0].data), [0, 3], 'data per matrix instance');
  if (!xmllintSkip) t.equal(spawnSync('xmllint', ['--noout', '--schema', join(catalogue, 'scenario.xsd'), f], { encoding: 'utf8' }).status, 0, 'scenario.xsd accepts it too');
  writeFileSync(f, `<?xml version="1.0"?>\n<scenario name="reg">\n<title>t</title><tags>smoke</tags><drivers>xenbus</drivers>\n<guest name="win"><registry driver="xenfoo" value="x" data="1"/><registry driver="xenvif" value="FrontendMaxQueues" data="-1"/><registry driver="xenvbd" value="a" data="1"/><registry driver="xenvbd" value="a" data="2"/></guest><steps><sleep duration="1s"/></steps>\n</scenario>\n`);
  const bad = problems(f);
  t.equal(has(bad, /@driver: .*xenfoo/), true, 'unknown driver');
  t.equal(has(bad, /@data: /), true, 'negative data');
  t.equal(has(bad, /registry value xenvbd a is set twice/), true, 'twice');
});

t.test('a guest sets the simulator\'s timings and a disk its backend type; bad values are located', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'winpv-scn-tim-'));
  const f = join(d, 'tim.xml');
  writeFileSync(f, `<?xml version="1.0"?>\n<scenario name="tim">\n<title>t</title><tags>smoke</tags><drivers>xenbus xenvbd</drivers>\n<guest name="win"><vbd vdev="xvda" size="1G" backend-type="vbd3"/><timings backend-reaction="250ms" boot-to-frontend="5s"/></guest><steps><sleep duration="1s"/></steps>\n</scenario>\n`);
  const r = loadScenarioFile(f, 'tim.xml');
  t.same(r.problems, []);
  t.same(r.scenario!.guests[0].timings, { backendReactionMs: 250, bootToFrontendMs: 5000 });
  t.equal(r.scenario!.guests[0].vbds[0].backendType, 'vbd3');
  t.ok(r.scenario!.needs.includes('disk-backend'), 'a chosen disk backend is a need');
  if (!xmllintSkip) t.equal(spawnSync('xmllint', ['--noout', '--schema', join(catalogue, 'scenario.xsd'), f], { encoding: 'utf8' }).status, 0, 'scenario.xsd accepts it too');
  writeFileSync(f, `<?xml version="1.0"?>\n<scenario name="tim">\n<title>t</title><tags>smoke</tags><drivers>xenbus xenvbd</drivers>\n<guest name="win"><vbd vdev="xvda" size="1G" backend-type="qdisk"/><timings backend-reaction="soon"/><timings restore-downtime="1s"/></guest><steps><sleep duration="1s"/></steps>\n</scenario>\n`);
  const bad = problems(f);
  t.equal(has(bad, /^4:\/scenario\/guest\/timings(\[1\])?\/@backend-reaction: .*duration/), true, 'a bad duration, located');
  t.equal(has(bad, /timings/), true, 'two <timings>');
  t.equal(has(bad, /@backend-type: .*not one of vbd, vbd3/), true, 'an unknown backend type');
});

t.test('loadScenarios throws one input error listing every file problem', async (t) => {
  try {
    loadScenarios([dir], dir);
    t.fail('should throw');
  } catch (e) {
    t.ok(isWinpvError(e));
    if (isWinpvError(e)) {
      t.equal(e.exitCode, 2);
      t.ok(e.problems.length >= 10);
      t.ok(e.problems.every((p) => !p.location.file.startsWith('/')), 'no absolute paths');
    }
  }
  t.throws(() => loadScenarios(['no/such/dir'], repo), { code: 'SCENARIO_NOT_FOUND' });
});

t.test('<checks only="true"> selects the listed checks; otherwise every check judges', async (t) => {
  const [lab] = loadScenarios(['scenarios/lab-pv-connect.xml'], repo);
  t.same(lab.checks.map((c) => c.name), ['devices-connected', 'ring-invariants', 'ring-progress', 'workload', 'guest-alive']);
  const [ic] = loadScenarios(['scenarios/install-connect.xml'], repo);
  t.same(ic.checks.map((c) => c.name), DEFAULT_CHECKS, 'every check of the catalogue but the opt-in ones');
  t.same(ic.checks.find((c) => c.name === 'workload')?.params, { tolerancePct: '10', maxP99Ms: '200' });
});

t.test('backend-restart kind="...": the restart the scenario is about; another value is refused with its place', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-restart-kind-'));
  const doc = (kind: string) => `<?xml version="1.0"?>\n<scenario name="restart-kind" timeout="1m"><title>t</title><tags>nightly</tags><drivers>xenbus xenvbd</drivers>\n<guest name="win" os="windows"><vbd vdev="xvda" size="1G"/><vbd vdev="xvdb" size="1G"/></guest>\n<steps><backend-restart guest="win" device="xvdb" ${kind}/></steps></scenario>\n`;
  const good = join(dir, 'good.xml');
  writeFileSync(good, doc('kind="replug"'));
  const s = loadScenarioFile(good, 'good.xml');
  t.same(s.problems, []);
  t.match(s.scenario!.steps[0], { kind: 'backend-restart', device: 'vbd/51728', restartKind: 'replug' });
  const plain = join(dir, 'plain.xml');
  writeFileSync(plain, doc(''));
  t.equal((loadScenarioFile(plain, 'plain.xml').scenario!.steps[0] as { restartKind?: string }).restartKind, undefined, 'without kind: any host\'s restart');
  const bad = join(dir, 'bad.xml');
  writeFileSync(bad, doc('kind="reboot"'));
  const refused = loadScenarioFile(bad, 'bad.xml');
  t.equal(refused.scenario, undefined, 'a kind no host has is refused');
  t.match(refused.problems, [{ location: { file: 'bad.xml', path: /backend-restart.*kind|kind/ } }], 'with its place');
  if (!xmllintSkip) {
    t.equal(spawnSync('xmllint', ['--noout', '--schema', join(catalogue, 'scenario.xsd'), good], { encoding: 'utf8' }).status, 0, 'scenario.xsd accepts kind="replug"');
    t.not(spawnSync('xmllint', ['--noout', '--schema', join(catalogue, 'scenario.xsd'), bad], { encoding: 'utf8' }).status, 0, 'and refuses kind="reboot" too');
  }
});
