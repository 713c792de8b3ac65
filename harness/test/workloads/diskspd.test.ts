import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDiskspdXml, percentile, renderDiskspdXml, type DiskspdRun } from '../../src/workloads';
import { caught } from '../support/errors';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');


t.test('a realistic -Rxml -L document: IOPS and MB/s from IOCount, BytesCount and TestTimeSeconds', async (t) => {
  const r = parseDiskspdXml(fixture('diskspd-4k-random-70r30w.xml'), 'diskspd.xml');
  t.equal(r.kind, 'block');
  t.equal(r.seconds, 10);
  t.equal(r.ios, 197904 + 194510);
  t.equal(r.bytes, 810614784 + 796712960);
  t.equal(r.readBytes, 567328768 + 557789184);
  t.equal(r.writeBytes, 243286016 + 238923776);
  t.equal(r.iops, 39241.4);
  t.equal(r.mbps, 160.7327744);
  t.equal(r.errors, 0);
  t.equal(r.verifyErrors, 0);
  t.equal(r.cpuPercent, 39.61);
  t.same(r.latencyMs, { '0': 0.181, '25': 0.902, '50': 1.391, '75': 2.047, '90': 2.93, '95': 3.611, '99': 5.528, '99.9': 10.94, '99.99': 19.114, '100': 44.102 });
  t.notOk('51' in r.latencyMs, 'percentiles outside the reported set stay in the raw document');
});

t.test('a truncated document is a located input error', async (t) => {
  const e = caught(() => parseDiskspdXml(fixture('diskspd-truncated.xml'), 'guest1/diskspd.xml'));
  t.equal(e.kind, 'input');
  t.equal(e.code, 'WORKLOAD_XML_TRUNCATED');
  t.equal(e.location?.file, 'guest1/diskspd.xml');
  t.ok((e.location?.line ?? 0) > 200, `line ${e.location?.line} points at the end of the text`);
  t.match(e.message, /^guest1\/diskspd\.xml:\d+:\d+ \/Results\/TimeSpan\/Thread\[2\].*: truncated diskspd document/, 'the message names the file and the open element');
});

t.test('broken and unexpected files: the message names the file and the element', async (t) => {
  const good = fixture('diskspd-4k-random-70r30w.xml');
  const cases: [string, string, string, RegExp][] = [
    ['mismatched end tag', good.replace('</ReadBytes>', '</ReadByte>'), 'WORKLOAD_XML_MALFORMED', /^g\/d\.xml:\d+:\d+ \/Results\/TimeSpan\/Thread\/Target\/ReadBytes: malformed diskspd document: Unexpected close tag/],
    ['an unescaped ampersand', good.replace('<ComputerName>WIN2022-PV01<', '<ComputerName>A&B<'), 'WORKLOAD_XML_MALFORMED', /^g\/d\.xml:3:\d+ \/Results\/System\/ComputerName: malformed diskspd document/],
    ['a duplicate attribute', good.replace('<Group Group="0"', '<Group Group="0" Group="1"'), 'WORKLOAD_XML_MALFORMED', /\/Results\/System\/ProcessorTopology\/Group: malformed diskspd document: duplicate attribute 'Group'/],
    ['a counter that is not a number', good.replace('<ReadCount>138508<', '<ReadCount>many<'), 'WORKLOAD_XML_NUMBER', /^g\/d\.xml:\d+:\d+ \/Results\/TimeSpan\/Thread\[1\]\/Target\/ReadCount: <ReadCount> must hold a non-negative number, found 'many'/],
    ['a Target without its counters', good.replace(/<BytesCount>810614784<\/BytesCount>/, ''), 'WORKLOAD_XML_MISSING', /^g\/d\.xml:\d+:\d+ \/Results\/TimeSpan\/Thread\[1\]\/Target: missing element <BytesCount> in <Target>/],
    ['a NTttcp document', '<ntttcps computername="a"/>', 'DISKSPD_XML_ROOT', /^g\/d\.xml:1:1 \/ntttcps: not a diskspd -Rxml document/],
  ];
  for (const [what, xml, code, message] of cases) {
    const e = caught(() => parseDiskspdXml(xml, 'g/d.xml'));
    t.equal(e.kind, 'input', what);
    t.equal(e.code, code, what);
    t.match(e.message, message, what);
    t.equal(e.location?.file, 'g/d.xml', what);
  }
});

t.test('a document carrying <Error> is an input error located at the element', async (t) => {
  const e = caught(() => parseDiskspdXml(fixture('diskspd-error.xml'), 'd.xml'));
  t.equal(e.code, 'DISKSPD_REPORTED_ERROR');
  t.equal(e.location?.path, '/Results/TimeSpan/Error');
  t.equal(e.location?.line, 73);
  t.match(e.message, /interrupted before the measurements began/);
});

t.test('missing, non-numeric and inconsistent counters are located by element path', async (t) => {
  const good = fixture('diskspd-4k-random-70r30w.xml');
  const noIo = good.replace('<IOCount>194510</IOCount>', '');
  let e = caught(() => parseDiskspdXml(noIo, 'x.xml'));
  t.equal(e.code, 'WORKLOAD_XML_MISSING');
  t.equal(e.location?.path, '/Results/TimeSpan/Thread[2]/Target');
  t.match(e.message, /missing element <IOCount>/);

  e = caught(() => parseDiskspdXml(good.replace('<TestTimeSeconds>10.00<', '<TestTimeSeconds>ten<'), 'x.xml'));
  t.equal(e.code, 'WORKLOAD_XML_NUMBER');
  t.equal(e.location?.path, '/Results/TimeSpan/TestTimeSeconds');
  t.equal(e.location?.line, 73);

  e = caught(() => parseDiskspdXml(good.replace('<BytesCount>810614784<', '<BytesCount>810614785<'), 'x.xml'));
  t.equal(e.code, 'DISKSPD_INCONSISTENT');
  t.equal(e.location?.path, '/Results/TimeSpan/Thread[1]/Target');

  e = caught(() => parseDiskspdXml(good.replace('<TestTimeSeconds>10.00<', '<TestTimeSeconds>0.00<'), 'x.xml'));
  t.equal(e.code, 'DISKSPD_NO_TIME');

  e = caught(() => parseDiskspdXml('<ntttcps/>', 'x.xml'));
  t.equal(e.code, 'DISKSPD_XML_ROOT');

  e = caught(() => parseDiskspdXml('', 'x.xml'));
  t.equal(e.code, 'WORKLOAD_XML_EMPTY');

  e = caught(() => parseDiskspdXml('<Results><TimeSpan></Thread></TimeSpan></Results>', 'x.xml'));
  t.equal(e.code, 'WORKLOAD_XML_MALFORMED');
  t.equal(e.location?.line, 1);
});

function sampleRun(): DiskspdRun {
  // Deterministic latencies: a spread with a tail, like a real disk.
  const lat = (n: number, base: number) => Array.from({ length: n }, (_, i) => base + ((i * 37) % 101) / 50 + (i % 997 === 0 ? 20 : 0));
  return {
    computerName: 'SIM-GUEST<1>&',
    profile: { durationSeconds: 10, warmupSeconds: 0, blockSize: 65536, queueDepth: 8, threadsPerTarget: 2, writePercent: 25, random: false, measureLatency: true, disableOsCache: true },
    testTimeSeconds: 10.25,
    cpus: [{ userPercent: 2.5, kernelPercent: 20, idlePercent: 77.5 }, { userPercent: 1.5, kernelPercent: 10, idlePercent: 88.5 }],
    threads: [
      { targets: [{ path: '#1', fileSize: 10737418240, readBytes: 3000 * 65536, readCount: 3000, writeBytes: 1000 * 65536, writeCount: 1000, readLatencyMs: lat(3000, 0.4), writeLatencyMs: lat(1000, 0.9) }] },
      { targets: [{ path: '#1', fileSize: 10737418240, readBytes: 2900 * 65536, readCount: 2900, writeBytes: 1100 * 65536, writeCount: 1100, readLatencyMs: lat(2900, 0.4), writeLatencyMs: lat(1100, 0.9) }] },
    ],
  };
}

t.test('round trip: renderDiskspdXml then parseDiskspdXml gives the run’s own figures', async (t) => {
  const run = sampleRun();
  const xml = renderDiskspdXml(run);
  t.match(xml, /<ComputerName>SIM-GUEST&lt;1&gt;&amp;<\/ComputerName>/, 'text is escaped');
  t.match(xml, /<StrideSize>65536<\/StrideSize>/, 'sequential profile');
  t.match(xml, /<Percentile>99.9999999<\/Percentile>/, 'the full diskspd percentile table is written');
  const r = parseDiskspdXml(xml, 'sim.xml');
  const ios = 3000 + 1000 + 2900 + 1100;
  t.equal(r.ios, ios);
  t.equal(r.bytes, ios * 65536);
  t.equal(r.readBytes, 5900 * 65536);
  t.equal(r.writeBytes, 2100 * 65536);
  t.equal(r.seconds, 10.25);
  t.equal(r.iops, ios / 10.25);
  t.equal(r.mbps, (ios * 65536) / 10.25 / 1e6);
  t.equal(r.cpuPercent, 17);
  const all = run.threads.flatMap((th) => th.targets.flatMap((x) => [...x.readLatencyMs!, ...x.writeLatencyMs!])).sort((a, b) => a - b);
  for (const p of ['0', '50', '99', '99.9', '100']) {
    t.equal(r.latencyMs[p], Number(percentile(all, Number(p)).toFixed(3)), `p${p}`);
  }
  t.ok(r.latencyMs['100']! > 20, 'the tail reaches the max bucket');
  t.equal(renderDiskspdXml(run), xml, 'the writer is deterministic');
});

t.test('round trip without -L and with an error', async (t) => {
  const run = sampleRun();
  run.profile.measureLatency = false;
  const r = parseDiskspdXml(renderDiskspdXml(run), 'sim.xml');
  t.same(r.latencyMs, {});
  const e = caught(() => parseDiskspdXml(renderDiskspdXml({ ...run, error: 'The test was interrupted before the measurements began. No results are displayed.' }), 'sim.xml'));
  t.equal(e.code, 'DISKSPD_REPORTED_ERROR');
});

t.test('percentile is nearest-rank', async (t) => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  t.equal(percentile(s, 0), 1);
  t.equal(percentile(s, 50), 5);
  t.equal(percentile(s, 99), 10);
  t.equal(percentile(s, 100), 10);
  t.equal(percentile([], 50), 0);
});
