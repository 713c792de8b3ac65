// The Debian mirror the lab is built from is the one this machine already uses: read from its apt
// sources (one-line `sources.list` format and deb822 `*.sources`), never written into the repository.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { infraError } from '../model/errors';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** Entries of a one-line-format sources.list (`deb [opts] uri suite comp...`); deb-src and comments are skipped. */
export function parseOneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ') && !line.startsWith('deb\t')) continue;
    const rest = line.slice(3).trim().replace(/^\[[^\]]*\]\s*/, '');
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (uri && suite) out.push({ uri, suites: [suite], components });
  }
  return out;
}

/** Entries of a deb822 `.sources` file (stanzas separated by blank lines; `Enabled: no` skipped). */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!.trim());
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || (fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    for (const uri of words('uris')) out.push({ uri, suites: words('suites'), components: words('components') });
  }
  return out;
}

export interface LabMirror {
  /** The suite debootstrap installs (the release codename). */
  suite: string;
  /** The mirror debootstrap uses. */
  mirror: string;
  /** dom0's sources.list: the release, its updates and its security suites, as this machine has them. */
  sourcesList: string;
}

/** Picks the Debian entries for `codename` (the release itself, -updates, -security) out of the machine's sources. */
export function chooseMirror(sources: AptSource[], codename: string): LabMirror {
  const ours = /^([a-z]+)(-updates|-security|\/updates)?$/;
  const lines: string[] = [];
  let mirror: string | undefined;
  for (const s of sources) {
    const suites = s.suites.filter((x) => ours.exec(x)?.[1] === codename);
    if (suites.length === 0 || !s.components.includes('main')) continue;
    if (!mirror && suites.includes(codename)) mirror = s.uri;
    for (const suite of suites) lines.push(`deb ${s.uri} ${suite} main`);
  }
  if (!mirror) {
    throw infraError('LAB_NO_MIRROR', `no apt source for Debian '${codename}' (main) on this machine; the lab is built from the machine's own Debian mirror`);
  }
  return { suite: codename, mirror, sourcesList: [...new Set(lines)].join('\n') };
}

/** Reads /etc/apt (or `root`) and /etc/os-release and returns the mirror to build from. */
export function machineMirror(root = '/etc'): LabMirror {
  const sources: AptSource[] = [];
  try {
    sources.push(...parseOneLineSources(readFileSync(join(root, 'apt/sources.list'), 'utf8')));
  } catch {
    /* optional */
  }
  let dir: string[] = [];
  try {
    dir = readdirSync(join(root, 'apt/sources.list.d')).sort();
  } catch {
    /* optional */
  }
  for (const f of dir) {
    const text = readFileSync(join(root, 'apt/sources.list.d', f), 'utf8');
    if (f.endsWith('.sources')) sources.push(...parseDeb822Sources(text));
    else if (f.endsWith('.list')) sources.push(...parseOneLineSources(text));
  }
  const osRelease = readFileSync(join(root, 'os-release'), 'utf8');
  const codename = /^VERSION_CODENAME=["']?([a-z]+)/m.exec(osRelease)?.[1];
  if (!codename) throw infraError('LAB_NO_MIRROR', 'cannot tell the Debian release of this machine (no VERSION_CODENAME in os-release)');
  return chooseMirror(sources, codename);
}
