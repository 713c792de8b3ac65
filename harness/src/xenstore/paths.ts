// Node names as xenstored accepts them (tools/xenstore/xenstored_core.c is_valid_nodename and
// canonicalize, with the limits of xs_wire.h). Relative names live under the caller's home,
// `/local/domain/<domid>`; special watch names start with `@`.
import { XENSTORE_REL_PATH_MAX } from './codec';

/** The home of a domain: relative paths of its connection resolve below it. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid >>> 0}`;
}

/** Absolute name for a name as the client sent it (relative names get the home prefix). */
export function canonicalize(home: string, name: string): string {
  if (name.startsWith('/') || name.startsWith('@')) return name;
  return `${home}/${name}`;
}

const VALID_CHARS = /^[A-Za-z0-9\-/_@]*$/;
// sscanf("/local/domain/%5u/%n"): up to five characters of number (a sign counts), then a slash.
const LOCAL_PREFIX = /^\/local\/domain\/(?:[-+]\d{1,4}|\d{1,5})\//;

/** is_valid_nodename(): absolute, no trailing or double slash, only [A-Za-z0-9-/_@], and at most
 *  `maxRel` characters after a `/local/domain/<n>/` prefix (XENSTORE_REL_PATH_MAX by default). */
export function isValidNodeName(name: string, maxRel = XENSTORE_REL_PATH_MAX): boolean {
  if (!name.startsWith('/')) return false;
  if (name.endsWith('/') && name !== '/') return false;
  if (name.includes('//')) return false;
  const m = LOCAL_PREFIX.exec(name);
  const localOff = m ? m[0].length : 0;
  if (name.length > localOff + maxRel) return false;
  return VALID_CHARS.test(name);
}

/** Parent of an absolute name ("/" for top-level names). */
export function parentOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash <= 0 ? '/' : name.slice(0, slash);
}

export function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

export function childPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** The name as a relative watch reports it: the home prefix and its slash removed ("" for the home itself). */
export function relativeTo(home: string, name: string): string {
  let rest = name.slice(home.length);
  if (rest.startsWith('/')) rest = rest.slice(1);
  return rest;
}

/** Every ancestor of an absolute name, nearest first, ending with "/". */
export function* ancestors(name: string): Generator<string> {
  let p = name;
  while (p !== '/') {
    p = parentOf(p);
    yield p;
  }
}
