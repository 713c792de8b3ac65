// An INF document: lexed sections with %strkey% tokens replaced from [Strings], every entry
// located by file, line and `[Section] key`. This layer knows the syntax, not what a driver
// package means (that is driver-inf.ts).
import type { Problem, SourceLocation } from '../model/errors';
import { decodeInf, lexInf, type RawField, type RawLine, type RawSection } from './lexer';

export interface InfEntry {
  loc: SourceLocation;
  /** Key after string substitution (absent for bare field lists such as CopyFiles sections). */
  key?: string;
  /** Fields after string substitution and unquoting. */
  values: string[];
  /** The logical line as written. */
  raw: string;
}

export interface InfSection {
  name: string;
  loc: SourceLocation;
  entries: InfEntry[];
}

export interface InfDocument {
  file: string;
  /** Sections in file order; `section()` looks up case-insensitively. */
  sections: InfSection[];
  /** The string table used for substitution (keys lower-case). */
  strings: ReadonlyMap<string, string>;
  /** Which [Strings] sections were applied, in order (neutral first, then the localized one). */
  stringSections: string[];
  section(name: string): InfSection | undefined;
  problems: Problem[];
}

export interface ParseOptions {
  /** Windows language id for localized strings, e.g. `0409` (en-US). [Strings.<id>] overrides [Strings]. */
  locale?: string;
}

/** Parses INF text or bytes; malformed lines and undefined %tokens% become problems, never exceptions. */
export function parseInf(input: string | Uint8Array, file: string, opts: ParseOptions = {}): InfDocument {
  const text = typeof input === 'string' ? input : decodeInf(input);
  const lexed = lexInf(text, file);
  const problems = [...lexed.problems];
  const { strings, stringSections } = readStrings(lexed.sections, file, opts.locale, problems);
  const sections: InfSection[] = lexed.sections.map((s) => ({
    name: s.name,
    loc: { file, line: s.line, path: `[${s.name}]` },
    entries: s.lines.map((l) => entryOf(s, l, file, strings, problems)),
  }));
  const index = new Map(sections.map((s) => [s.name.toLowerCase(), s]));
  return {
    file,
    sections,
    strings,
    stringSections,
    section: (name) => index.get(name.toLowerCase()),
    problems,
  };
}

/** The string table: neutral strings first, then the localized section for the requested locale
 *  (Windows picks [Strings.LLLL] for the system's language and falls back to [Strings] for missing keys). */
function readStrings(raw: RawSection[], file: string, locale: string | undefined, problems: Problem[]): { strings: Map<string, string>; stringSections: string[] } {
  const byName = new Map(raw.map((s) => [s.name.toLowerCase(), s]));
  const strings = new Map<string, string>();
  const stringSections: string[] = [];
  const localized = locale ? byName.get(`strings.${locale.toLowerCase()}`) : undefined;
  for (const s of [byName.get('strings'), localized]) {
    if (!s) continue;
    stringSections.push(s.name);
    for (const l of s.lines) {
      if (!l.key) {
        problems.push({ location: { file, line: l.line, path: `[${s.name}]` }, message: `string entry without a key: ${l.text}`, rule: 'inf-strings' });
        continue;
      }
      // A string value is the whole right-hand side; commas inside an unquoted value are kept.
      const value = l.fields.length === 1 ? l.fields[0].text : l.fields.map((f) => f.text).join(',');
      strings.set(l.key.text.toLowerCase(), value);
    }
  }
  return { strings, stringSections };
}

const isStrings = (name: string) => /^strings(\.[0-9a-f]{4})?$/i.test(name);

/** One entry located, its %tokens% replaced from the string table (a Strings section's own are kept). */
function entryOf(s: RawSection, l: RawLine, file: string, strings: Map<string, string>, problems: Problem[]): InfEntry {
  const keyText = l.key?.text;
  const loc: SourceLocation = { file, line: l.line, path: keyText ? `[${s.name}] ${keyText}` : `[${s.name}]` };
  if (isStrings(s.name)) {
    return { loc, ...(keyText !== undefined ? { key: keyText } : {}), values: l.fields.map((f) => f.text), raw: l.text };
  }
  if ((l.text.match(/%/g)?.length ?? 0) % 2 === 1) {
    problems.push({ location: loc, message: `unterminated %string% token: ${l.text}`, rule: 'inf-syntax' });
  }
  const substitute = (f: RawField): string =>
    f.text.replace(/%([^%]*)%/g, (whole, name: string) => {
      if (name === '') return '%'; // %% is a literal percent sign
      if (/^\d+$/.test(name)) return whole; // %12% is a DIRID, resolved by SetupAPI at install time
      const v = strings.get(name.toLowerCase());
      if (v === undefined) {
        problems.push({ location: loc, message: `undefined string key %${name}%`, rule: 'inf-strings' });
        return whole;
      }
      return v;
    });
  return {
    loc,
    ...(l.key ? { key: substitute(l.key) } : {}),
    values: l.fields.map(substitute),
    raw: l.text,
  };
}

/** Entries of a section whose key matches (case-insensitive), e.g. every `CopyFiles=` of an install section. */
export function entriesWithKey(section: InfSection | undefined, key: string): InfEntry[] {
  if (!section) return [];
  const k = key.toLowerCase();
  return section.entries.filter((e) => e.key?.toLowerCase() === k);
}

/** The single value of `key` in a section (first entry wins, as SetupAPI does). */
export function valueOf(section: InfSection | undefined, key: string): { value: string; loc: SourceLocation } | undefined {
  const e = entriesWithKey(section, key)[0];
  return e ? { value: e.values.join(','), loc: e.loc } : undefined;
}
