// Transactions: a private overlay of the nodes a transaction touched, with the generation each node
// had when the transaction first read it. Reads inside see a snapshot taken at first access (real
// isolation: a later change outside is not visible); commit fails with EAGAIN when any node first
// read by the transaction changed since (xenstored_transaction.c: accessed nodes, check_gen).
import { childPath, parentOf, baseName } from './paths';
import type { Perms } from './perms';
import { NO_GENERATION, type NodeData, type NodeView, type Store } from './store';

interface TxNode {
  value: Buffer;
  perms: Perms;
  children: string[];
  childBytes: number;
  /** Generation as the transaction sees it: the node's at first access, a new one once changed. */
  gen: number;
}

interface Accessed {
  name: string;
  node: TxNode | null;
  /** Generation at first access when that access was a read (NO_GENERATION: did not exist). */
  checkGen?: number;
  modified: boolean;
  /** Perms before the transaction changed the node: watch permission checks use them. */
  origPerms?: Perms;
  fireWatch: boolean;
  watchExact: boolean;
}

const utf8Len = (s: string) => Buffer.byteLength(s) + 1;

export class Transaction implements NodeView {
  /** Accessed nodes in first-access order: commit applies and fires watches in this order. */
  private readonly accessed = new Map<string, Accessed>();
  /** Node-count changes per owner domain, applied to the store at commit. */
  readonly ownedDelta = new Map<number, number>();
  nodeCreated = false;
  /** A failure inside the transaction that makes commit impossible (the daemon answers ENOMEM). */
  failed = false;

  constructor(
    readonly id: number,
    private readonly store: Store,
    readonly startGen: number,
  ) {}

  get accessedCount(): number {
    return this.accessed.size;
  }

  has(name: string): boolean {
    return this.accessed.has(name);
  }

  private snapshot(name: string): Accessed {
    let a = this.accessed.get(name);
    if (a) return a;
    const g = this.store.get(name);
    a = {
      name,
      node: g ? { value: g.value, perms: g.perms, children: [...this.store.children(name)], childBytes: g.childBytes, gen: g.gen } : null,
      checkGen: g ? g.gen : NO_GENERATION,
      modified: false,
      origPerms: g?.perms,
      fireWatch: false,
      watchExact: false,
    };
    this.accessed.set(name, a);
    return a;
  }

  get(name: string): NodeData | undefined {
    const a = this.snapshot(name);
    if (!a.node) return undefined;
    return { value: a.node.value, perms: a.node.perms, gen: a.node.gen, childBytes: a.node.childBytes, childCount: a.node.children.length };
  }

  children(name: string): readonly string[] {
    return this.snapshot(name).node?.children ?? [];
  }

  /** The children list bytes as DIRECTORY returns them. */
  childList(name: string): Buffer {
    const kids = this.children(name);
    return Buffer.from(kids.map((k) => k + '\0').join(''), 'utf8');
  }

  private delta(domid: number, d: number): void {
    this.ownedDelta.set(domid, (this.ownedDelta.get(domid) ?? 0) + d);
  }

  create(name: string, value: Buffer, perms: Perms): void {
    const parent = this.snapshot(parentOf(name));
    if (!parent.node) throw new Error(`xenstore transaction: parent of ${name} missing`);
    const base = baseName(name);
    parent.node = { ...parent.node, children: [...parent.node.children, base], childBytes: parent.node.childBytes + utf8Len(base), gen: this.store.nextGen() };
    parent.modified = true;
    const a = this.snapshot(name);
    a.node = { value, perms, children: [], childBytes: 0, gen: this.store.nextGen() };
    a.modified = true;
    this.nodeCreated = true;
    this.delta(perms[0].id, 1);
  }

  setValue(name: string, value: Buffer): void {
    const a = this.snapshot(name);
    a.node = { ...a.node!, value, gen: this.store.nextGen() };
    a.modified = true;
  }

  setPerms(name: string, perms: Perms): void {
    const a = this.snapshot(name);
    this.delta(a.node!.perms[0].id, -1);
    this.delta(perms[0].id, 1);
    a.node = { ...a.node!, perms, gen: this.store.nextGen() };
    a.modified = true;
  }

  removeTree(name: string): { name: string; node: NodeData }[] {
    const removed: { name: string; node: NodeData }[] = [];
    const walk = (path: string): void => {
      const a = this.snapshot(path);
      if (!a.node) return;
      for (const kid of a.node.children) walk(childPath(path, kid));
      const n = a.node;
      removed.push({ name: path, node: { value: n.value, perms: n.perms, gen: 0, childBytes: n.childBytes, childCount: n.children.length } });
      this.delta(n.perms[0].id, -1);
      a.node = null;
      a.modified = true;
    };
    walk(name);
    const parent = this.snapshot(parentOf(name));
    if (parent.node) {
      const base = baseName(name);
      parent.node = { ...parent.node, children: parent.node.children.filter((c) => c !== base), childBytes: parent.node.childBytes - utf8Len(base), gen: this.store.nextGen() };
      parent.modified = true;
    }
    return removed;
  }

  /** Remembers that a change to `name` must fire watches at commit (queue_watches). */
  queueWatch(name: string, exact: boolean): void {
    const a = this.snapshot(name);
    if (!a.fireWatch) {
      a.fireWatch = true;
      a.watchExact = exact;
    } else if (!exact) a.watchExact = false;
  }

  /** The first node that changed outside since this transaction read it, if any. */
  conflict(): string | undefined {
    for (const a of this.accessed.values()) {
      if (a.checkGen === undefined) continue;
      const g = this.store.get(a.name);
      if ((g ? g.gen : NO_GENERATION) !== a.checkGen) return a.name;
    }
    return undefined;
  }

  /** Applies the changes to the store (after conflict() found none). Returns the watch events to fire
   *  in access order, each with the node's perms before the transaction. */
  apply(): { name: string; exact: boolean; origPerms?: Perms }[] {
    const changed = [...this.accessed.values()].filter((a) => a.modified);
    const depth = (s: string) => (s === '/' ? 0 : s.split('/').length);
    // Creations and rewrites parents first, so a new child always finds its parent.
    for (const a of changed.filter((x) => x.node).sort((x, y) => depth(x.name) - depth(y.name))) {
      if (a.name === '/' || this.store.get(parentOf(a.name)) || this.store.get(a.name)) this.store.replace(a.name, a.node!.value, a.node!.perms);
    }
    // Removals deepest first.
    for (const a of changed.filter((x) => !x.node).sort((x, y) => depth(y.name) - depth(x.name))) {
      this.store.removeTree(a.name);
    }
    return [...this.accessed.values()].filter((a) => a.fireWatch).map((a) => ({ name: a.name, exact: a.watchExact, origPerms: a.origPerms }));
  }
}
