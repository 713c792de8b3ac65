// Host key checking against an OpenSSH known_hosts file or a pinned SHA256 fingerprint.
// Formats (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): `host1,host2 keytype base64`, `[host]:port ...`
// for non-22 ports, hashed names `|1|base64(salt)|base64(hmac-sha1(salt, name))`, and markers
// `@revoked` / `@cert-authority` (a revoked key is refused; CA lines are not supported and ignored).
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  patterns: string[];
  keyType: string;
  key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    if (fields.length < 3) continue;
    out.push({ marker, patterns: fields[0].split(','), keyType: fields[1], key: Buffer.from(fields[2], 'base64') });
  }
  return out;
}

/** The name a host has in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export const knownHostsName = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`);

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const negated = pattern.startsWith('!');
  const p = negated ? pattern.slice(1) : pattern;
  const re = new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return re.test(name) && !negated;
}

export type HostKeyVerdict = 'trusted' | 'revoked' | 'mismatch' | 'unknown';

/** Judges a presented key (the raw SSH wire blob) for host name `name`. */
export function judgeHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && e.patterns.some((p) => patternMatches(p, name)));
  if (forHost.some((e) => e.marker === '@revoked' && e.key.equals(key))) return 'revoked';
  const plain = forHost.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.key.equals(key))) return 'trusted';
  return plain.length > 0 ? 'mismatch' : 'unknown';
}

/** OpenSSH's fingerprint form: `SHA256:` + unpadded base64 of sha256(key blob). */
export const sha256Fingerprint = (key: Buffer) =>
  'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
