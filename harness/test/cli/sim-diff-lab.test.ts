// winpv sim diff-lab: the simulator's blkback/netback beside a recording of real backends. A recording
// equal to the simulator has no difference (exit 0); a key the real backend writes that the simulator
// does not is printed as NEW and exits 1; a file that is not a recording is bad input (exit 2).
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWinpv } from '../support/cli-io';
import { simBackendSteps } from '../../src/hosts/sim/lab-diff';
import { specs } from '../hosts/sim-fixture';

t.test('diff-lab: no difference from itself, a NEW one when the real backend writes a key the simulator does not, bad input refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-diff-lab-'));
  const sim = await simBackendSteps(specs);
  const rec = (devices: typeof sim) => ({ captured: { xen: '4.17.7', kernel: '6.1.0-test' }, devices: { vbd: { steps: devices.vbd }, vif: { steps: devices.vif } } });
  writeFileSync(join(dir, 'same.json'), JSON.stringify(rec(sim)));
  const same = await runWinpv(['sim', 'diff-lab', join(dir, 'same.json')]);
  t.equal(same.code, 0, same.out + same.err);
  t.match(same.out, /vbd: backend states real .* \/ sim /);
  t.match(same.out, /tapdisk3 \(vbd3\) as blktap's tapback writes it vs the simulator: no difference/);
  t.match(same.out, /0 difference\(s\) without a reason/);

  const richer = structuredClone(sim);
  for (const s of richer.vbd) if (s.end === 'backend' && s.state === '4') s.backend['feature-new'] = '1';
  writeFileSync(join(dir, 'richer.json'), JSON.stringify(rec(richer)));
  const r = await runWinpv(['sim', 'diff-lab', join(dir, 'richer.json')]);
  t.equal(r.code, 1, 'a difference without a reason fails');
  t.match(r.out, /NEW +vbd backend at backend 4: feature-new missing in the simulator \(real 1\)/);

  writeFileSync(join(dir, 'bad.json'), '{"devices":{}}');
  const bad = await runWinpv(['sim', 'diff-lab', join(dir, 'bad.json')]);
  t.equal(bad.code, 2, 'not a recording: bad input');
  t.match(bad.err, /bad\.json: no devices\.vbd\.steps/);
});
