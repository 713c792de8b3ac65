// The node tree. Every node is indexed by its full name, so a lookup is one hash probe, and each
// node keeps its children in a Map in creation order (the order DIRECTORY reports). A write under a
// parent with many children touches only the new child and the parent's counters: nothing is
// rewritten in proportion to the number of siblings (the C daemon rewrites the parent's record).
//
// Reads and writes go through a NodeView: the store itself for requests outside a transaction, or
// a transaction's overlay (transactions.ts) with the same interface.
import { childPath, parentOf, baseName } from './paths';
import type { Perms } from './perms';
import { PERM_NONE } from './perms';

/** What a request sees of one node. `gen` is the generation of its last change (conflict checks). */
export interface NodeData {
  readonly value: Buffer;
  readonly perms: Perms;
  readonly gen: number;
  /** Bytes of the children list as the C daemon stores it (each name plus a NUL): node-size quota. */
  readonly childBytes: number;
  readonly childCount: number;
}

/** A node that does not exist has this generation in conflict checks (NO_GENERATION). */
export const NO_GENERATION = -1;

export interface NodeView {
  get(name: string): NodeData | undefined;
  children(name: string): readonly string[];
  /** Creates `name` under an existing parent, with the given perms and value. */
  create(name: string, value: Buffer, perms: Perms): void;
  setValue(name: string, value: Buffer): void;
  setPerms(name: string, perms: Perms): void;
  /** Removes the node and everything below it; returns the removed names with their last state,
   *  children before their parents (the order the daemon fires watches in). */
  removeTree(name: string): { name: string; node: NodeData }[];
}

const NO_KIDS: ReadonlyMap<string, TreeNode> = new Map<string, TreeNode>();

class TreeNode implements NodeData {
  value: Buffer;
  perms: Perms;
  gen: number;
  childBytes = 0;
  /** Made at the first child: most nodes are leaves, and an empty Map per node was a quarter of
   *  what a created node left for the young-generation collector to copy. */
  private kidMap: Map<string, TreeNode> | null = null;
  private listCache: Buffer | null = null;
  constructor(value: Buffer, perms: Perms, gen: number) {
    this.value = value;
    this.perms = perms;
    this.gen = gen;
  }
  get kids(): ReadonlyMap<string, TreeNode> {
    return this.kidMap ?? NO_KIDS;
  }
  get childCount(): number {
    return this.kidMap?.size ?? 0;
  }
  addChild(base: string, n: TreeNode): void {
    (this.kidMap ??= new Map()).set(base, n);
    this.childBytes += Buffer.byteLength(base) + 1;
    this.listCache = null;
  }
  dropChild(base: string): void {
    if (this.kidMap?.delete(base)) {
      this.childBytes -= Buffer.byteLength(base) + 1;
      this.listCache = null;
    }
  }
  /** The children as the daemon's record holds them: each name and a NUL. Cached until a change. */
  childList(): Buffer {
    if (!this.listCache) this.listCache = Buffer.from([...this.kids.keys()].map((k) => k + '\0').join(''), 'utf8');
    return this.listCache;
  }
}

const EMPTY = Buffer.alloc(0);

export class Store implements NodeView {
  private readonly index = new Map<string, TreeNode>();
  /** The global generation counter; every change and every transaction start takes the next value. */
  generation = 0;
  /** Nodes owned per domain (owner = first permission entry): the node quota counts these. */
  private readonly owned = new Map<number, number>();

  constructor() {
    // The tree a fresh xenstored starts with (setup_structure): "/" and /tool/xenstored, dom0's, no access for others.
    const perms: Perms = [{ id: 0, bits: PERM_NONE }];
    this.index.set('/', new TreeNode(EMPTY, perms, this.nextGen()));
    this.create('/tool', EMPTY, perms);
    this.create('/tool/xenstored', EMPTY, perms);
  }

  nextGen(): number {
    return ++this.generation;
  }

  get size(): number {
    return this.index.size;
  }

  get(name: string): NodeData | undefined {
    return this.index.get(name);
  }

  children(name: string): readonly string[] {
    const n = this.index.get(name);
    return n ? [...n.kids.keys()] : [];
  }

  /** The children list bytes (DIRECTORY's payload and DIRECTORY_PART's offsets). */
  childList(name: string): Buffer {
    return this.index.get(name)?.childList() ?? EMPTY;
  }

  ownedBy(domid: number): number {
    return this.owned.get(domid) ?? 0;
  }

  private account(perms: Perms, delta: number): void {
    const id = perms[0].id;
    this.owned.set(id, (this.owned.get(id) ?? 0) + delta);
  }

  create(name: string, value: Buffer, perms: Perms): void {
    const parent = this.index.get(parentOf(name));
    if (!parent) throw new Error(`xenstore store: parent of ${name} missing`);
    const gen = this.nextGen();
    const n = new TreeNode(value, perms, gen);
    parent.addChild(baseName(name), n);
    parent.gen = gen;
    this.index.set(name, n);
    this.account(perms, 1);
  }

  setValue(name: string, value: Buffer): void {
    const n = this.index.get(name)!;
    n.value = value;
    n.gen = this.nextGen();
  }

  setPerms(name: string, perms: Perms): void {
    const n = this.index.get(name)!;
    this.account(n.perms, -1);
    n.perms = perms;
    this.account(perms, 1);
    n.gen = this.nextGen();
  }

  /** Rewrites a node in place (transaction commit): value, perms and a new generation. */
  replace(name: string, value: Buffer, perms: Perms): void {
    const n = this.index.get(name);
    if (!n) return this.create(name, value, perms);
    this.account(n.perms, -1);
    n.value = value;
    n.perms = perms;
    this.account(perms, 1);
    n.gen = this.nextGen();
  }

  removeTree(name: string): { name: string; node: NodeData }[] {
    const top = this.index.get(name);
    if (!top || name === '/') return [];
    const removed: { name: string; node: NodeData }[] = [];
    const walk = (path: string, n: TreeNode): void => {
      for (const [base, kid] of n.kids) walk(childPath(path, base), kid);
      this.index.delete(path);
      this.account(n.perms, -1);
      removed.push({ name: path, node: n });
    };
    walk(name, top);
    const parent = this.index.get(parentOf(name));
    if (parent) {
      parent.dropChild(baseName(name));
      parent.gen = this.nextGen();
    }
    return removed;
  }

  /** Every node name, parents before children (for dumps and the consistency check). */
  *names(): Generator<string> {
    yield* this.index.keys();
  }
}
