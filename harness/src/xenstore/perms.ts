// Node permissions: a list of {domid, bits}; the first entry names the owner and the default for
// every domain not listed. Wire form per entry: one letter (n none, r read, w write, b both) and the
// domid in decimal (tools/xenstore/xs_lib.c xs_perm_to_string / xs_strings_to_perms).

/** Permission bits of xenstore_lib.h (enum xs_perm_type). */
export const PERM_NONE = 0;
export const PERM_READ = 1;
export const PERM_WRITE = 2;
/** Internal: the caller may change permissions (owner or privileged). */
export const PERM_OWNER = 8;
/** Internal: the entry names a domain that no longer exists and is skipped. */
export const PERM_IGNORE = 16;

export interface Perm {
  id: number;
  bits: number;
}
export type Perms = readonly Perm[];

const LETTER: Record<number, string> = { [PERM_NONE]: 'n', [PERM_READ]: 'r', [PERM_WRITE]: 'w', [PERM_READ | PERM_WRITE]: 'b' };
const BITS: Record<string, number> = { n: PERM_NONE, r: PERM_READ, w: PERM_WRITE, b: PERM_READ | PERM_WRITE };

export function formatPerm(p: Perm): string {
  return LETTER[p.bits & ~PERM_IGNORE] + String(p.id | 0);
}

/** strtol(s, &end, 0) as an unsigned int: decimal, 0x hex or 0 octal, optional sign, whole string. */
function parseDomid(s: string): number | undefined {
  const m = /^[ \t\n\r\f\v]*([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const digits = m[2];
  let v: number;
  if (/^0[xX]/.test(digits)) v = parseInt(digits.slice(2), 16);
  else if (digits.length > 1 && digits[0] === '0') v = parseInt(digits, 8);
  else v = parseInt(digits, 10);
  if (m[1] === '-') v = -v;
  return v >>> 0;
}

/** Parses wire permission strings; undefined if any is malformed (the daemon answers EINVAL). */
export function parsePerms(strings: readonly string[]): Perm[] | undefined {
  const out: Perm[] = [];
  for (const s of strings) {
    const bits = BITS[s[0]];
    if (bits === undefined || s.length < 2) return undefined;
    const id = parseDomid(s.slice(1));
    if (id === undefined) return undefined;
    out.push({ id, bits });
  }
  return out;
}

/** What a connection of domain `domid` may do with a node (perm_for_conn in xenstored_core.c):
 *  privileged connections and the owner get everything; otherwise the first matching entry after
 *  the owner, else the owner entry's default. `target` is the domain this one may act for (SET_TARGET). */
export function permForConn(perms: Perms, domid: number, privileged: boolean, target?: number): number {
  const all = PERM_READ | PERM_WRITE | PERM_OWNER;
  if (privileged || perms[0].id === domid || (target !== undefined && perms[0].id === target)) return all;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i];
    if (!(p.bits & PERM_IGNORE) && (p.id === domid || (target !== undefined && p.id === target))) return p.bits & all;
  }
  return perms[0].bits & all;
}

