// The located XML tree every loader of winpv reads: each element knows the file, the 1-based
// line and column of its start tag and its element path, so every complaint can point at it.
import type { SourceLocation } from '../model/errors';

/** An element of a parsed document. Built by `parseXml`/`readXmlFile`; treat as read-only. */
export class XmlElement {
  /** Attribute values by name, entities already decoded, in document order. */
  readonly attrs: Record<string, string> = {};
  /** Location of each attribute (its name in the start tag). */
  readonly attrLocs: Record<string, SourceLocation> = {};
  readonly children: XmlElement[] = [];
  /** Direct character data (text and CDATA, not of children), untrimmed. */
  text = '';
  /** Start tag location; `path` is the element path, e.g. `/driver/xenstore/key[3]`. */
  readonly loc: SourceLocation;

  constructor(
    readonly name: string,
    loc: SourceLocation,
    readonly parent?: XmlElement,
  ) {
    this.loc = { ...loc };
  }

  /** Element path of this element (same as `loc.path`). */
  get path(): string {
    return this.loc.path ?? '/' + this.name;
  }

  attr(name: string): string | undefined {
    return Object.prototype.hasOwnProperty.call(this.attrs, name) ? this.attrs[name] : undefined;
  }

  /** Where attribute `name` is (the element's start tag when absent), with `@name` appended to the path. */
  attrLoc(name: string): SourceLocation {
    return this.attrLocs[name] ?? { ...this.loc, path: `${this.path}/@${name}` };
  }

  /** First child element called `name`. */
  child(name: string): XmlElement | undefined {
    return this.children.find((c) => c.name === name);
  }

  childrenNamed(name: string): XmlElement[] {
    return this.children.filter((c) => c.name === name);
  }

  /** The direct text with surrounding white space removed. */
  get trimmedText(): string {
    return this.text.trim();
  }

  /** A location inside this element, for problems about its content. */
  at(suffix?: string): SourceLocation {
    return suffix ? { ...this.loc, path: `${this.path}/${suffix}` } : { ...this.loc };
  }
}
