// Reading the workload tools' result documents (diskspd -Rxml, NTttcp -xml) through winpv's one
// located XML reader (`xml/read.ts`), with the errors a result document can earn: every one is an
// `input` error whose message and location name the file, the line and the element path.
import { formatLocation, WinpvError } from '../model/errors';
import { parseXml, type XmlElement } from '../xml';

/** Parse a whole result document; malformed, truncated or empty XML is a located `input` error. */
export function readResultXml(xml: string, source: string, what: string): XmlElement {
  if (xml.trim() === '') {
    throw new WinpvError('input', 'WORKLOAD_XML_EMPTY', `${source}: empty ${what} document`, { location: { file: source, line: 1 } });
  }
  const { root, problems } = parseXml(xml, source);
  if (root) return root;
  const p = problems[0]!;
  const reason = p.message.replace(/^not well-formed XML: /, '');
  // sax says "Unclosed root tag" when the text stops inside the document element.
  const truncated = /unclosed root tag|unexpected end/i.test(reason);
  const code = truncated ? 'WORKLOAD_XML_TRUNCATED' : 'WORKLOAD_XML_MALFORMED';
  const why = truncated ? `truncated ${what} document (${reason})` : `malformed ${what} document: ${reason}`;
  throw new WinpvError('input', code, `${formatLocation(p.location)}: ${why}`, { location: p.location });
}

/** An `input` error about `el`: `file:line:col /element/path: message`. */
export function resultError(el: XmlElement, code: string, message: string): WinpvError {
  return new WinpvError('input', code, `${formatLocation(el.loc)}: ${message}`, { location: el.loc });
}

/** The first child `name` of `el`; its absence is an error located at `el`. */
export function requiredChild(el: XmlElement, name: string): XmlElement {
  const c = el.child(name);
  if (!c) throw resultError(el, 'WORKLOAD_XML_MISSING', `missing element <${name}> in <${el.name}>`);
  return c;
}

/** A finite, non-negative number held as the text of `el`. */
export function numberIn(el: XmlElement): number {
  const t = el.trimmedText;
  const n = Number(t);
  if (t === '' || !Number.isFinite(n) || n < 0) {
    throw resultError(el, 'WORKLOAD_XML_NUMBER', `<${el.name}> must hold a non-negative number, found '${t}'`);
  }
  return n;
}

export const numberOf = (el: XmlElement, child: string): number => numberIn(requiredChild(el, child));

export function optNumberOf(el: XmlElement | undefined, child: string): number | undefined {
  const c = el?.child(child);
  return c ? numberIn(c) : undefined;
}
