// Watch registrations, indexed by watched name so that a change finds its watchers by looking up the
// changed name and each of its ancestors (O(depth)), not by scanning every watch.
// Matching follows xenstored_watch.c fire_watches: an "exact" change (a node deleted as part of a
// subtree) fires only watches on that very name; any other change fires watches on the name and on
// every ancestor. Watches on "/" see everything.
import { parentOf } from './paths';

export interface Watch<C> {
  conn: C;
  /** Absolute watched name (or a special `@` name). */
  node: string;
  token: string;
  /** Set for watches registered with a relative name: events strip this home prefix. */
  relativeTo?: string;
  /** Registration order: events for one change go out in connection order, then this order. */
  seq: number;
}

export class WatchRegistry<C extends { seq: number }> {
  private readonly byNode = new Map<string, Watch<C>[]>();
  private nextSeq = 0;

  add(conn: C, node: string, token: string, relativeTo?: string): Watch<C> {
    const w: Watch<C> = { conn, node, token, relativeTo, seq: this.nextSeq++ };
    const list = this.byNode.get(node);
    if (list) list.push(w);
    else this.byNode.set(node, [w]);
    return w;
  }

  find(conn: C, node: string, token: string): Watch<C> | undefined {
    return this.byNode.get(node)?.find((w) => w.conn === conn && w.token === token);
  }

  remove(w: Watch<C>): void {
    const list = this.byNode.get(w.node);
    if (!list) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byNode.delete(w.node);
  }

  /** Watches a change of `name` fires, in the daemon's delivery order. */
  matching(name: string, exact: boolean): Watch<C>[] {
    const out: Watch<C>[] = [];
    const self = this.byNode.get(name);
    if (self) for (const w of self) out.push(w);
    if (!exact && !name.startsWith('@')) {
      // The ancestors walked in place (paths.ts ancestors() is a generator: an object per change).
      for (let a = name; a !== '/'; ) {
        a = parentOf(a);
        const list = this.byNode.get(a);
        if (list) for (const w of list) out.push(w);
      }
    }
    if (out.length > 1) out.sort((a, b) => a.conn.seq - b.conn.seq || a.seq - b.seq);
    return out;
  }
}
