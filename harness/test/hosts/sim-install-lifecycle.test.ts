// The install-lifecycle steps' refusals and outcomes on the simulated host: an installer expected to
// fail with 1603 that succeeds fails the step, a 1603 collects the installer's log as an artifact
// file, set-nic needs an interface up, builtin vendors must be the specs', bad step attributes are
// refused when the scenario loads, and a host without the capabilities skips the scenarios naming them.
import t from 'tap';
import type { Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenarios } from '../../src/scenario';
import { plan } from '../../src/plan';
import { runPlan } from '../../src/runner';
import { TraceWriter } from '../../src/trace/writer';
import { SimHost } from '../../src/hosts/sim';
import type { InstanceResult } from '../../src/model/result';
import type { Capability } from '../../src/model/catalog';
import { specs } from './sim-fixture';

const xml = (steps: string, guestAttrs = '') => `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="lc" timeout="5m">
  <title>lifecycle</title>
  <tags>test</tags>
  <drivers>xenbus xenvbd xenvif xennet</drivers>
  <guest name="win" os="windows"${guestAttrs}>
    <vbd vdev="xvda" size="1G"/>
    <vif devid="0" mac="00:16:3e:00:00:01"/>
  </guest>
  <steps>${steps}</steps>
</scenario>
`;

async function run(t: Test, text: string, opts: { capabilities?: Set<Capability>; artifactsDir?: string } = {}): Promise<{ r: InstanceResult; trace: TraceWriter }> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-lc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'lc.xml'), text);
  const host = new SimHost({ specs });
  const p = plan(loadScenarios([dir], dir), { seed: 3, capabilities: opts.capabilities ?? host.capabilities, faults: host.faults.supported, hostKind: host.kind });
  const trace = new TraceWriter();
  const out = await runPlan({ host, plan: p, specs, specHashes: {}, trace, reporter: {}, ...(opts.artifactsDir ? { artifactsDir: opts.artifactsDir } : {}) });
  return { r: out.summary.instances[0], trace };
}

const XS = `<install-drivers guest="win" bundle="builtin:9.0.0@XS"/><wait guest="win" path="device/vbd/51712/state" equals="4"/><wait guest="win" path="device/vif/0/state" equals="4"/>`;

t.test('expect-exit="1603": the step passes on 1603, the log is collected; an installer that succeeds fails the step', async (t) => {
  const art = mkdtempSync(join(tmpdir(), 'winpv-lc-art-'));
  t.teardown(() => rmSync(art, { recursive: true, force: true }));
  const { r, trace } = await run(t, xml(`${XS}<install-drivers guest="win" bundle="builtin:9.1.0" method="installer" expect-exit="1603"/>`), { artifactsDir: join(art, 'artifacts') });
  t.equal(r.aborted, undefined, 'the step got the 1603 it expected');
  const a = trace.events.find((e) => e.ev === 'artifact');
  t.ok(a && a.ev === 'artifact' && a.kind === 'installer-log' && a.path, 'an installer-log artifact');
  if (a && a.ev === 'artifact' && a.path) {
    t.ok(existsSync(join(art, a.path)), 'the log file is in the report directory');
    t.match(readFileSync(join(art, a.path), 'utf8'), /other Xen PV drivers are installed: xenbus 9\.0\.0\.0 \(XS\)[\s\S]*returned actual error code 1603/);
  }
  const ok = await run(t, xml('<install-drivers guest="win" bundle="builtin:9.1.0" method="installer" expect-exit="1603"/>'));
  t.equal(ok.r.aborted?.code, 'INSTALLER_EXIT');
  t.match(ok.r.aborted?.message ?? '', /the vendor installer succeeded, expected it to fail with exit code 1603/);
});

t.test('an installer failing where no failure is expected fails the step with the code, its meaning and the log', async (t) => {
  const { r } = await run(t, xml(`${XS}<install-drivers guest="win" bundle="builtin:9.1.0" method="installer"/>`));
  t.match(r.aborted?.message ?? '', /the vendor installer winpv-9\.1\.0\.msi failed \(1603: fatal error during installation\); its log is C:\\Windows\\Temp\\winpv-9\.1\.0\.msi\.log/);
});

t.test('set-nic with no interface of that MAC up is refused', async (t) => {
  // after install + reboot with the NIC unplugged, the PV NIC is up; with only xenbus, nothing is
  const { r } = await run(t, xml('<install-drivers guest="win" bundle="builtin:9.1.0" drivers="xenbus xenvbd xenvif"/><set-nic guest="win" device="vif/0" ipv4="192.0.2.1/24"/>'));
  t.equal(r.aborted?.code, 'SIM_NO_NIC');
});

t.test('builtin:<version>@<vendor> takes only the specs\' vendor prefixes', async (t) => {
  const { r } = await run(t, xml('<install-drivers guest="win" bundle="builtin:9.1.0@ZZ"/>'));
  t.equal(r.aborted?.code, 'BUNDLE_VENDOR');
  const bad = await run(t, xml('<install-drivers guest="win" bundle="builtin:9.1.0@xs"/>'));
  t.equal(bad.r.aborted?.code, 'BUNDLE_INVALID');
});

t.test('bad lifecycle attributes are refused when the scenario loads, with the element named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-lc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.xml'), xml('<set-nic guest="win" device="vif/0" ipv4="192.0.2.1"/><install-drivers guest="win" bundle="builtin:9.1.0" expect-exit="1603"/>'));
  let problems: string[] = [];
  try {
    loadScenarios([dir], dir);
  } catch (e) {
    problems = ((e as { problems?: { message: string }[] }).problems ?? []).map((p) => p.message);
  }
  t.ok(problems.some((m) => /192\.0\.2\.1 is not an address with its prefix length/.test(m)), `set-nic address refused: ${problems.join('; ')}`);
  t.ok(problems.some((m) => /expect-exit is for method="installer"/.test(m)), 'expect-exit without the installer refused');
});

t.test('a host without the lifecycle capabilities skips the scenario, naming what it lacks', async (t) => {
  const { r } = await run(t, xml('<uninstall-drivers guest="win"/>', ' platform-device="0002"'), { capabilities: new Set<Capability>(['windows-guest']) });
  t.equal(r.verdict, 'skip');
  t.match(r.skipReason ?? JSON.stringify(r), /driver-uninstall|platform-device/);
});
