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
import { Builder } from 'xml2js';
import type { XmlElement } from '../xml';
import { numberOf, optNumberOf, readResultXml, requiredChild, resultError } from './result-xml';

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

// Built with xml2js's Builder (escaping of text and attributes is its job), two-space indented
// and without an XML declaration, as diskspd writes it.
const builder = new Builder({ headless: true, renderOpts: { pretty: true, indent: '  ', newline: '\n' } });

type XmlObject = Record<string, unknown>;

export function renderDiskspdXml(run: DiskspdRun): string {
  const p = run.profile;
  const n = run.cpus.length;
  const paths = [...new Set(run.threads.flatMap((t) => t.targets.map((x) => x.path)))];
  const targets = run.threads.flatMap((t) => t.targets);
  const results: XmlObject =
    run.error !== undefined
      ? { Error: run.error }
      : {
          TestTimeSeconds: f2(run.testTimeSeconds),
          ThreadCount: run.threads.length,
          RequestCount: 0,
          ProcCount: n,
          CpuUtilization: cpuXml(run.cpus),
          ...(p.measureLatency ? { Latency: latencyXml(targets) } : {}),
          Thread: run.threads.map((t, i) => ({ Id: i, Target: t.targets.map((x) => targetXml(x, p.measureLatency)) })),
        };
  const doc = {
    Results: {
      System: {
        ComputerName: run.computerName,
        Tool: { Version: run.toolVersion ?? '2.1.0.0' },
        ProcessorTopology: { Group: { $: { Group: 0, MaximumProcessors: n, ActiveProcessors: n, ActiveProcessorMask: `0x${(2 ** n - 1).toString(16)}` } } },
      },
      Profile: {
        Progress: 0,
        ResultFormat: 'xml',
        Verbose: false,
        TimeSpans: {
          TimeSpan: {
            CompletionRoutines: false,
            MeasureLatency: p.measureLatency,
            CalculateIopsStdDev: false,
            DisableAffinity: false,
            Duration: p.durationSeconds,
            Warmup: p.warmupSeconds,
            Cooldown: 0,
            ThreadCount: 0,
            RequestCount: 0,
            IoBucketDuration: 1000,
            RandSeed: 0,
            Targets: { Target: paths.map((path) => profileTargetXml(path, p)) },
          },
        },
      },
      TimeSpan: results,
    },
  };
  return builder.buildObject(doc) + '\n';
}

function profileTargetXml(path: string, p: DiskspdRun['profile']): XmlObject {
  return {
    Path: path,
    BlockSize: p.blockSize,
    BaseFileOffset: 0,
    SequentialScan: false,
    RandomAccessHint: false,
    TemporaryFile: false,
    UseLargePages: false,
    DisableOSCache: p.disableOsCache,
    WriteThrough: p.disableOsCache,
    WriteBufferContent: { Pattern: 'sequential' },
    ParallelAsyncIO: false,
    ...(p.random ? { Random: p.blockSize } : { StrideSize: p.blockSize }),
    ThreadStride: 0,
    MaxFileSize: 0,
    RequestCount: p.queueDepth,
    WriteRatio: p.writePercent,
    Throughput: 0,
    ThreadsPerFile: p.threadsPerTarget,
    IOPriority: 3,
    Weight: 1,
  };
}

function cpuXml(cpus: readonly DiskspdCpu[]): XmlObject {
  const n = Math.max(1, cpus.length);
  const avg = (f: (c: DiskspdCpu) => number) => f2(cpus.reduce((a, c) => a + f(c), 0) / n);
  return {
    CPU: cpus.map((c, i) => ({
      Socket: 0,
      Node: 0,
      Group: 0,
      Core: i,
      EfficiencyClass: 0,
      Id: i,
      UsagePercent: f2(c.userPercent + c.kernelPercent),
      UserPercent: f2(c.userPercent),
      KernelPercent: f2(c.kernelPercent),
      IdlePercent: f2(c.idlePercent),
    })),
    Average: {
      UsagePercent: avg((c) => c.userPercent + c.kernelPercent),
      UserPercent: avg((c) => c.userPercent),
      KernelPercent: avg((c) => c.kernelPercent),
      IdlePercent: avg((c) => c.idlePercent),
    },
  };
}

function sortedSamples(targets: readonly DiskspdTarget[], pick: (t: DiskspdTarget) => readonly number[] | undefined): number[] {
  return targets.flatMap((t) => [...(pick(t) ?? [])]).sort((a, b) => a - b);
}

/** `{ [avgName]: mean, [stdevName]: stdev }` of the samples, or nothing when there are none. */
function meanAndStdev(samples: readonly number[], avgName: string, stdevName: string): XmlObject {
  if (!samples.length) return {};
  const s = stats(samples);
  return { [avgName]: f3(s.avg), [stdevName]: f3(s.stdev) };
}

function latencyXml(targets: readonly DiskspdTarget[]): XmlObject {
  const read = sortedSamples(targets, (t) => t.readLatencyMs);
  const write = sortedSamples(targets, (t) => t.writeLatencyMs);
  const total = [...read, ...write].sort((a, b) => a - b);
  const at = (samples: number[], name: string, pct: string) => (samples.length ? { [name]: f3(percentile(samples, Number(pct))) } : {});
  return {
    ...meanAndStdev(read, 'AverageReadMilliseconds', 'ReadLatencyStdev'),
    ...meanAndStdev(write, 'AverageWriteMilliseconds', 'WriteLatencyStdev'),
    ...meanAndStdev(total, 'AverageTotalMilliseconds', 'LatencyStdev'),
    Bucket: PERCENTILES.map((pct) => ({
      Percentile: pct,
      ...at(read, 'ReadMilliseconds', pct),
      ...at(write, 'WriteMilliseconds', pct),
      ...at(total, 'TotalMilliseconds', pct),
    })),
  };
}

function targetXml(t: DiskspdTarget, latency: boolean): XmlObject {
  const r = t.readLatencyMs ?? [];
  const w = t.writeLatencyMs ?? [];
  return {
    Path: t.path,
    BytesCount: t.readBytes + t.writeBytes,
    FileSize: t.fileSize,
    IOCount: t.readCount + t.writeCount,
    ReadBytes: t.readBytes,
    ReadCount: t.readCount,
    WriteBytes: t.writeBytes,
    WriteCount: t.writeCount,
    ...(latency
      ? {
          ...meanAndStdev(r, 'AverageReadLatencyMilliseconds', 'ReadLatencyStdev'),
          ...meanAndStdev(w, 'AverageWriteLatencyMilliseconds', 'WriteLatencyStdev'),
          ...meanAndStdev([...r, ...w], 'AverageLatencyMilliseconds', 'LatencyStdev'),
        }
      : {}),
  };
}

/**
 * Parse a diskspd -Rxml document into a BlockResult. diskspd reports no error counters (it stops on a
 * failed I/O), so `errors` and `verifyErrors` are 0 here; the guest agent adds what it learns from the
 * exit status or a verify pass. A document carrying <Error>, a truncated one, or one missing a counter
 * is an `input` error located by line and element path.
 */
export function parseDiskspdXml(xml: string, source: string): BlockResult {
  const root = readResultXml(xml, source, 'diskspd');
  if (root.name !== 'Results') {
    throw resultError(root, 'DISKSPD_XML_ROOT', `not a diskspd -Rxml document: root element is <${root.name}>, expected <Results>`);
  }
  const spans = root.childrenNamed('TimeSpan');
  if (spans.length === 0) throw resultError(root, 'WORKLOAD_XML_MISSING', 'missing element <TimeSpan> in <Results>');

  let readBytes = 0, writeBytes = 0, bytes = 0, ios = 0, seconds = 0;
  const latencyMs: Record<string, number> = {};
  let cpu: number | undefined;
  for (const span of spans) {
    const err = span.child('Error') ?? root.child('Error');
    if (err) throw resultError(err, 'DISKSPD_REPORTED_ERROR', `diskspd reported an error: ${err.trimmedText}`);
    seconds += numberOf(span, 'TestTimeSeconds');
    const threads = span.childrenNamed('Thread');
    if (threads.length === 0) throw resultError(span, 'WORKLOAD_XML_MISSING', 'missing element <Thread> in <TimeSpan>');
    for (const th of threads) {
      const targets = th.childrenNamed('Target');
      if (targets.length === 0) throw resultError(th, 'WORKLOAD_XML_MISSING', 'missing element <Target> in <Thread>');
      for (const t of targets) {
        const tb = numberOf(t, 'BytesCount');
        const rb = numberOf(t, 'ReadBytes');
        const wb = numberOf(t, 'WriteBytes');
        const tc = numberOf(t, 'IOCount');
        const rc = numberOf(t, 'ReadCount');
        const wc = numberOf(t, 'WriteCount');
        if (rb + wb !== tb) throw resultError(t, 'DISKSPD_INCONSISTENT', `BytesCount ${tb} is not ReadBytes + WriteBytes (${rb} + ${wb})`);
        if (rc + wc !== tc) throw resultError(t, 'DISKSPD_INCONSISTENT', `IOCount ${tc} is not ReadCount + WriteCount (${rc} + ${wc})`);
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
    const avg = optNumberOf(span.child('CpuUtilization')?.child('Average'), 'UsagePercent');
    if (avg !== undefined) cpu = Math.max(cpu ?? 0, avg);
  }
  if (seconds <= 0) throw resultError(requiredChild(spans[0]!, 'TestTimeSeconds'), 'DISKSPD_NO_TIME', 'TestTimeSeconds is 0: nothing was measured');
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

function latencyBuckets(span: XmlElement): [string, number][] {
  const lat = span.child('Latency');
  if (!lat) return [];
  const out: [string, number][] = [];
  for (const b of lat.childrenNamed('Bucket')) {
    const pctNode = requiredChild(b, 'Percentile');
    const pct = pctNode.trimmedText;
    if (!Number.isFinite(Number(pct)) || Number(pct) < 0 || Number(pct) > 100) {
      throw resultError(pctNode, 'WORKLOAD_XML_NUMBER', `<Percentile> must be 0..100, found '${pct}'`);
    }
    if (!REPORTED_PERCENTILES.includes(pct)) continue;
    const total = optNumberOf(b, 'TotalMilliseconds');
    if (total !== undefined) out.push([pct, total]);
  }
  return out;
}
