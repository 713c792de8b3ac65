// Escaping for the one XML writer that cannot use xml2js's Builder: the simulator's NTttcp document,
// whose root carries attributes and interleaves same-named children (<throughput metric="MB/s">,
// <total_buffers>, <throughput metric="buffers/s">) as NTttcp writes them; Builder's object form
// can order same-named siblings only one after the other. Every other document winpv writes
// (JUnit, diskspd results, the XenAPI double's XML-RPC) is built with Builder.

/** Escape text for element content and (double- or single-quoted) attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
