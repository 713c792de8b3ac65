import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNtttcpXml, renderNtttcpXml, type NtttcpRun } from '../../src/workloads';
import { caught } from '../support/errors';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');


t.test('sender document: mbps, bytes (MB = 2^20), retransmits, errors, cpu', async (t) => {
  const r = parseNtttcpXml(fixture('ntttcp-sender.xml'), 'ntttcp.xml');
  t.same(r, { kind: 'net', bytes: 11055988736, seconds: 30.015, mbps: 2946.79, retransmits: 143, errors: 0, cpuPercent: 27.641 });
});

t.test('receiver document with errors', async (t) => {
  const r = parseNtttcpXml(fixture('ntttcp-receiver.xml'), 'ntttcp.xml');
  t.equal(r.errors, 2);
  t.equal(r.retransmits, 0);
  t.equal(r.seconds, 30.021);
});

t.test('a truncated document is a located input error', async (t) => {
  const e = caught(() => parseNtttcpXml(fixture('ntttcp-truncated.xml'), 'g/ntttcp.xml'));
  t.equal(e.kind, 'input');
  t.equal(e.code, 'WORKLOAD_XML_TRUNCATED');
  t.equal(e.location?.file, 'g/ntttcp.xml');
  t.equal(e.location?.line, 63, "the line where the text stops");
  t.match(e.message, /^g\/ntttcp\.xml:63:\d+ \/ntttcps\/packets_sent: truncated NTttcp document/, 'the message names the file and the open element');
});

t.test('broken and unexpected files: the message names the file and the element', async (t) => {
  const good = fixture('ntttcp-sender.xml');
  const cases: [string, string, string, RegExp][] = [
    ['mismatched end tag', good.replace('</packets_sent>', '</packets>'), 'WORKLOAD_XML_MALFORMED', /^n\.xml:\d+:\d+ \/ntttcps\/packets_sent: malformed NTttcp document: Unexpected close tag/],
    ['a cpu that is not a number', good.replace('<cpu metric="%">27.641<', '<cpu metric="%">high<'), 'WORKLOAD_XML_NUMBER', /^n\.xml:\d+:\d+ \/ntttcps\/cpu: <cpu> must hold a non-negative number, found 'high'/],
    ['total_bytes in another unit', good.replace('<total_bytes metric="MB">', '<total_bytes metric="GB">'), 'WORKLOAD_XML_MISSING', /^n\.xml:1:1 \/ntttcps: missing element <total_bytes metric="MB"> in <ntttcps>/],
    ['a diskspd document', '<Results>\n</Results>', 'NTTTCP_XML_ROOT', /^n\.xml:1:1 \/Results: not an NTttcp -xml document/],
  ];
  for (const [what, xml, code, message] of cases) {
    const e = caught(() => parseNtttcpXml(xml, 'n.xml'));
    t.equal(e.kind, 'input', what);
    t.equal(e.code, code, what);
    t.match(e.message, message, what);
    t.equal(e.location?.file, 'n.xml', what);
  }
});

t.test('missing metric, bad numbers, wrong root and an <error> element', async (t) => {
  const good = fixture('ntttcp-sender.xml');
  let e = caught(() => parseNtttcpXml(good.replace(/\t<throughput metric="mbps">2946.790<\/throughput>\n/, ''), 'x.xml'));
  t.equal(e.code, 'WORKLOAD_XML_MISSING');
  t.match(e.message, /throughput metric="mbps"/);
  t.equal(e.location?.path, '/ntttcps');

  e = caught(() => parseNtttcpXml(good.replace('<packets_retransmitted>143<', '<packets_retransmitted>-1<'), 'x.xml'));
  t.equal(e.code, 'WORKLOAD_XML_NUMBER');
  t.equal(e.location?.path, '/ntttcps/packets_retransmitted');
  t.equal(e.location?.line, 65);

  e = caught(() => parseNtttcpXml('<Results/>', 'x.xml'));
  t.equal(e.code, 'NTTTCP_XML_ROOT');

  e = caught(() => parseNtttcpXml('<ntttcpr computername="a" version="5.39">\n\t<error>connect failed: 10060</error>\n</ntttcpr>\n', 'x.xml'));
  t.equal(e.code, 'NTTTCP_REPORTED_ERROR');
  t.equal(e.location?.line, 2);
});

t.test('round trip through the writer', async (t) => {
  const run: NtttcpRun = {
    role: 'receiver',
    computerName: 'SIM-GUEST2',
    params: { port: 5001, runTimeMs: 10000, warmupMs: 0, cooldownMs: 0, udp: false, verifyData: false, bufferLen: 65536, async: false },
    threads: [
      { bytes: 600_000_000, realtimeSeconds: 10 },
      { bytes: 650_000_123, realtimeSeconds: 10 },
    ],
    realtimeSeconds: 10,
    packetsSent: 400000,
    packetsReceived: 860000,
    packetsRetransmitted: 7,
    errors: 1,
    cpuPercent: 12.5,
  };
  const xml = renderNtttcpXml(run);
  t.match(xml, /^<ntttcpr computername="SIM-GUEST2" version="5.39">/);
  t.match(xml, /<thread index="1">/);
  const r = parseNtttcpXml(xml, 'sim.xml');
  t.equal(r.bytes, 1_250_000_123, 'bytes survive the MB rendering exactly');
  t.equal(r.seconds, 10);
  t.equal(r.mbps, Number(((1_250_000_123 * 8) / 1e6 / 10).toFixed(3)));
  t.equal(r.retransmits, 7);
  t.equal(r.errors, 1);
  t.equal(r.cpuPercent, 12.5);
  t.equal(renderNtttcpXml({ ...run, role: 'sender' }).split('\n')[0], '<ntttcps computername="SIM-GUEST2" version="5.39">');
});
