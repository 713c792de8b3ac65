// diskspd `-Rxml` result documents (with `-L` for latency): the writer used by the simulated Windows
// guest and the parser used for every guest, so simulated and real runs are judged from the same bytes.
//
// Layout (diskspd's XmlResultParser): <Results> <System/> <Profile/> <TimeSpan>: TestTimeSeconds,
// ThreadCount, RequestCount, ProcCount, CpuUtilization (CPU*, Average), Latency (averages, Bucket*
// with Percentile and Read/Write/TotalMilliseconds), Thread* (Id, Target*: Path, BytesCount, FileSize,
// IOCount, ReadBytes, ReadCount, WriteBytes, WriteCount, per-target latency averages) </TimeSpan>.
// A TimeSpan whose measurement never began carries <Error> instead of results.
// There is no IOPS element: IOPS = sum(IOCount) / TestTimeSeconds; MB/s is 10^6 bytes per second.
import type { BlockResult } from '../model/trace';
import { parseXmlDocument, xmlEscape, type XNode } from './xml-doc';

export interface DiskspdTarget {
  /** As diskspd prints it: a file path or `#<n>` for a physical drive. */
  path: string;
  fileSize: number;
  readBytes: number;
  readCount: number;
  writeBytes: number;
  writeCount: number;
  /** Completion latency of each I/O in ms (only with -L). */
  readLatencyMs?: readonly number[];
  writeLatencyMs?: readonly number[];
}

export interface DiskspdThread {
  targets: DiskspdTarget[];
}

export interface DiskspdCpu {
  userPercent: number;
  /** Kernel time excluding idle, as diskspd prints KernelPercent. */
  kernelPercent: number;
  idlePercent: number;
}

/** Everything the writer needs to produce one diskspd -Rxml document. */
export interface DiskspdRun {
  computerName: string;
  /** diskspd version string, e.g. `2.1.0.0`. */
  toolVersion?: string;
  /** The command-line parameters (Profile section). */
  profile: {
    durationSeconds: number;
    warmupSeconds: number;
    blockSize: number;
    /** Outstanding I/Os per thread per target (-o). */
    queueDepth: number;
    /** Threads per target (-t). */
    threadsPerTarget: number;
    writePercent: number;
    random: boolean;
    measureLatency: boolean;
    disableOsCache: boolean;
  };
  /** Measured time; diskspd prints it with two decimals. */
  testTimeSeconds: number;
  cpus: DiskspdCpu[];
  threads: DiskspdThread[];
  /** When set the document carries <Error> instead of results (the run was interrupted before measuring). */
  error?: string;
}

/** diskspd prints these percentiles: 0 (min), 1..99, then 99.9 .. 99.9999999, then 100 (max). */
const PERCENTILES: readonly string[] = [
  '0',
  ...Array.from({ length: 99 }, (_, i) => String(i + 1)),
  '99.9', '99.99', '99.999', '99.9999', '99.99999', '99.999999', '99.9999999',
  '100',
];

/** Percentiles kept in BlockResult.latencyMs (the full table stays in the raw document). */
export const REPORTED_PERCENTILES: readonly string[] = ['0', '25', '50', '75', '90', '95', '99', '99.9', '99.99', '100'];

const f2 = (n: number) => n.toFixed(2);
const f3 = (n: number) => n.toFixed(3);

/** Nearest-rank percentile over sorted samples (p in 0..100; 0 is the minimum, 100 the maximum). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function stats(samples: readonly number[]): { avg: number; stdev: number } {
  const n = samples.length;
  const avg = samples.reduce((a, b) => a + b, 0) / n;
  const variance = samples.reduce((a, b) => a + (b - avg) * (b - avg), 0) / n;
  return { avg, stdev: Math.sqrt(variance) };
}

class Out {
  private lines: string[] = [];
  private indent = 0;
  line(s: string) {
    this.lines.push(' '.repeat(this.indent) + s);
  }
  open(tag: string, attrs = '') {
    this.line(`<${tag}${attrs}>`);
    this.indent += 2;
  }
  close(tag: string) {
    this.indent -= 2;
    this.line(`</${tag}>`);
  }
  el(tag: string, value: string | number, attrs = '') {
    this.line(`<${tag}${attrs}>${typeof value === 'number' ? value : xmlEscape(value)}</${tag}>`);
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

export function renderDiskspdXml(run: DiskspdRun): string {
  const o = new Out();
  const p = run.profile;
  o.open('Results');
  o.open('System');
  o.el('ComputerName', run.computerName);
  o.open('Tool');
  o.el('Version', run.toolVersion ?? '2.1.0.0');
  o.close('Tool');
  o.open('ProcessorTopology');
  o.line(`<Group Group="0" MaximumProcessors="${run.cpus.length}" ActiveProcessors="${run.cpus.length}" ActiveProcessorMask="0x${((2 ** run.cpus.length) - 1).toString(16)}"/>`);
  o.close('ProcessorTopology');
  o.close('System');

  o.open('Profile');
  o.el('Progress', 0);
  o.el('ResultFormat', 'xml');
  o.el('Verbose', 'false');
  o.open('TimeSpans');
  o.open('TimeSpan');
  o.el('CompletionRoutines', 'false');
  o.el('MeasureLatency', String(p.measureLatency));
  o.el('CalculateIopsStdDev', 'false');
  o.el('DisableAffinity', 'false');
  o.el('Duration', p.durationSeconds);
  o.el('Warmup', p.warmupSeconds);
  o.el('Cooldown', 0);
  o.el('ThreadCount', 0);
  o.el('RequestCount', 0);
  o.el('IoBucketDuration', 1000);
  o.el('RandSeed', 0);
  o.open('Targets');
  const paths = [...new Set(run.threads.flatMap((t) => t.targets.map((x) => x.path)))];
  for (const path of paths) {
    o.open('Target');
    o.el('Path', path);
    o.el('BlockSize', p.blockSize);
    o.el('BaseFileOffset', 0);
    o.el('SequentialScan', 'false');
    o.el('RandomAccessHint', 'false');
    o.el('TemporaryFile', 'false');
    o.el('UseLargePages', 'false');
    o.el('DisableOSCache', String(p.disableOsCache));
    o.el('WriteThrough', String(p.disableOsCache));
    o.open('WriteBufferContent');
    o.el('Pattern', 'sequential');
    o.close('WriteBufferContent');
    o.el('ParallelAsyncIO', 'false');
    if (p.random) o.el('Random', p.blockSize);
    else o.el('StrideSize', p.blockSize);
    o.el('ThreadStride', 0);
    o.el('MaxFileSize', 0);
    o.el('RequestCount', p.queueDepth);
    o.el('WriteRatio', p.writePercent);
    o.el('Throughput', 0);
    o.el('ThreadsPerFile', p.threadsPerTarget);
    o.el('IOPriority', 3);
    o.el('Weight', 1);
    o.close('Target');
  }
  o.close('Targets');
  o.close('TimeSpan');
  o.close('TimeSpans');
  o.close('Profile');

  o.open('TimeSpan');
  if (run.error !== undefined) {
    o.el('Error', run.error);
  } else {
    o.el('TestTimeSeconds', f2(run.testTimeSeconds));
    o.el('ThreadCount', run.threads.length);
    o.el('RequestCount', 0);
    o.el('ProcCount', run.cpus.length);
    renderCpu(o, run.cpus);
    const targets = run.threads.flatMap((t) => t.targets);
    if (p.measureLatency) renderLatency(o, targets);
    run.threads.forEach((t, i) => {
      o.open('Thread');
      o.el('Id', i);
      for (const x of t.targets) renderTarget(o, x, p.measureLatency);
      o.close('Thread');
    });
  }
  o.close('TimeSpan');
  o.close('Results');
  return o.text();
}

function renderCpu(o: Out, cpus: readonly DiskspdCpu[]) {
  o.open('CpuUtilization');
  cpus.forEach((c, i) => {
    o.open('CPU');
    o.el('Socket', 0);
    o.el('Node', 0);
    o.el('Group', 0);
    o.el('Core', i);
    o.el('EfficiencyClass', 0);
    o.el('Id', i);
    o.el('UsagePercent', f2(c.userPercent + c.kernelPercent));
    o.el('UserPercent', f2(c.userPercent));
    o.el('KernelPercent', f2(c.kernelPercent));
    o.el('IdlePercent', f2(c.idlePercent));
    o.close('CPU');
  });
  const n = Math.max(1, cpus.length);
  const sum = (f: (c: DiskspdCpu) => number) => cpus.reduce((a, c) => a + f(c), 0) / n;
  o.open('Average');
  o.el('UsagePercent', f2(sum((c) => c.userPercent + c.kernelPercent)));
  o.el('UserPercent', f2(sum((c) => c.userPercent)));
  o.el('KernelPercent', f2(sum((c) => c.kernelPercent)));
  o.el('IdlePercent', f2(sum((c) => c.idlePercent)));
  o.close('Average');
  o.close('CpuUtilization');
}

function sortedSamples(targets: readonly DiskspdTarget[], pick: (t: DiskspdTarget) => readonly number[] | undefined): number[] {
  return targets.flatMap((t) => [...(pick(t) ?? [])]).sort((a, b) => a - b);
}

function renderLatency(o: Out, targets: readonly DiskspdTarget[]) {
  const read = sortedSamples(targets, (t) => t.readLatencyMs);
  const write = sortedSamples(targets, (t) => t.writeLatencyMs);
  const total = [...read, ...write].sort((a, b) => a - b);
  o.open('Latency');
  if (read.length) {
    const s = stats(read);
    o.el('AverageReadMilliseconds', f3(s.avg));
    o.el('ReadLatencyStdev', f3(s.stdev));
  }
  if (write.length) {
    const s = stats(write);
    o.el('AverageWriteMilliseconds', f3(s.avg));
    o.el('WriteLatencyStdev', f3(s.stdev));
  }
  if (total.length) {
    const s = stats(total);
    o.el('AverageTotalMilliseconds', f3(s.avg));
    o.el('LatencyStdev', f3(s.stdev));
  }
  for (const pct of PERCENTILES) {
    o.open('Bucket');
    o.el('Percentile', pct);
    if (read.length) o.el('ReadMilliseconds', f3(percentile(read, Number(pct))));
    if (write.length) o.el('WriteMilliseconds', f3(percentile(write, Number(pct))));
    if (total.length) o.el('TotalMilliseconds', f3(percentile(total, Number(pct))));
    o.close('Bucket');
  }
  o.close('Latency');
}

function renderTarget(o: Out, t: DiskspdTarget, latency: boolean) {
  o.open('Target');
  o.el('Path', t.path);
  o.el('BytesCount', t.readBytes + t.writeBytes);
  o.el('FileSize', t.fileSize);
  o.el('IOCount', t.readCount + t.writeCount);
  o.el('ReadBytes', t.readBytes);
  o.el('ReadCount', t.readCount);
  o.el('WriteBytes', t.writeBytes);
  o.el('WriteCount', t.writeCount);
  if (latency) {
    const r = t.readLatencyMs ?? [];
    const w = t.writeLatencyMs ?? [];
    if (r.length) {
      const s = stats(r);
      o.el('AverageReadLatencyMilliseconds', f3(s.avg));
      o.el('ReadLatencyStdev', f3(s.stdev));
    }
    if (w.length) {
      const s = stats(w);
      o.el('AverageWriteLatencyMilliseconds', f3(s.avg));
      o.el('WriteLatencyStdev', f3(s.stdev));
    }
    if (r.length + w.length) {
      const s = stats([...r, ...w]);
      o.el('AverageLatencyMilliseconds', f3(s.avg));
      o.el('LatencyStdev', f3(s.stdev));
    }
  }
  o.close('Target');
}

/**
 * Parse a diskspd -Rxml document into a BlockResult. diskspd reports no error counters (it stops on a
 * failed I/O), so `errors` and `verifyErrors` are 0 here; the guest agent adds what it learns from the
 * exit status or a verify pass. A document carrying <Error>, a truncated one, or one missing a counter
 * is an `input` error located by line and element path.
 */
export function parseDiskspdXml(xml: string, source: string): BlockResult {
  const root = parseXmlDocument(xml, source, 'diskspd');
  if (root.name !== 'Results') {
    throw root.error('DISKSPD_XML_ROOT', `not a diskspd -Rxml document: root element is <${root.name}>, expected <Results>`);
  }
  const spans = root.children('TimeSpan');
  if (spans.length === 0) throw root.error('WORKLOAD_XML_MISSING', 'missing element <TimeSpan> in <Results>');

  let readBytes = 0, writeBytes = 0, bytes = 0, ios = 0, seconds = 0;
  const latencyMs: Record<string, number> = {};
  let cpu: number | undefined;
  for (const span of spans) {
    const err = span.optChild('Error') ?? root.optChild('Error');
    if (err) throw err.error('DISKSPD_REPORTED_ERROR', `diskspd reported an error: ${err.text()}`);
    seconds += span.numberOf('TestTimeSeconds');
    const threads = span.children('Thread');
    if (threads.length === 0) throw span.error('WORKLOAD_XML_MISSING', 'missing element <Thread> in <TimeSpan>');
    for (const th of threads) {
      const targets = th.children('Target');
      if (targets.length === 0) throw th.error('WORKLOAD_XML_MISSING', 'missing element <Target> in <Thread>');
      for (const t of targets) {
        const tb = t.numberOf('BytesCount');
        const rb = t.numberOf('ReadBytes');
        const wb = t.numberOf('WriteBytes');
        const tc = t.numberOf('IOCount');
        const rc = t.numberOf('ReadCount');
        const wc = t.numberOf('WriteCount');
        if (rb + wb !== tb) throw t.error('DISKSPD_INCONSISTENT', `BytesCount ${tb} is not ReadBytes + WriteBytes (${rb} + ${wb})`);
        if (rc + wc !== tc) throw t.error('DISKSPD_INCONSISTENT', `IOCount ${tc} is not ReadCount + WriteCount (${rc} + ${wc})`);
        bytes += tb;
        readBytes += rb;
        writeBytes += wb;
        ios += tc;
      }
    }
    for (const [pct, ms] of latencyBuckets(span)) {
      // Several time spans: keep the worst value seen for each percentile.
      latencyMs[pct] = Math.max(latencyMs[pct] ?? 0, ms);
    }
    const avg = span.optChild('CpuUtilization')?.optChild('Average')?.optNumberOf('UsagePercent');
    if (avg !== undefined) cpu = Math.max(cpu ?? 0, avg);
  }
  if (seconds <= 0) throw spans[0]!.child('TestTimeSeconds').error('DISKSPD_NO_TIME', 'TestTimeSeconds is 0: nothing was measured');
  const result: BlockResult = {
    kind: 'block',
    bytes,
    ios,
    readBytes,
    writeBytes,
    seconds,
    iops: ios / seconds,
    mbps: bytes / seconds / 1e6,
    errors: 0,
    verifyErrors: 0,
    latencyMs,
  };
  if (cpu !== undefined) result.cpuPercent = cpu;
  return result;
}

function latencyBuckets(span: XNode): [string, number][] {
  const lat = span.optChild('Latency');
  if (!lat) return [];
  const out: [string, number][] = [];
  for (const b of lat.children('Bucket')) {
    const pctNode = b.child('Percentile');
    const pct = pctNode.text();
    if (!Number.isFinite(Number(pct)) || Number(pct) < 0 || Number(pct) > 100) {
      throw pctNode.error('WORKLOAD_XML_NUMBER', `<Percentile> must be 0..100, found '${pct}'`);
    }
    if (!REPORTED_PERCENTILES.includes(pct)) continue;
    const total = b.optNumberOf('TotalMilliseconds');
    if (total !== undefined) out.push([pct, total]);
  }
  return out;
}
