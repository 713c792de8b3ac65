// The stylesheet of report.html. Status is always shown by a word and a glyph as well as a colour;
// a count of zero is neutral grey; print drops the controls and keeps charts whole on a page.
export const REPORT_CSS = `
:root{--fail:#b91c1c;--fail-bg:#fef2f2;--pass:#15803d;--pass-bg:#f0fdf4;--flaky:#a16207;--flaky-bg:#fefce8;--known:#7e22ce;--known-bg:#faf5ff;--skip:#57606a;--skip-bg:#f6f8fa;--line:#d0d7de;--dim:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0 auto;padding:0 1.2em 3em;max-width:1240px;color:#1f2328;background:#fff}
a{color:#0b57d0}a:focus-visible,summary:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
h1{font-size:20px;margin:0}h2{font-size:17px;margin:1.2em 0 .4em}h4{margin:1em 0 .3em;font-size:14px}
.dim{color:var(--dim);font-weight:normal}
.skip{position:absolute;left:-999px}.skip:focus{left:1em;top:.5em;background:#fff;padding:.3em .6em;z-index:5}
.glance{display:grid;grid-template-columns:auto 1fr;gap:.6em 1.2em;align-items:center;padding:1em 0 .8em;border-bottom:1px solid var(--line)}
.verdict{font-size:22px;font-weight:700;padding:.35em .8em;border-radius:6px;border:2px solid;letter-spacing:.04em}
.verdict .aside{display:block;font-size:13px;font-weight:600;letter-spacing:0}
.verdict.passed{color:var(--pass);background:var(--pass-bg)}.verdict.failed{color:var(--fail);background:var(--fail-bg)}.verdict.incomplete{color:var(--flaky);background:var(--flaky-bg)}
.title .links{margin:.2em 0 0}.title .links a{font-weight:600}
.counts{grid-column:1/-1;display:flex;flex-wrap:wrap;gap:.5em;list-style:none;margin:0;padding:0}
.count{border:1px solid var(--line);border-left-width:5px;border-radius:5px;padding:.25em .7em;font-weight:600}
.count .n{font-size:18px}
.count.failed{border-left-color:var(--fail);color:var(--fail)}.count.flaky{border-left-color:var(--flaky);color:var(--flaky)}.count.known{border-left-color:var(--known);color:var(--known)}.count.passed{border-left-color:var(--pass);color:var(--pass)}.count.skipped{border-left-color:var(--skip);color:var(--skip)}
.count.zero{color:var(--dim);border-left-color:var(--line);font-weight:normal}.count.total{color:#1f2328;font-weight:normal}
.facts{grid-column:1/-1;display:flex;flex-wrap:wrap;gap:.3em 1.6em;margin:0}
.facts div{display:flex;gap:.4em}.facts dt{color:var(--dim)}.facts dd{margin:0}
.note{border:1px solid var(--line);border-left-width:5px;padding:.4em .7em;margin:.5em 0;border-radius:4px;grid-column:1/-1}
.note ul{margin:.2em 0 0;padding-left:1.2em}
.note.missing{border-left-color:var(--flaky);background:var(--flaky-bg)}.note.fail{border-left-color:var(--fail);background:var(--fail-bg)}.note.known{border-left-color:var(--known);background:var(--known-bg)}.note.flaky{border-left-color:var(--flaky);background:var(--flaky-bg)}
.filters{display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:center;padding:.5em .7em;background:#f6f8fa;border:1px solid var(--line);border-radius:6px;position:sticky;top:0;z-index:3}
.filters fieldset{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.2em .9em;align-items:center}.filters legend{float:left;margin-right:.5em;color:var(--dim)}
.filters label.st{white-space:nowrap;cursor:pointer}
.filters .sel{display:flex;gap:.4em;align-items:center;flex-wrap:wrap}
.filters select,.filters input[type=search]{font:inherit;padding:.15em .3em;max-width:16em}
.keys{font-size:12px;margin:.4em 0}kbd{border:1px solid var(--line);border-bottom-width:2px;border-radius:3px;padding:0 .3em;font-size:11px}
.list{margin-top:.4em}
details.inst{border:1px solid var(--line);border-left-width:5px;border-radius:5px;margin:.3em 0;background:#fff}
details.inst.failed{border-left-color:var(--fail)}details.inst.flaky{border-left-color:var(--flaky)}details.inst.known{border-left-color:var(--known)}details.inst.passed{border-left-color:var(--pass)}details.inst.skipped{border-left-color:var(--skip)}
details.inst>summary{display:flex;gap:.7em;align-items:baseline;padding:.35em .6em;cursor:pointer;list-style-position:inside}
.inst-id{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;white-space:nowrap}
.inst-line{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:#3d444d}
.inst-meta{white-space:nowrap;color:var(--dim);font-size:12px}
.tag{border:1px solid var(--line);border-radius:9px;padding:0 .45em;margin-right:.3em;font-size:11px}
.badge{display:inline-block;white-space:nowrap;min-width:5.2em;font-size:11px;font-weight:700;padding:.05em .45em;border-radius:3px;border:1px solid;text-align:center;letter-spacing:.03em}
.badge.failed{color:var(--fail);background:var(--fail-bg)}.badge.flaky{color:var(--flaky);background:var(--flaky-bg)}.badge.known{color:var(--known);background:var(--known-bg)}.badge.passed{color:var(--pass);background:var(--pass-bg)}.badge.skipped{color:var(--skip);background:var(--skip-bg)}
.inst-body{padding:.2em .9em .9em;border-top:1px solid var(--line)}
.where{color:var(--dim);margin:.4em 0}
table{border-collapse:collapse;margin:.5em 0;width:100%}caption{text-align:left;font-weight:600;padding:.2em 0}
td,th{border:1px solid var(--line);padding:.2em .5em;text-align:left;vertical-align:top}th{background:#f6f8fa}
tr.failed td{background:var(--fail-bg)}tr.focus td{background:#fde68a;font-weight:600}
pre{margin:.2em 0 0;font-size:11.5px;white-space:pre-wrap;word-break:break-word}
table.checks td:first-child{white-space:nowrap}table.around td:nth-child(-n+3){white-space:nowrap}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,540px),1fr));gap:.6em}
figure.plot{margin:0;border:1px solid var(--line);border-radius:5px;padding:.4em .5em;min-width:0;overflow:hidden}
figure.plot.wide{grid-column:1/-1}
figure.plot figcaption{font-weight:600;font-size:13px;margin-bottom:.2em}
.uplot{font-family:inherit}.u-legend{font-size:12px}.u-legend .u-marker{border-radius:2px}
.u-over .tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #8c959f;border-radius:4px;padding:.25em .5em;font-size:12px;white-space:pre;z-index:4;box-shadow:0 2px 6px rgba(0,0,0,.12)}
.mk{white-space:nowrap}
button.zoom{font:inherit;font-size:12px;margin-left:.4em;padding:0 .5em}
button.more{display:block;margin:.6em auto;font:inherit;padding:.3em 1em}
.empty{color:var(--dim)}
@media print{
 body{max-width:none;padding:0;font-size:11px}
 .filters,.keys,.skip,button.more,button.zoom,.u-over .tip,.u-select{display:none!important}
 details.inst{break-inside:avoid-page}
 figure.plot,table{break-inside:avoid}
 .verdict,.badge,.count,.note,details.inst{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:inherit}.links a::after{content:" (" attr(href) ")";font-weight:normal}
 .uplot,.u-wrap{width:100%!important}.u-wrap{height:auto!important}.u-wrap canvas{width:100%!important;height:auto!important}.u-over,.u-under{display:none}
}
`;
