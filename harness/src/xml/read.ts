// Reading XML with locations. xml2js (the project's XML dependency) is a thin layer over sax
// that drops positions, so the tree is built from sax's strict parser directly: same tokenizer,
// plus the file, line, column and element path of every element and attribute.
// Malformed input is a located Problem (rule `xml-wellformed`), never an exception.
// sax expands only the XML predefined entities and never fetches DTDs or external entities.
import { readFileSync } from 'node:fs';
import sax from 'sax';
import type { Problem } from '../model/errors';
import { XmlElement } from './element';

export interface XmlReadResult {
  /** The document element; absent when the document is not well formed (or unreadable). */
  root?: XmlElement;
  problems: Problem[];
}

/** Line starts of `text`, to turn a character offset into a 1-based line and column. */
function lineIndex(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo] + 1 };
  };
}

/** sax appends "\nLine: ...\nColumn: ...\nChar: ..." to its messages; the location says that already. */
const saxMessage = (e: Error) => e.message.split('\n')[0].replace(/\.$/, '');

/** One document being read: its text and the tree built so far, shared by the sax handlers. */
interface ReadState {
  text: string;
  file: string;
  where: (offset: number) => { line: number; column: number };
  parser: sax.SAXParser;
  /** The open elements, innermost last. */
  stack: XmlElement[];
  root: XmlElement | undefined;
  /** The first well-formedness error (later ones follow from it). */
  failure: Problem | undefined;
}

/**
 * Parse `text` (the content of `file`, which is only used for locations).
 * Element paths use 1-based indexes among same-named siblings when there is more than one
 * (`/driver/xenstore/key[3]`), as XPath writes them.
 */
export function parseXml(text: string, file: string): XmlReadResult {
  const parser = sax.parser(true, { trackPosition: true, xmlns: false, position: true } as sax.SAXOptions);
  const st: ReadState = { text, file, where: lineIndex(text), parser, stack: [], root: undefined, failure: undefined };
  listen(st);
  try {
    parser.write(text).close();
  } catch (e) {
    // sax throws when written to after an error; the first error is already recorded.
    if (!st.failure) {
      st.failure = { location: { file }, message: `not well-formed XML: ${(e as Error).message}`, rule: 'xml-wellformed' };
    }
  }
  if (st.failure) return { problems: [st.failure] };
  if (!st.root) return { problems: [{ location: { file, line: 1, column: 1 }, message: 'no document element', rule: 'xml-wellformed' }] };
  assignPaths(st.root, `/${st.root.name}`);
  return { root: st.root, problems: [] };
}

/** Builds the tree from sax's events: elements with their locations, text, the first error. */
function listen(st: ReadState): void {
  const parser = st.parser;
  parser.onopentag = (tag) => openElement(st, tag);
  parser.onclosetag = () => {
    st.stack.pop();
  };
  const onText = (t: string) => {
    const top = st.stack[st.stack.length - 1];
    if (top) top.text += t;
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  parser.onerror = (e) => {
    if (!st.failure) {
      st.failure = {
        location: { file: st.file, line: parser.line + 1, column: Math.max(1, parser.column), path: currentPath(st.stack) },
        message: `not well-formed XML: ${saxMessage(e)}`,
        rule: 'xml-wellformed',
      };
    }
  };
}

/** A start tag: the element located, its attributes each located, checked, put in the tree. */
function openElement(st: ReadState, tag: sax.Tag | sax.QualifiedTag): void {
  const { file, stack, where } = st;
  // startTagPosition is the offset just past '<'; position is just past the closing '>'.
  const tagStartOffset = Math.max(0, (st.parser as unknown as { startTagPosition: number }).startTagPosition - 1);
  const start = where(tagStartOffset);
  const parent = stack[stack.length - 1];
  const el = new XmlElement(tag.name, { file, line: start.line, column: start.column }, parent);
  const positions = attributeOffsets(st.text.slice(tagStartOffset, st.parser.position));
  for (const [name, value] of Object.entries(tag.attributes as Record<string, string>)) {
    el.attrs[name] = value;
    const rel = positions.find((p) => p.name === name)?.offset;
    const pos = rel !== undefined ? where(tagStartOffset + rel) : start;
    el.attrLocs[name] = { file, line: pos.line, column: pos.column };
  }
  // sax keeps one of duplicate attributes silently; XML says the document is not well formed.
  const dup = positions.find((p, i) => positions.findIndex((q) => q.name === p.name) !== i);
  if (dup && !st.failure) {
    const pos = where(tagStartOffset + dup.offset);
    st.failure = {
      location: { file, line: pos.line, column: pos.column, path: currentPath([...stack, el]) },
      message: `not well-formed XML: duplicate attribute '${dup.name}'`,
      rule: 'xml-wellformed',
    };
  }
  if (parent) parent.children.push(el);
  else if (!st.root) st.root = el;
  else if (!st.failure) {
    st.failure = { location: { ...el.loc, path: `/${el.name}` }, message: 'not well-formed XML: a second document element', rule: 'xml-wellformed' };
  }
  stack.push(el);
}

/** Read and parse a file; an unreadable file is a problem too. */
export function readXmlFile(path: string, displayName: string = path): XmlReadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { problems: [{ location: { file: displayName }, message: `cannot read: ${err.code ?? err.message}`, rule: 'xml-read' }] };
  }
  return parseXml(text, displayName);
}

/** Names and offsets of the attributes in a start tag's source (quoted values skipped). */
function attributeOffsets(tag: string): { name: string; offset: number }[] {
  const found: { name: string; offset: number }[] = [];
  // Blank out quoted values (same length) so that '=' or names inside them are not seen.
  const bare = tag.replace(/"[^"]*"|'[^']*'/g, (q) => ' '.repeat(q.length));
  const re = /\s([^\s=/>]+)\s*=/g;
  for (let m = re.exec(bare); m; m = re.exec(bare)) found.push({ name: m[1], offset: m.index + 1 });
  return found;
}

/** The path of the open elements while parsing (for a well-formedness error): later siblings are
 *  not read yet, so an element is indexed among the same-named siblings before it (`Thread[2]`). */
function currentPath(stack: XmlElement[]): string | undefined {
  if (!stack.length) return undefined;
  return (
    '/' +
    stack
      .map((e) => {
        const n = e.parent ? e.parent.children.filter((c) => c.name === e.name).indexOf(e) + 1 : 1;
        return n > 1 ? `${e.name}[${n}]` : e.name;
      })
      .join('/')
  );
}

function assignPaths(el: XmlElement, path: string): void {
  el.loc.path = path;
  for (const [name, loc] of Object.entries(el.attrLocs)) loc.path = `${path}/@${name}`;
  const total = new Map<string, number>();
  for (const c of el.children) total.set(c.name, (total.get(c.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const c of el.children) {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    assignPaths(c, `${path}/${c.name}${total.get(c.name)! > 1 ? `[${n}]` : ''}`);
  }
}
