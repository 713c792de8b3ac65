// INF lexing: bytes -> logical lines grouped into raw sections, every line located.
//
// The INF syntax as Windows' SetupAPI reads it: `[Section]` headers (names case-insensitive,
// duplicate sections are concatenated), `;` starts a comment outside quotes, a backslash that
// is the last character of a line joins it with the next, entries are `key = field, field, ...`
// or bare field lists, and a field may be a double-quoted string in which `""` is one quote.
// Files are UTF-16LE with a BOM (what stampinf and Inf2Cat produce) or ANSI/UTF-8.
import type { Problem, SourceLocation } from '../model/errors';

/** One field of an entry as written: its text with quotes removed, and whether it was quoted. */
export interface RawField {
  text: string;
  quoted: boolean;
}

export interface RawLine {
  /** 1-based line of the first physical line of this logical line. */
  line: number;
  /** The key (left of the first unquoted `=`), if the entry has one. */
  key?: RawField;
  fields: RawField[];
  /** The logical line as written, continuation joined, comment removed, trimmed. */
  text: string;
}

export interface RawSection {
  /** Name as written (case kept for messages); look up with `name.toLowerCase()`. */
  name: string;
  /** Line of the (first) header. */
  line: number;
  lines: RawLine[];
}

export interface LexResult {
  sections: RawSection[];
  problems: Problem[];
}

/** Decodes an INF file's bytes: UTF-16LE/BE with BOM, UTF-8 with or without BOM. */
export function decodeInf(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString('utf16le');
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) {
    const swapped = Buffer.from(b.subarray(2));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  // UTF-16LE without BOM: ASCII text with every other byte zero.
  if (b.length >= 4 && b[1] === 0 && b[3] === 0 && b[0] !== 0) return b.toString('utf16le');
  const s = b.toString('utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** Removes a `;` comment (outside quotes) and reports an unterminated quote. */
function stripComment(text: string): { text: string; openQuote: boolean } {
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuote = !inQuote; // `""` inside quotes toggles twice: still inside
    else if (c === ';' && !inQuote) return { text: text.slice(0, i), openQuote: false };
  }
  return { text, openQuote: inQuote };
}

/** Splits `a, "b, c", d` into fields, honouring quotes and `""` escapes. */
export function splitFields(text: string): RawField[] {
  const fields: RawField[] = [];
  let cur = '';
  let quoted = false;
  let inQuote = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cur += '"';
          i++;
        } else inQuote = false;
      } else cur += c;
      continue;
    }
    if (c === '"') {
      inQuote = true;
      quoted = true;
      started = true;
    } else if (c === ',') {
      fields.push({ text: quoted ? cur : cur.trim(), quoted });
      cur = '';
      quoted = false;
      started = false;
    } else if (quoted && /\s/.test(c)) {
      // whitespace after a closing quote is not part of the field
    } else {
      if (!started && /\s/.test(c)) continue;
      started = true;
      cur += c;
    }
  }
  fields.push({ text: quoted ? cur : cur.trim(), quoted });
  return fields;
}

/** Index of the first `=` outside quotes, or -1. */
function keySeparator(text: string): number {
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') inQuote = !inQuote;
    else if (text[i] === '=' && !inQuote) return i;
  }
  return -1;
}

export function lexInf(source: string, file: string): LexResult {
  const physical = source.split(/\r\n|\n|\r/);
  const problems: Problem[] = [];
  const sections: RawSection[] = [];
  const byName = new Map<string, RawSection>();
  let current: RawSection | undefined;
  const at = (line: number, path?: string): SourceLocation => ({ file, line, ...(path ? { path } : {}) });

  for (let i = 0; i < physical.length; i++) {
    const first = i + 1;
    let { text, openQuote } = stripComment(physical[i]);
    text = text.trim();
    // A trailing backslash joins the next physical line (its comment stripped too).
    while (!openQuote && text.endsWith('\\') && i + 1 < physical.length) {
      i++;
      const next = stripComment(physical[i]);
      text = text.slice(0, -1).trimEnd() + ' ' + next.text.trim();
      openQuote = next.openQuote;
    }
    text = text.trim();
    if (text === '') continue;
    const where = current ? `[${current.name}]` : undefined;
    if (openQuote) {
      problems.push({ location: at(first, where), message: `unterminated quoted string: ${text}`, rule: 'inf-syntax' });
      continue;
    }
    if (text.startsWith('[')) {
      const close = text.indexOf(']');
      const name = close > 0 ? text.slice(1, close).trim() : '';
      const rest = close > 0 ? text.slice(close + 1).trim() : '';
      if (close < 0 || name === '' || rest !== '') {
        problems.push({
          location: at(first),
          message: close < 0 ? `section header without ']': ${text}` : name === '' ? 'empty section name' : `text after section header: ${rest}`,
          rule: 'inf-syntax',
        });
        current = undefined; // lines up to the next good header belong nowhere
        if (close < 0 || name === '') continue;
      }
      const key = name.toLowerCase();
      current = byName.get(key);
      if (!current) {
        current = { name, line: first, lines: [] };
        byName.set(key, current);
        sections.push(current);
      }
      continue;
    }
    if (!current) {
      problems.push({ location: at(first), message: `entry outside any section: ${text}`, rule: 'inf-syntax' });
      continue;
    }
    const eq = keySeparator(text);
    if (eq === 0) {
      problems.push({ location: at(first, where), message: `entry with an empty key: ${text}`, rule: 'inf-syntax' });
      continue;
    }
    const keyFields = eq > 0 ? splitFields(text.slice(0, eq)) : undefined;
    if (keyFields && keyFields.length !== 1) {
      problems.push({ location: at(first, where), message: `key must be a single field: ${text.slice(0, eq).trim()}`, rule: 'inf-syntax' });
      continue;
    }
    const fields = splitFields(eq > 0 ? text.slice(eq + 1) : text);
    current.lines.push({ line: first, ...(keyFields ? { key: keyFields[0] } : {}), fields, text });
  }
  return { sections, problems };
}
