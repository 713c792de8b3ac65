// NTttcp `-xml` result documents: the writer used by the simulated Windows guest and the parser used
// for every guest.
//
// Layout (NTttcp for Windows 5.x): root <ntttcps> (sender) or <ntttcpr> (receiver) with attributes
// computername and version; <parameters> (the command line), one <thread index="n"> per thread
// (realtime, throughput in KB/s, MB/s and mbps), then the totals: total_bytes metric="MB",
// realtime metric="s", throughput metric="MB/s" / "mbps" / "buffers/s", packets_sent,
// packets_received, packets_retransmitted, errors, cpu metric="%", bufferCount, bufferLen, io.
// NTttcp's MB is 2^20 bytes; its mbps is megabits (10^6 bits) per second.
import type { NetResult } from '../model/trace';
import { escapeXml, type XmlElement } from '../xml';
import { numberIn, numberOf, readResultXml, resultError } from './result-xml';

const MiB = 1024 * 1024;

export interface NtttcpThread {
  /** Bytes this thread moved, and over how long. */
  bytes: number;
  realtimeSeconds: number;
}

/** Everything the writer needs to produce one NTttcp -xml document. */
export interface NtttcpRun {
  role: 'sender' | 'receiver';
  computerName: string;
  version?: string;
  params: {
    port: number;
    runTimeMs: number;
    warmupMs: number;
    cooldownMs: number;
    udp: boolean;
    verifyData: boolean;
    /** Length of each send/receive buffer (-l). */
    bufferLen: number;
    async: boolean;
  };
  threads: NtttcpThread[];
  realtimeSeconds: number;
  packetsSent: number;
  packetsReceived: number;
  packetsRetransmitted: number;
  errors: number;
  cpuPercent: number;
  interruptsPerSec?: number;
  dpcsPerSec?: number;
}

const f3 = (n: number) => n.toFixed(3);
const f6 = (n: number) => n.toFixed(6);
const bool = (b: boolean) => (b ? 'True' : 'False');

/** One element on a line of its own, tab-indented as NTttcp writes them. */
function xmlLine(indent: number, tag: string, value: string | number, metric?: string): string {
  return `${'\t'.repeat(indent)}<${tag}${metric ? ` metric="${escapeXml(metric)}"` : ''}>${typeof value === 'number' ? value : escapeXml(value)}</${tag}>`;
}

/** Bytes (or buffers) per second, 0 for an empty interval. */
const rate = (bytes: number, s: number) => (s > 0 ? bytes / s : 0);

/** NTttcp's -xml output (ntttcps for the sender, ntttcpr for the receiver): the parameters, one
 *  element per thread, then the totals. */
export function renderNtttcpXml(run: NtttcpRun): string {
  const root = run.role === 'sender' ? 'ntttcps' : 'ntttcpr';
  return [
    `<${root} computername="${escapeXml(run.computerName)}" version="${escapeXml(run.version ?? '5.39')}">`,
    '\t<parameters>',
    ...ntttcpParameters(run).map(([tag, value]) => xmlLine(2, tag, value)),
    '\t</parameters>',
    ...run.threads.flatMap((t, i) => ntttcpThread(t, i, run.params.bufferLen)),
    ...ntttcpTotals(run),
    `</${root}>`,
  ].join('\n') + '\n';
}

/** The <parameters> NTttcp echoes: those of the run, the rest its defaults. */
function ntttcpParameters(run: NtttcpRun): [string, string | number][] {
  const p = run.params;
  return [
    ['send_socket_buff', -1],
    ['recv_socket_buff', -1],
    ['port', p.port],
    ['sync_port', 'False'],
    ['no_sync', 'False'],
    ['wait_timeout_milliseconds', 600000],
    ['async', bool(p.async)],
    ['verbose', 'False'],
    ['wsa', 'False'],
    ['use_ipv6', 'False'],
    ['udp', bool(p.udp)],
    ['verify_data', bool(p.verifyData)],
    ['wait_all', 'False'],
    ['run_time', p.runTimeMs],
    ['warmup_time', p.warmupMs],
    ['cooldown_time', p.cooldownMs],
    ['dash_n_timeout', 10800000],
    ['bind_sender', 'False'],
    ['sender_name', 'NA'],
    ['max_active_threads', run.threads.length],
    ['tp', 'False'],
    ['no_stdio_buffer', 'False'],
    ['throughput_Bpms', 0],
    ['cpu_burn', 0],
    ['latency_measurement', 'False'],
    ['use_io_compl_ports', 'NA'],
    ['cpu_from_idle_flag', 'False'],
    ['get_estats', 'False'],
    ['qos_flag', 'False'],
    ['jitter_measurement', 'False'],
    ['packet_spacing', 0],
  ];
}

function ntttcpThread(t: NtttcpRun['threads'][number], i: number, bufferLen: number): string[] {
  return [
    `\t<thread index="${i}">`,
    xmlLine(2, 'realtime', f3(t.realtimeSeconds), 's'),
    xmlLine(2, 'throughput', f3(rate(t.bytes, t.realtimeSeconds) / 1024), 'KB/s'),
    xmlLine(2, 'throughput', f3(rate(t.bytes, t.realtimeSeconds) / MiB), 'MB/s'),
    xmlLine(2, 'throughput', f3((rate(t.bytes, t.realtimeSeconds) * 8) / 1e6), 'mbps'),
    xmlLine(2, 'avg_bytes_per_compl', f3(bufferLen), 'B'),
    '\t</thread>',
  ];
}

/** The run's totals: bytes, throughput in every unit NTttcp prints, packets, interrupts, CPU. */
function ntttcpTotals(run: NtttcpRun): string[] {
  const p = run.params;
  const total = run.threads.reduce((a, t) => a + t.bytes, 0);
  const secs = run.realtimeSeconds;
  const buffers = p.bufferLen > 0 ? Math.floor(total / p.bufferLen) : 0;
  const packets = run.role === 'sender' ? run.packetsSent : run.packetsReceived;
  const interrupts = run.interruptsPerSec ?? 0;
  const dpcs = run.dpcsPerSec ?? 0;
  return [
    xmlLine(1, 'total_bytes', f6(total / MiB), 'MB'),
    xmlLine(1, 'realtime', f6(secs), 's'),
    xmlLine(1, 'avg_bytes_per_compl', f3(p.bufferLen), 'B'),
    xmlLine(1, 'threads_avg_bytes_per_compl', f3(p.bufferLen), 'B'),
    xmlLine(1, 'avg_frame_size', f3(packets > 0 ? total / packets : 0), 'B'),
    xmlLine(1, 'throughput', f3(rate(total, secs) / MiB), 'MB/s'),
    xmlLine(1, 'throughput', f3((rate(total, secs) * 8) / 1e6), 'mbps'),
    xmlLine(1, 'total_buffers', f3(buffers)),
    xmlLine(1, 'throughput', f3(rate(buffers, secs)), 'buffers/s'),
    xmlLine(1, 'avg_packets_per_interrupt', f3(interrupts > 0 ? rate(packets, secs) / interrupts : 0), 'packets/interrupt'),
    xmlLine(1, 'interrupts', f3(interrupts), 'count/sec'),
    xmlLine(1, 'dpcs', f3(dpcs), 'count/sec'),
    xmlLine(1, 'avg_packets_per_dpc', f3(dpcs > 0 ? rate(packets, secs) / dpcs : 0), 'packets/dpc'),
    xmlLine(1, 'cycles', f3(0), 'cycles/byte'),
    xmlLine(1, 'packets_sent', run.packetsSent),
    xmlLine(1, 'packets_received', run.packetsReceived),
    xmlLine(1, 'packets_retransmitted', run.packetsRetransmitted),
    xmlLine(1, 'errors', run.errors),
    xmlLine(1, 'cpu', f3(run.cpuPercent), '%'),
    xmlLine(1, 'bufferCount', '9223372036854775807'), // -n not given: run by time
    xmlLine(1, 'bufferLen', p.bufferLen),
    xmlLine(1, 'io', 2),
  ];
}

function metricChild(node: XmlElement, tag: string, metric: string): XmlElement {
  const c = node.childrenNamed(tag).find((n) => n.attr('metric') === metric);
  if (!c) throw resultError(node, 'WORKLOAD_XML_MISSING', `missing element <${tag} metric="${metric}"> in <${node.name}>`);
  return c;
}

/**
 * Parse an NTttcp -xml document (sender or receiver) into a NetResult. Throughput is NTttcp's own
 * mbps figure; bytes come from total_bytes (MB = 2^20); errors and retransmits are the tool's counters.
 */
export function parseNtttcpXml(xml: string, source: string): NetResult {
  const root = readResultXml(xml, source, 'NTttcp');
  if (root.name !== 'ntttcps' && root.name !== 'ntttcpr') {
    throw resultError(root, 'NTTTCP_XML_ROOT', `not an NTttcp -xml document: root element is <${root.name}>, expected <ntttcps> or <ntttcpr>`);
  }
  const err = root.child('error') ?? root.child('Error');
  if (err) throw resultError(err, 'NTTTCP_REPORTED_ERROR', `NTttcp reported an error: ${err.trimmedText}`);
  const totalMB = numberIn(metricChild(root, 'total_bytes', 'MB'));
  const seconds = numberIn(metricChild(root, 'realtime', 's'));
  const mbps = numberIn(metricChild(root, 'throughput', 'mbps'));
  const result: NetResult = {
    kind: 'net',
    bytes: Math.round(totalMB * MiB),
    seconds,
    mbps,
    retransmits: numberOf(root, 'packets_retransmitted'),
    errors: numberOf(root, 'errors'),
  };
  const cpu = root.childrenNamed('cpu').find((n) => n.attr('metric') === '%');
  if (cpu) result.cpuPercent = numberIn(cpu);
  return result;
}
