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

/** The lexer's place in a file: the physical lines, the line it is at, what it has built so far. */
interface LexState {
  file: string;
  physical: string[];
  /** Index of the physical line being read (the last one of a joined logical line). */
  i: number;
  /** Whether the logical line just read ends inside a quoted string. */
  openQuote: boolean;
  problems: Problem[];
  sections: RawSection[];
  byName: Map<string, RawSection>;
  /** The section entries go to (undefined before the first good header or after a bad one). */
  current: RawSection | undefined;
}

function at(st: LexState, line: number, path?: string): SourceLocation {
  return { file: st.file, line, ...(path ? { path } : {}) };
}

function syntaxProblem(st: LexState, line: number, message: string, path?: string): void {
  st.problems.push({ location: at(st, line, path), message, rule: 'inf-syntax' });
}

export function lexInf(source: string, file: string): LexResult {
  const st: LexState = { file, physical: source.split(/\r\n|\n|\r/), i: 0, openQuote: false, problems: [], sections: [], byName: new Map(), current: undefined };
  for (; st.i < st.physical.length; st.i++) {
    const first = st.i + 1;
    const text = readLogicalLine(st);
    if (text === '') continue;
    if (st.openQuote) syntaxProblem(st, first, `unterminated quoted string: ${text}`, st.current ? `[${st.current.name}]` : undefined);
    else if (text.startsWith('[')) sectionHeader(st, text, first);
    else if (!st.current) syntaxProblem(st, first, `entry outside any section: ${text}`);
    else entry(st, st.current, text, first);
  }
  return { sections: st.sections, problems: st.problems };
}

/** The logical line starting at physical line `st.i`, comment removed and trimmed: a trailing
 *  backslash joins the next physical line (its comment stripped too), advancing `st.i`. */
function readLogicalLine(st: LexState): string {
  const physical = st.physical;
  let { text, openQuote } = stripComment(physical[st.i]);
  text = text.trim();
  while (!openQuote && text.endsWith('\\') && st.i + 1 < physical.length) {
    st.i++;
    const next = stripComment(physical[st.i]);
    text = text.slice(0, -1).trimEnd() + ' ' + next.text.trim();
    openQuote = next.openQuote;
  }
  st.openQuote = openQuote;
  return text.trim();
}

/** A `[Section]` header: later entries go to that section (a repeated name continues the first). */
function sectionHeader(st: LexState, text: string, first: number): void {
  const close = text.indexOf(']');
  const name = close > 0 ? text.slice(1, close).trim() : '';
  const rest = close > 0 ? text.slice(close + 1).trim() : '';
  if (close < 0 || name === '' || rest !== '') {
    syntaxProblem(st, first, close < 0 ? `section header without ']': ${text}` : name === '' ? 'empty section name' : `text after section header: ${rest}`);
    st.current = undefined; // lines up to the next good header belong nowhere
    if (close < 0 || name === '') return;
  }
  const key = name.toLowerCase();
  st.current = st.byName.get(key);
  if (!st.current) {
    st.current = { name, line: first, lines: [] };
    st.byName.set(key, st.current);
    st.sections.push(st.current);
  }
}

/** An entry of `section`: `key = fields` or a bare field list. */
function entry(st: LexState, section: RawSection, text: string, first: number): void {
  const where = `[${section.name}]`;
  const eq = keySeparator(text);
  if (eq === 0) {
    syntaxProblem(st, first, `entry with an empty key: ${text}`, where);
    return;
  }
  const keyFields = eq > 0 ? splitFields(text.slice(0, eq)) : undefined;
  if (keyFields && keyFields.length !== 1) {
    syntaxProblem(st, first, `key must be a single field: ${text.slice(0, eq).trim()}`, where);
    return;
  }
  const fields = splitFields(eq > 0 ? text.slice(eq + 1) : text);
  section.lines.push({ line: first, ...(keyFields ? { key: keyFields[0] } : {}), fields, text });
}
