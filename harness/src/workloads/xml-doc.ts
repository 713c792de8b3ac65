// A small located view over an xml2js parse, for the workload tools' result documents.
//
// xml2js gives plain objects without positions. Errors in a workload document must name the line and
// the element path, so the parser is wrapped: every opening tag gets two synthetic attributes holding
// the line and column sax was at. They use names that cannot occur in XML (`#line`, `#col`), so they
// never collide with a real attribute, and XNode hides them from attrs().
import { Parser } from 'xml2js';
import { WinpvError, type SourceLocation } from '../model/errors';

const LINE = '#line';
const COL = '#col';

type Raw = { $?: Record<string, string>; _?: string; [child: string]: unknown };

interface SaxParserLike {
  line: number;
  column: number;
  onopentag: (node: { name: string; attributes: Record<string, string> }) => void;
}

/** One element of a parsed document with its position and element path, e.g. `/Results/TimeSpan[1]/Thread[2]`. */
export class XNode {
  constructor(
    readonly name: string,
    readonly path: string,
    private readonly raw: Raw,
    private readonly source: string,
  ) {}

  get line(): number | undefined {
    const v = this.raw.$?.[LINE];
    return v === undefined ? undefined : Number(v);
  }

  get column(): number | undefined {
    const v = this.raw.$?.[COL];
    return v === undefined ? undefined : Number(v);
  }

  location(): SourceLocation {
    return { file: this.source, line: this.line, column: this.column, path: this.path };
  }

  attr(name: string): string | undefined {
    return this.raw.$?.[name];
  }

  /** Text content, trimmed ('' for an empty element). */
  text(): string {
    return (this.raw._ ?? '').trim();
  }

  children(name: string): XNode[] {
    const list = this.raw[name];
    if (!Array.isArray(list)) return [];
    return list.map((c, i) => new XNode(name, `${this.path}/${name}[${i + 1}]`, asRaw(c), this.source));
  }

  /** Every child element name present, in document order of first appearance. */
  childNames(): string[] {
    return Object.keys(this.raw).filter((k) => k !== '$' && k !== '_');
  }

  optChild(name: string): XNode | undefined {
    return this.children(name)[0];
  }

  child(name: string): XNode {
    const c = this.optChild(name);
    if (!c) throw this.error('WORKLOAD_XML_MISSING', `missing element <${name}> in <${this.name}>`);
    return c;
  }

  /** A finite, non-negative number held as the text of this element. */
  number(): number {
    const t = this.text();
    const n = Number(t);
    if (t === '' || !Number.isFinite(n) || n < 0) {
      throw this.error('WORKLOAD_XML_NUMBER', `<${this.name}> must hold a non-negative number, found '${t}'`);
    }
    return n;
  }

  numberOf(child: string): number {
    return this.child(child).number();
  }

  optNumberOf(child: string): number | undefined {
    const c = this.optChild(child);
    return c ? c.number() : undefined;
  }

  error(code: string, message: string): WinpvError {
    return new WinpvError('input', code, `${this.source}: ${message}`, { location: this.location() });
  }
}

function asRaw(v: unknown): Raw {
  // With explicitArray and the injected position attributes every element is an object.
  if (typeof v === 'string') return { _: v };
  return (v ?? {}) as Raw;
}

/** Parse a whole document; malformed or truncated XML gives a located `input` error, never a stack. */
export function parseXmlDocument(xml: string, source: string, what: string): XNode {
  const parser = new Parser({ explicitArray: true, explicitCharkey: true, trim: false, strict: true });
  const sax = (parser as unknown as { saxParser: SaxParserLike }).saxParser;
  const open = sax.onopentag;
  sax.onopentag = (node) => {
    node.attributes[LINE] = String(sax.line + 1);
    node.attributes[COL] = String(sax.column);
    open(node);
  };

  let result: Record<string, unknown> | null = null;
  let failure: Error | null = null;
  parser.parseString(xml, (err: Error | null, r: Record<string, unknown> | null) => {
    failure = err;
    result = r;
  });
  if (failure) throw located(failure, xml, source, what);
  if (!result) {
    throw new WinpvError('input', 'WORKLOAD_XML_EMPTY', `${source}: empty ${what} document`, {
      location: { file: source, line: 1 },
    });
  }
  const rootName = Object.keys(result)[0]!;
  return new XNode(rootName, `/${rootName}`, asRaw((result as Record<string, unknown>)[rootName]), source);
}

function located(err: Error, xml: string, source: string, what: string): WinpvError {
  // sax reports "reason\nLine: N\nColumn: M\nChar: c" with a 0-based line.
  const m = /^(.*)\nLine: (\d+)\nColumn: (\d+)/s.exec(err.message);
  const reason = (m ? m[1]! : err.message).split('\n')[0]!;
  const line = m ? Number(m[2]) + 1 : undefined;
  const column = m ? Number(m[3]) : undefined;
  const truncated = /unclosed root tag|unexpected end/i.test(reason) || xml.trimEnd().length === 0;
  const code = truncated ? 'WORKLOAD_XML_TRUNCATED' : 'WORKLOAD_XML_MALFORMED';
  const why = truncated ? `truncated ${what} document (${reason})` : `malformed ${what} document: ${reason}`;
  return new WinpvError('input', code, `${source}: ${why}`, { location: { file: source, line, column }, cause: err });
}

/** Escape text for element content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
