// report.html: one self-contained page (inline CSS and SVG, no scripts or external resources):
// the summary, then per instance its checks and plots drawn from the trace: ring occupancy over
// time per ring, workload throughput, and the XenbusState timeline of each device end.
import type { InstanceResult, RunSummary } from '../model/result';
import type { ArtifactEvent, TraceEvent } from '../model/trace';
import { barChart, stepChart, type Series } from './svg';
import type { RunMeta } from './files';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const STATE_NAMES: Record<number, string> = { 1: 'Initialising', 2: 'InitWait', 3: 'Initialised', 4: 'Connected', 5: 'Closing', 6: 'Closed' };

function plots(events: TraceEvent[]): string {
  const rings = new Map<string, Series>();
  const states = new Map<string, Series>();
  const bars: { label: string; value: number }[] = [];
  let netBars = false;
  for (const e of events) {
    if (e.ev === 'ring') {
      const k = `${e.guest} ${e.dev} q${e.queue} ${e.ring}`;
      let s = rings.get(k);
      if (!s) rings.set(k, (s = { label: k, points: [] }));
      s.points.push([e.t, (e.req_prod - e.rsp_prod) >>> 0]);
    } else if (e.ev === 'xs' && /\/state$/.test(e.path) && /\/(device|backend)\//.test(e.path)) {
      const k = e.path.replace(/^\/local\/domain\//, 'dom').replace(/\/state$/, '');
      let s = states.get(k);
      if (!s) states.set(k, (s = { label: k, points: [] }));
      s.points.push([e.t, e.value === null ? 0 : Number(e.value) || 0]);
    } else if (e.ev === 'workload') {
      const r = e.result;
      if (r.kind === 'net') netBars = true;
      bars.push({ label: `${e.step} ${e.guest} ${e.dev} ${r.kind}`, value: r.mbps });
    }
  }
  const out: string[] = [];
  if (rings.size) out.push(stepChart('Ring occupancy (requests outstanding, req_prod - rsp_prod)', [...rings.values()], { yLabel: 'requests' }));
  if (bars.length) out.push(barChart(`Workload throughput${netBars ? ' (block MB/s, network Mbit/s)' : ' (MB/s)'}`, bars, ''));
  if (states.size) out.push(stepChart('XenbusState of each device end', [...states.values()], { yLabel: 'state', yTicks: STATE_NAMES }));
  return out.join('\n');
}

function instanceSection(r: InstanceResult, events: TraceEvent[]): string {
  const rows = r.checks
    .map((c) => `<tr class="${c.verdict}"><td>${esc(c.check)}</td><td>${c.verdict}</td><td>${esc(c.message)}${c.diagnostics ? `<pre>${esc(JSON.stringify(c.diagnostics, null, 1))}</pre>` : ''}</td></tr>`)
    .join('');
  const files = events.filter((e): e is ArtifactEvent => e.ev === 'artifact');
  const artifacts = files.length
    ? `<p>artifacts:</p><ul>${files
        .map((a) => `<li>${esc(a.guest)} ${esc(a.kind)}: ${a.path ? `<a href="${esc(a.path)}">${esc(a.path)}</a> (${a.bytes ?? '?'} bytes, sha256 ${esc(a.sha256 ?? '?')}${a.source ? `, from ${esc(a.source)}` : ''})` : `none (${esc(a.missing ?? 'not collected')})`}</li>`)
        .join('')}</ul>`
    : '';
  const aborted = r.aborted ? `<p class="fail">aborted: ${esc(r.aborted.code)}: ${esc(r.aborted.message)}</p>` : '';
  const body = r.verdict === 'skip' ? `<p>skipped: ${esc(r.skipReason ?? '')}</p>` : `${aborted}<table><tr><th>check</th><th>verdict</th><th>detail</th></tr>${rows}</table>${artifacts}${plots(events)}`;
  return `<details${r.verdict === 'fail' ? ' open' : ''}><summary class="${r.verdict}">${esc(r.inst)} &mdash; ${r.verdict} (${(r.durationMs / 1000).toFixed(1)} s)</summary>${body}</details>`;
}

export function renderHtml(s: RunSummary, events: readonly TraceEvent[], meta: RunMeta): string {
  const byInst = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const inst = (e as { inst?: string }).inst;
    if (inst === undefined) continue;
    let l = byInst.get(inst);
    if (!l) byInst.set(inst, (l = []));
    l.push(e);
  }
  const c = s.counts;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>winpv ${esc(meta.runId)}</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
.pass{color:#1a7f37}.fail{color:#b91c1c;font-weight:bold}.skip{color:#888}tr.fail td{background:#fee}pre{margin:0;font-size:11px;white-space:pre-wrap}
summary{cursor:pointer;margin:.3em 0}figure{margin:.6em 0}figcaption{font-size:12px;font-weight:bold}.legend{font-size:10px}
</style></head><body>
<h1>winpv run ${esc(meta.runId)}</h1>
<p>host ${esc(s.host.label)} &middot; seed ${s.seed} &middot; started ${esc(meta.startedAt)}${meta.finishedAt ? ` &middot; finished ${esc(meta.finishedAt)}` : ''}</p>
<p><span class="pass">${c.passed} passed</span>, <span class="fail">${c.failed} failed</span>, <span class="skip">${c.skipped} skipped</span> &middot; ${c.checks} checks, ${c.checksFailed} failed${s.bailOut ? ` &middot; <span class="fail">stopped early: ${esc(s.bailOut)}</span>` : ''}</p>
${s.instances.map((r) => instanceSection(r, byInst.get(r.inst) ?? [])).join('\n')}
</body></html>
`;
}
