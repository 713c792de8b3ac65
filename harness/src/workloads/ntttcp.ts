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

export function renderNtttcpXml(run: NtttcpRun): string {
  const root = run.role === 'sender' ? 'ntttcps' : 'ntttcpr';
  const p = run.params;
  const total = run.threads.reduce((a, t) => a + t.bytes, 0);
  const secs = run.realtimeSeconds;
  const buffers = p.bufferLen > 0 ? Math.floor(total / p.bufferLen) : 0;
  const rate = (bytes: number, s: number) => (s > 0 ? bytes / s : 0);
  const lines: string[] = [];
  const el = (indent: number, tag: string, value: string | number, metric?: string) =>
    lines.push(`${'\t'.repeat(indent)}<${tag}${metric ? ` metric="${escapeXml(metric)}"` : ''}>${typeof value === 'number' ? value : escapeXml(value)}</${tag}>`);

  lines.push(`<${root} computername="${escapeXml(run.computerName)}" version="${escapeXml(run.version ?? '5.39')}">`);
  lines.push('\t<parameters>');
  el(2, 'send_socket_buff', -1);
  el(2, 'recv_socket_buff', -1);
  el(2, 'port', p.port);
  el(2, 'sync_port', 'False');
  el(2, 'no_sync', 'False');
  el(2, 'wait_timeout_milliseconds', 600000);
  el(2, 'async', bool(p.async));
  el(2, 'verbose', 'False');
  el(2, 'wsa', 'False');
  el(2, 'use_ipv6', 'False');
  el(2, 'udp', bool(p.udp));
  el(2, 'verify_data', bool(p.verifyData));
  el(2, 'wait_all', 'False');
  el(2, 'run_time', p.runTimeMs);
  el(2, 'warmup_time', p.warmupMs);
  el(2, 'cooldown_time', p.cooldownMs);
  el(2, 'dash_n_timeout', 10800000);
  el(2, 'bind_sender', 'False');
  el(2, 'sender_name', 'NA');
  el(2, 'max_active_threads', run.threads.length);
  el(2, 'tp', 'False');
  el(2, 'no_stdio_buffer', 'False');
  el(2, 'throughput_Bpms', 0);
  el(2, 'cpu_burn', 0);
  el(2, 'latency_measurement', 'False');
  el(2, 'use_io_compl_ports', 'NA');
  el(2, 'cpu_from_idle_flag', 'False');
  el(2, 'get_estats', 'False');
  el(2, 'qos_flag', 'False');
  el(2, 'jitter_measurement', 'False');
  el(2, 'packet_spacing', 0);
  lines.push('\t</parameters>');
  run.threads.forEach((t, i) => {
    lines.push(`\t<thread index="${i}">`);
    el(2, 'realtime', f3(t.realtimeSeconds), 's');
    el(2, 'throughput', f3(rate(t.bytes, t.realtimeSeconds) / 1024), 'KB/s');
    el(2, 'throughput', f3(rate(t.bytes, t.realtimeSeconds) / MiB), 'MB/s');
    el(2, 'throughput', f3((rate(t.bytes, t.realtimeSeconds) * 8) / 1e6), 'mbps');
    el(2, 'avg_bytes_per_compl', f3(p.bufferLen), 'B');
    lines.push('\t</thread>');
  });
  el(1, 'total_bytes', f6(total / MiB), 'MB');
  el(1, 'realtime', f6(secs), 's');
  el(1, 'avg_bytes_per_compl', f3(p.bufferLen), 'B');
  el(1, 'threads_avg_bytes_per_compl', f3(p.bufferLen), 'B');
  const packets = run.role === 'sender' ? run.packetsSent : run.packetsReceived;
  el(1, 'avg_frame_size', f3(packets > 0 ? total / packets : 0), 'B');
  el(1, 'throughput', f3(rate(total, secs) / MiB), 'MB/s');
  el(1, 'throughput', f3((rate(total, secs) * 8) / 1e6), 'mbps');
  el(1, 'total_buffers', f3(buffers));
  el(1, 'throughput', f3(rate(buffers, secs)), 'buffers/s');
  const interrupts = run.interruptsPerSec ?? 0;
  const dpcs = run.dpcsPerSec ?? 0;
  el(1, 'avg_packets_per_interrupt', f3(interrupts > 0 ? rate(packets, secs) / interrupts : 0), 'packets/interrupt');
  el(1, 'interrupts', f3(interrupts), 'count/sec');
  el(1, 'dpcs', f3(dpcs), 'count/sec');
  el(1, 'avg_packets_per_dpc', f3(dpcs > 0 ? rate(packets, secs) / dpcs : 0), 'packets/dpc');
  el(1, 'cycles', f3(0), 'cycles/byte');
  el(1, 'packets_sent', run.packetsSent);
  el(1, 'packets_received', run.packetsReceived);
  el(1, 'packets_retransmitted', run.packetsRetransmitted);
  el(1, 'errors', run.errors);
  el(1, 'cpu', f3(run.cpuPercent), '%');
  el(1, 'bufferCount', '9223372036854775807'); // -n not given: run by time
  el(1, 'bufferLen', p.bufferLen);
  el(1, 'io', 2);
  lines.push(`</${root}>`);
  return lines.join('\n') + '\n';
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
