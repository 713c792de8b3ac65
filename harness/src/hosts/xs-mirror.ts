// A local mirror of dom0 xenstore subtrees that a watch stream keeps current, used by both dom0
// views (xl's hosts/xl/xenstore.ts, XenAPI's hosts/xapi/dom0.ts). A probe that walks a guest's tree
// (directory + read per node) would cost one SSH round trip per node; with the mirror, the first
// directory() of a subtree loads it with one `xenstore-ls -f`, and the watch stream's path+value
// events keep it exact from then on, so a subtree listed at every ring probe period costs dom0
// nothing after its first listing. Only while a live watch stream covers it: nothing else would
// keep it current.

const under = (path: string, root: string) => path === root || path.startsWith(root === '/' ? '/' : `${root}/`);

export class XenstoreMirror {
  private readonly nodes = new Map<string, string>();
  private readonly roots = new Set<string>();
  /** Events seen while a subtree load is in flight, replayed over the (older) listing. */
  private readonly inFlight = new Map<string, [string, string | null][]>();

  /** The mirrored subtree containing `path`, if any. */
  covering(path: string): string | undefined {
    return this.rootAbove(path, false);
  }

  /** Whether a read of `path` is the mirror's to answer: a node strictly below a mirrored root
   *  (`xenstore-ls -f` prints a root's subtree, not the root's own value). */
  answers(path: string): boolean {
    return this.rootAbove(path, true) !== undefined;
  }

  /** The outermost mirrored root at (unless `strictlyAbove`) or above `path`: one lookup per level
   *  of the path, not one per root, because a long run mirrors a few directories per guest and per
   *  domain (those of domains long gone, listed as missing, included) and every watch event asks. */
  private rootAbove(path: string, strictlyAbove: boolean): string | undefined {
    if (this.roots.has('/') && (path !== '/' || !strictlyAbove)) return '/';
    for (let i = path.indexOf('/', 1); ; i = path.indexOf('/', i + 1)) {
      if (i < 0) return !strictlyAbove && this.roots.has(path) ? path : undefined;
      const prefix = path.slice(0, i);
      if (this.roots.has(prefix)) return prefix;
    }
  }

  beginLoad(root: string) {
    this.inFlight.set(root, []);
  }

  /** A subtree's listing has come: `exists` false when its root is not there (ENOENT), an empty
   *  subtree until an event creates it. `xenstore-ls -f root` prints every node below the root but
   *  not the root itself (tools/xenstore/xenstore_client.c; test/xenstore/peers.test.ts runs
   *  Debian's tool), so a root that exists is recorded here (its value is not known: see answers). */
  finishLoad(root: string, listing: Map<string, string>, exists = true) {
    for (const k of [...this.nodes.keys()]) if (under(k, root)) this.nodes.delete(k);
    if (exists) this.apply(root, '', true);
    for (const [k, v] of listing) if (under(k, root)) this.nodes.set(k, v);
    for (const [p, v] of this.inFlight.get(root) ?? []) this.apply(p, v, true);
    this.inFlight.delete(root);
    this.roots.add(root);
  }

  abortLoad(root: string) {
    this.inFlight.delete(root);
  }

  /** A watch event with the value read in dom0 (null: the node is gone, and so is its subtree). */
  apply(path: string, value: string | null, replay = false) {
    if (!replay) for (const [r, q] of this.inFlight) if (under(path, r)) q.push([path, value]);
    if (!this.covering(path) && !replay) return;
    if (value === null) {
      for (const k of [...this.nodes.keys()]) if (under(k, path)) this.nodes.delete(k);
      return;
    }
    // parents exist implicitly
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/');
      if (!this.nodes.has(p)) this.nodes.set(p, '');
    }
    this.nodes.set(path, value);
  }

  read(path: string): string | null {
    return this.nodes.get(path) ?? null;
  }

  /** Children of a node; undefined when it does not exist. */
  list(path: string): string[] | undefined {
    if (!this.nodes.has(path)) return undefined;
    const pre = `${path}/`;
    const names = new Set<string>();
    for (const k of this.nodes.keys()) if (k.startsWith(pre)) names.add(k.slice(pre.length).split('/')[0]!);
    return [...names];
  }

  clear() {
    this.nodes.clear();
    this.roots.clear();
    this.inFlight.clear();
  }
}
