import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildMain } from '../../src/cli/commands/build';
import type { CommandContext } from '../../src/cli/command';
import { openBuilder, parseBuilderUrl, LocalBuilder, lineSplitter } from '../../src/build/builder';
import { buildOrder, dependentsOf } from '../../src/build/order';
import { verifyPackageSet } from '../../src/build/verify';
import { openBundle } from '../../src/inf';
import { testSpecs } from '../fixtures/build/specs';
import { signingWorkspace, captureOutput, parseTap } from '../fixtures/build/workspace';
import { startStandinBuilder } from '../fixtures/build/standin-builder';

const ws = signingWorkspace(t, 'winpv-build-');
const { skip, work } = ws;
const specs = testSpecs();
const PASSWORD = 'builder-pw';

async function standin(failing: Record<string, number> = {}, hang?: string, more: { emptyPackage?: string[]; noInf?: string[] } = {}) {
  const sftpRoot = mkdtempSync(join(work, 'sftp-'));
  const scripts: string[] = [];
  const server = await startStandinBuilder({ specs, signer: ws.signer, sftpRoot, password: PASSWORD, failing, scripts, ...(hang ? { hang } : {}), ...more });
  return { server, scripts, sftpRoot };
}

async function build(server: { port: number; hostKeyFingerprint: string }, argv: string[], env: NodeJS.ProcessEnv = { WINPV_SSH_PASSWORD: PASSWORD }, io = captureOutput(), signal = new AbortController().signal) {
  const ctx: CommandContext = { argv: ['--builder', `ssh://builder@127.0.0.1:${server.port}`, '--host-key', server.hostKeyFingerprint, ...argv], env, cwd: work, out: io.out, err: io.err, verbose: false, signal };
  const code = await buildMain(ctx, { loadSpecs: async () => specs, openBuilder });
  return { code, text: io.text(), ...(await parseTap(io.text())) };
}

t.test('build order follows dependsOn; a failure blocks the transitive dependents', async (t) => {
  t.same(buildOrder(specs, ['xennet', 'xeniface', 'xenvif', 'xenbus']), ['xenbus', 'xenvif', 'xennet', 'xeniface']);
  t.same(buildOrder(specs, ['xennet']), ['xennet'], 'a dependency outside the selection is not built');
  t.same(dependentsOf(specs, 'xenbus', ['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface']), ['xenvif', 'xennet', 'xenvbd', 'xeniface']);
  t.same(dependentsOf(specs, 'xenvif', ['xenbus', 'xenvif', 'xennet', 'xenvbd']), ['xennet']);
  t.throws(() => buildOrder(specs, ['xenbus', 'xenfoo' as never]), { code: 'BUILD_DRIVERS' });
  const cyclic = testSpecs();
  cyclic.set('xenbus', { ...cyclic.get('xenbus')!, build: { ...cyclic.get('xenbus')!.build, dependsOn: ['xennet'] } });
  t.throws(() => buildOrder(cyclic, ['xenbus', 'xenvif', 'xennet']), { code: 'BUILD_CYCLE', message: /cycle: xenbus -> xennet -> xenvif -> xenbus/ });
});

t.test('builder URLs, local builds off Windows, line splitting', async (t) => {
  t.same(parseBuilderUrl('ssh://me@win-builder:2222'), { kind: 'ssh', user: 'me', host: 'win-builder', port: 2222 });
  t.same(parseBuilderUrl('local'), { kind: 'local' });
  t.throws(() => parseBuilderUrl('ssh://me:secret@host'), /passwords are not accepted/);
  t.throws(() => parseBuilderUrl('ssh://host'), /name the user/);
  t.throws(() => parseBuilderUrl('ftp://x@y'), { code: 'USAGE' });
  t.throws(() => new LocalBuilder('linux'), { code: 'LOCAL_BUILD_NEEDS_WINDOWS', message: /local builds need Windows/ });
  const lines: string[] = [];
  const s = lineSplitter((l) => lines.push(l));
  s.push('a\r\nb');
  s.push('c\nd');
  s.flush();
  t.same(lines, ['a', 'bc', 'd']);
});

t.test('five drivers built end to end over SSH, collected, manifest written, and the result verifies', { skip }, async (t) => {
  const { server, scripts } = await standin();
  t.teardown(() => server.close());
  const out = join(work, 'out-all');
  const r = await build(server, ['--drivers', 'xeniface,xennet,xenvbd,xenvif,xenbus', '--build-version', '9.2.0.17', '--vendor', 'XN', '--vendor-name', "O'Brien Xen", '--out', out]);
  t.equal(r.code, 0, r.text);
  t.ok(r.ok);
  t.equal(r.count, 6, 'five builds and the manifest');
  const order = [...r.text.matchAll(/^ok \d+ - build (\w+)/gm)].map((m) => m[1]);
  t.same(order, ['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface'], 'dependency order');
  t.match(r.text, /# \[2\/5\] xenvif: C:\\winpv\\src\\xenvif\\build\.ps1 -Type free -Arch x64 -SignMode TestSign/);
  t.match(r.text, /# xenvif \| msbuild xenvif\.vcxproj/, 'build output streamed as comments');
  t.match(r.text, /ok 1 - build xenbus \(free x64 TestSign\): 4 files, version 9\.2\.0\.17, commit 0123456789ab/);
  t.notMatch(r.text, /WINPV-FILE/, 'markers are not echoed');
  t.ok(server.commands.every((c) => /^powershell\.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand [A-Za-z0-9+/=]+$/.test(c)), 'only encoded PowerShell is sent');
  t.match(scripts[0], /\$env:VENDOR_NAME = 'O''Brien Xen'/, 'values are psQuoted');

  const manifest = JSON.parse(readFileSync(join(out, '9.2.0.17', 'manifest.json'), 'utf8'));
  t.match(manifest, { schema: 'winpv-bundle/1', version: '9.2.0.17', vendorPrefix: 'XN', arch: 'x64', buildType: 'free', signMode: 'TestSign' });
  t.same(manifest.drivers.map((d: { name: string }) => d.name), ['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface']);
  t.ok(existsSync(join(out, '9.2.0.17', 'xenbus', 'xenfilt.sys')), 'collected into build/<version>/<driver>/');

  const b = await openBundle(join(out, '9.2.0.17'));
  t.ok(b.manifest);
  const report = await verifyPackageSet(b.dir, { specs, caFile: ws.signer.cert });
  t.same(report.points.filter((p) => !p.ok && !p.skip), [], 'the built set passes package verify');
  t.equal(report.version, '9.2.0.17');
  t.same(report.points.find((p) => p.check === 'manifest')?.ok, true);
});

t.test('a failing driver is not ok; its dependents are skipped; the rest still build', { skip }, async (t) => {
  const { server } = await standin({ xenvif: 1 });
  t.teardown(() => server.close());
  const out = join(work, 'out-fail');
  const r = await build(server, ['--build-version', '9.2.0.18', '--out', out]);
  t.equal(r.code, 1);
  t.match(r.text, /not ok 2 - build xenvif: build\.ps1 exited with 1\n  ---\n  exitCode: 1\n/);
  t.match(r.text, /error C2065/, 'the compiler error is in the output tail');
  t.match(r.text, /ok 3 - build xennet # SKIP dependency xenvif failed/);
  t.match(r.text, /ok 4 - build xenvbd \(/);
  t.match(r.text, /ok 5 - build xeniface \(/);
  t.equal(r.fail, 1);
  t.equal(r.skip, 1);
  const manifest = JSON.parse(readFileSync(join(out, '9.2.0.18', 'manifest.json'), 'utf8'));
  t.same(manifest.drivers.map((d: { name: string }) => d.name), ['xenbus', 'xenvbd', 'xeniface']);
});

t.test('a failing bus driver stops everything; nothing is collected', { skip }, async (t) => {
  const { server } = await standin({ xenbus: 2 });
  t.teardown(() => server.close());
  const out = join(work, 'out-bus');
  const r = await build(server, ['--out', out, '--type', 'checked']);
  t.equal(r.code, 1);
  t.match(r.text, /not ok 1 - build xenbus: build\.ps1 exited with 2/);
  for (const d of ['xenvif', 'xennet', 'xenvbd', 'xeniface']) t.match(r.text, new RegExp(`ok \\d - build ${d} # SKIP dependency xenbus failed`));
  t.notOk(existsSync(out) && readdirSync(out).length > 0, 'no package directory left behind');
});

t.test('a setting the spec does not support fails that driver before it runs', { skip }, async (t) => {
  const { server, scripts } = await standin();
  t.teardown(() => server.close());
  const r = await build(server, ['--drivers', 'xenbus,xenvif', '--sign-mode', 'ProductionSign', '--out', join(work, 'out-mode')]);
  t.equal(r.code, 1);
  t.match(r.text, /ok 1 - build xenbus/);
  t.match(r.text, /not ok 2 - build xenvif: not supported by its spec\n  ---\n  problem: "xenvif supports sign modes TestSign, not ProductionSign"/);
  t.equal(scripts.length, 1, 'xenvif was never sent to the builder');
});

t.test('builder problems: wrong host key and wrong password are host errors (exit 3)', { skip }, async (t) => {
  const { server } = await standin();
  t.teardown(() => server.close());
  await t.rejects(build({ port: server.port, hostKeyFingerprint: 'SHA256:' + 'A'.repeat(43) }, ['--out', join(work, 'x')]), { code: 'SSH_HOSTKEY', exitCode: 3 });
  await t.rejects(build(server, ['--out', join(work, 'x')], { WINPV_SSH_PASSWORD: 'wrong' }), { code: 'SSH_AUTH', exitCode: 3 });
  await t.rejects(build(server, ['--type', 'release']), { code: 'USAGE' });
  await t.rejects(build(server, ['--build-version', '9.1.0']), { code: 'USAGE' });
});

t.test('an interrupted build bails out, ends the remote build and leaves no partial set', { skip }, async (t) => {
  const { server } = await standin({}, 'xenvif');
  t.teardown(() => server.close());
  const out = join(work, 'out-int');
  const io = captureOutput();
  const abort = new AbortController();
  io.out.on('data', (b: Buffer) => {
    if (b.toString().includes('xenvif | Building xenvif: linking')) abort.abort();
  });
  await t.rejects(build(server, ['--out', out], undefined, io, abort.signal), { code: 'SSH_DROPPED', exitCode: 3 });
  t.match(io.text(), /ok 1 - build xenbus[\s\S]*Bail out! xenvif: SSH connection/);
  t.same(existsSync(out) ? readdirSync(out) : [], [], 'nothing collected');
});

t.test('a build that leaves no package, or a package without its INF, fails that driver', { skip }, async (t) => {
  const { server } = await standin({}, undefined, { emptyPackage: ['xenvbd'], noInf: ['xeniface'] });
  t.teardown(() => server.close());
  const r = await build(server, ['--drivers', 'xenbus,xenvbd,xeniface', '--out', join(work, 'out-empty')]);
  t.equal(r.code, 1);
  t.match(r.text, /not ok 2 - build xenvbd: build\.ps1 succeeded but left no package/);
  t.match(r.text, /not ok 3 - build xeniface: collecting the package failed\n  ---\n  problem: "?the package has no xeniface\.inf/);
});

t.test('a build that runs past --timeout is not ok, and the next driver still runs', { skip }, async (t) => {
  const { server } = await standin({}, 'xenvbd');
  t.teardown(() => server.close());
  const r = await build(server, ['--drivers', 'xenvbd,xeniface', '--timeout', '1', '--out', join(work, 'out-timeout')]);
  t.equal(r.code, 1);
  t.match(r.text, /not ok 1 - build xenvbd: timed out/);
  t.match(r.text, /ok 2 - build xeniface \(/);
});
