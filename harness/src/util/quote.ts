// Quoting for remote command lines. No remote command is ever built from an unquoted value.

/** POSIX sh single-quoting: safe for any byte string except NUL. */
export function shQuote(s: string): string {
  if (s.includes('\0')) throw new Error('NUL byte in shell argument');
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export const shJoin = (argv: readonly string[]): string => argv.map(shQuote).join(' ');

/** PowerShell single-quoted string literal (doubling embedded quotes, including the typographic ones PowerShell accepts). */
export function psQuote(s: string): string {
  if (s.includes('\0')) throw new Error('NUL byte in PowerShell argument');
  return `'${s.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}
