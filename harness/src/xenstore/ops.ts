// The requests of xs_wire.h as xenstored 4.17 answers them (tools/xenstore/xenstored_core.c,
// xenstored_domain.c, xenstored_watch.c, xenstored_transaction.c): argument counting, the order of
// checks and the errno of each failure follow the C daemon, so replies match it byte for byte.
import {
  OK_PAYLOAD,
  XENSTORE_PAYLOAD_MAX,
  XENSTORE_REL_PATH_MAX,
  XS_TYPE_COUNT,
  XsType,
  countStrings,
  type XsErrno,
  type XsMessage,
} from './codec';
import { handleControl } from './control';
import { ancestors, canonicalize, domainPath, isValidNodeName, parentOf, baseName } from './paths';
import { PERM_OWNER, PERM_READ, PERM_WRITE, formatPerm, parsePerms, type Perms } from './perms';
import { nodeRecordSize } from './quota';
import type { NodeData, NodeView } from './store';
import { Transaction } from './transactions';
import type { ServerConnection, XenstoreCore } from './core';
import { XsFail, atoi } from './xs-fail';

/** DOMID_SELF (xen/include/public/xen.h): IS_DOMAIN_INTRODUCED answers T for it. */
export const DOMID_SELF = 0x7ff0;

const fail = (errno: XsErrno): never => {
  throw new XsFail(errno);
};

interface Req {
  server: XenstoreCore;
  conn: ServerConnection;
  msg: XsMessage;
  tx?: Transaction;
  view: NodeView;
}

type Handler = (r: Req) => void;

/** onearg(): the payload is exactly one string with its NUL at the end. */
function onearg(msg: XsMessage): string | undefined {
  const p = msg.payload;
  if (p.length === 0) return undefined;
  const nul = p.indexOf(0);
  if (nul !== p.length - 1) return undefined;
  return p.toString('utf8', 0, nul);
}

/** get_strings(): the NUL-terminated strings, ignoring bytes after the last NUL. */
function strings(msg: XsMessage): string[] {
  const out: string[] = [];
  const p = msg.payload;
  let start = 0;
  for (let nul = p.indexOf(0); nul >= 0; nul = p.indexOf(0, start)) {
    out.push(p.toString('utf8', start, nul));
    start = nul + 1;
  }
  return out;
}

function ack(r: Req): void {
  r.conn.reply(r.msg, r.msg.type, OK_PAYLOAD);
}

function maxRel(r: Req): number {
  return Math.min(r.server.quota.pathMax, XENSTORE_REL_PATH_MAX);
}

/** get_node(): the node if the caller has every bit of `perm` on it; otherwise the errno the daemon
 *  gives, where ENOENT becomes EACCES unless the nearest existing ancestor grants one of the bits. */
function getNode(r: Req, name: string | undefined, perm: number): { node?: NodeData; errno?: XsErrno } {
  if (name === undefined || !isValidNodeName(name, maxRel(r))) return { errno: 'EINVAL' };
  const node = r.view.get(name);
  let errno: XsErrno;
  if (node) {
    if ((r.server.permFor(r.conn, node) & perm) === perm) return { node };
    errno = 'EACCES';
  } else errno = 'ENOENT';
  checkTxNodes(r);
  for (const a of ancestors(name)) {
    const n = r.view.get(a);
    if (n) return { errno: r.server.permFor(r.conn, n) & perm ? errno : 'EACCES' };
  }
  return { errno: 'EACCES' };
}

/** quota_trans_nodes: an unprivileged transaction may touch only so many nodes; past that it fails. */
function checkTxNodes(r: Req): void {
  if (r.tx && !r.conn.privileged && r.tx.accessedCount > r.server.quota.transactionNodes) {
    r.tx.failed = true;
    fail('ENOSPC');
  }
}

function canonical(r: Req, name: string | undefined): string | undefined {
  return name === undefined ? undefined : canonicalize(r.conn.home, name);
}

function mustGet(r: Req, name: string | undefined, perm: number): NodeData {
  const { node, errno } = getNode(r, name, perm);
  if (!node) fail(errno!);
  return node!;
}

function replyChecked(r: Req, type: number, payload: Buffer): void {
  // send_reply: a reply that would exceed XENSTORE_PAYLOAD_MAX is E2BIG instead.
  if (payload.length > XENSTORE_PAYLOAD_MAX) fail('E2BIG');
  r.conn.reply(r.msg, type, payload);
}

function childList(r: Req, name: string): Buffer {
  return r.tx ? r.tx.childList(name) : r.server.store.childList(name);
}

/** Node-size quota for unprivileged writers (write_node_raw): ENOSPC at or above the limit. */
function checkSize(r: Req, valueLen: number, nPerms: number, childBytes: number): void {
  if (!r.conn.privileged && nodeRecordSize(valueLen, nPerms, childBytes) >= r.server.quota.nodeSize) fail('ENOSPC');
}

/** create_node(): the node and any missing ancestors, inheriting the nearest parent's permissions
 *  (an unprivileged creator becomes the owner), with the node-count and node-size quotas. */
function createNode(r: Req, name: string, value: Buffer): NodeData {
  const missing: string[] = [name];
  let parentName = parentOf(name);
  let parent = r.view.get(parentName);
  while (!parent) {
    if (parentName === '/') fail('EINVAL');
    missing.push(parentName);
    parentName = parentOf(parentName);
    parent = r.view.get(parentName);
  }
  let perms: Perms = parent.perms;
  if (!r.conn.privileged) perms = [{ id: r.conn.domid, bits: perms[0].bits }, ...perms.slice(1)];
  if (!r.conn.privileged) {
    if (r.server.store.ownedBy(r.conn.domid) + missing.length > r.server.quota.nodes) fail('ENOSPC');
    checkSize(r, value.length, perms.length, 0);
    checkSize(r, parent.value.length, parent.perms.length, parent.childBytes + Buffer.byteLength(baseName(missing[missing.length - 1])) + 1);
  }
  for (let i = missing.length - 1; i >= 0; i--) r.view.create(missing[i], i === 0 ? value : Buffer.alloc(0), perms);
  checkTxNodes(r);
  return r.view.get(name)!;
}

const doRead: Handler = (r) => {
  const node = mustGet(r, canonical(r, onearg(r.msg)), PERM_READ);
  r.conn.reply(r.msg, XsType.READ, node.value);
};

const doDirectory: Handler = (r) => {
  const name = canonical(r, onearg(r.msg));
  mustGet(r, name, PERM_READ);
  replyChecked(r, XsType.DIRECTORY, childList(r, name!));
};

const doDirectoryPart: Handler = (r) => {
  if (countStrings(r.msg.payload) !== 2) fail('EINVAL');
  const [rawName, offStr] = strings(r.msg);
  const name = canonical(r, rawName);
  const node = mustGet(r, name, PERM_READ);
  const off = atoi(offStr) >>> 0;
  const list = childList(r, name!);
  const gen = Buffer.from(`${node.gen}\0`, 'latin1');
  if (off >= list.length) {
    // Offset past the end: the generation and an empty string.
    r.conn.reply(r.msg, XsType.DIRECTORY_PART, Buffer.concat([gen, Buffer.from([0])]));
    return;
  }
  // As many whole names as fit, then an extra NUL when the list ends in this part.
  const maxlen = XENSTORE_PAYLOAD_MAX - gen.length - 1;
  let len = 0;
  for (;;) {
    const nul = list.indexOf(0, off + len);
    const nameLen = nul - (off + len);
    if (!(len + nameLen < maxlen)) break;
    len += nameLen + 1;
    if (off + len >= list.length) break;
  }
  const parts = [gen, list.subarray(off, off + len)];
  if (off + len === list.length) parts.push(Buffer.from([0]));
  replyChecked(r, XsType.DIRECTORY_PART, Buffer.concat(parts));
};

const doGetPerms: Handler = (r) => {
  const node = mustGet(r, canonical(r, onearg(r.msg)), PERM_READ);
  r.conn.reply(r.msg, XsType.GET_PERMS, Buffer.from(node.perms.map((p) => formatPerm(p) + '\0').join(''), 'latin1'));
};

const doWrite: Handler = (r) => {
  const p = r.msg.payload;
  const nul = p.indexOf(0);
  if (nul < 0) fail('EINVAL');
  const name = canonicalize(r.conn.home, p.toString('utf8', 0, nul));
  // The value is the rest of the payload, copied: the request buffer is reused by the socket.
  const value = Buffer.from(p.subarray(nul + 1));
  const { node, errno } = getNode(r, name, PERM_WRITE);
  let written: NodeData;
  if (!node) {
    if (errno !== 'ENOENT') fail(errno!);
    written = createNode(r, name, value);
  } else {
    checkSize(r, value.length, node.perms.length, node.childBytes);
    r.view.setValue(name, value);
    written = node;
  }
  r.server.fireWatches(r.conn, name, false, written, undefined, r.tx);
  ack(r);
};

const doMkdir: Handler = (r) => {
  const name = canonical(r, onearg(r.msg));
  const { node, errno } = getNode(r, name, PERM_WRITE);
  if (!node) {
    if (errno !== 'ENOENT') fail(errno!);
    const created = createNode(r, name!, Buffer.alloc(0));
    r.server.fireWatches(r.conn, name!, false, created, undefined, r.tx);
  }
  ack(r);
};

const doRm: Handler = (r) => {
  const name = canonical(r, onearg(r.msg));
  const { node, errno } = getNode(r, name, PERM_WRITE);
  if (!node) {
    // Already gone is fine if the parent exists.
    if (errno === 'ENOENT' && r.view.get(parentOf(name!))) return ack(r);
    fail(errno!);
  }
  if (name === '/') fail('EINVAL');
  const removed = r.view.removeTree(name!);
  checkTxNodes(r);
  // Children are reported exactly (only watches on that very node), the top node as a change.
  for (const x of removed) r.server.fireWatches(r.conn, x.name, x.name !== name, x.node, undefined, r.tx);
  ack(r);
};

const doSetPerms: Handler = (r) => {
  const n = countStrings(r.msg.payload);
  if (n < 2) fail('EINVAL');
  if (!r.conn.privileged && n - 1 > r.server.quota.permissions) fail('ENOSPC');
  const all = strings(r.msg);
  const perms = parsePerms(all.slice(1, n));
  if (!perms) return fail('EINVAL');
  // domain_alloc_permrefs: an owner that no longer exists is ENOENT.
  if (!r.server.domainExists(perms[0].id)) fail('ENOENT');
  const rawName = all[0];
  if (rawName.startsWith('@')) {
    const cur = r.server.specialPerms.get(rawName);
    if (!cur) fail('EINVAL');
    if ((r.server.permFor(r.conn, cur!) & (PERM_WRITE | PERM_OWNER)) !== (PERM_WRITE | PERM_OWNER)) fail('EACCES');
    r.server.specialPerms.set(rawName, perms);
    return ack(r);
  }
  const name = canonicalize(r.conn.home, rawName);
  const node = mustGet(r, name, PERM_WRITE | PERM_OWNER);
  // Unprivileged domains may not give a node away: EPERM, which xs_wire.h cannot name, so EINVAL.
  if (!r.conn.privileged && perms[0].id !== node.perms[0].id) fail('EINVAL');
  checkSize(r, node.value.length, perms.length, node.childBytes);
  const oldPerms = node.perms;
  r.view.setPerms(name, perms);
  r.server.fireWatches(r.conn, name, false, r.view.get(name), oldPerms, r.tx);
  ack(r);
};

/** check_watch_path(): special names only have a length limit; others are canonicalized and checked. */
const doWatch: Handler = (r) => {
  if (countStrings(r.msg.payload) !== 2) fail('EINVAL');
  const [raw, token] = strings(r.msg);
  let node = raw;
  let relative: string | undefined;
  if (raw.startsWith('@')) {
    if (Buffer.byteLength(raw) > XENSTORE_REL_PATH_MAX) fail('EINVAL');
  } else {
    if (!raw.startsWith('/')) relative = r.conn.home;
    node = canonicalize(r.conn.home, raw);
    if (!isValidNodeName(node, maxRel(r))) fail('EINVAL');
  }
  if (r.server.watches.find(r.conn, node, token)) fail('EEXIST');
  if (!r.conn.privileged && r.conn.watches.length > r.server.quota.watches) fail('E2BIG');
  const w = r.server.watches.add(r.conn, node, token, relative);
  r.conn.watches.push(w);
  ack(r);
  // The daemon fires every new watch once at once (path as registered), whatever the permissions.
  r.conn.queueWatchEvent(relative !== undefined ? raw : node, token);
};

const doUnwatch: Handler = (r) => {
  if (countStrings(r.msg.payload) !== 2) fail('EINVAL');
  const [raw, token] = strings(r.msg);
  const w = r.server.watches.find(r.conn, canonicalize(r.conn.home, raw), token);
  if (!w) return fail('ENOENT');
  r.server.watches.remove(w);
  r.conn.watches.splice(r.conn.watches.indexOf(w), 1);
  ack(r);
};

const doTransactionStart: Handler = (r) => {
  if (r.tx) fail('EBUSY'); // no nested transactions
  if (!r.conn.privileged && r.conn.transactions.size > r.server.quota.transactions) fail('ENOSPC');
  let id: number;
  do {
    id = r.conn.nextTxId;
    r.conn.nextTxId = (r.conn.nextTxId + 1) >>> 0;
  } while (id === 0 || r.conn.transactions.has(id));
  r.conn.transactions.set(id, new Transaction(id, r.server.store, r.server.store.nextGen()));
  r.conn.reply(r.msg, XsType.TRANSACTION_START, Buffer.from(`${id}\0`, 'latin1'));
};

const doTransactionEnd: Handler = (r) => {
  const arg = onearg(r.msg);
  if (arg !== 'T' && arg !== 'F') fail('EINVAL');
  const tx = r.tx;
  if (!tx) return fail('ENOENT');
  r.conn.transactions.delete(tx.id);
  if (arg === 'T') {
    if (tx.failed) fail('ENOMEM');
    if (tx.nodeCreated && !r.conn.privileged) {
      for (const [domid, d] of tx.ownedDelta) {
        if (r.server.store.ownedBy(domid) + d >= r.server.quota.nodes) fail('ENOSPC');
      }
    }
    const forced = r.server.hooks.beforeCommit?.(r.conn.domid, tx.id) === 'eagain';
    const conflict = tx.conflict();
    if (forced || conflict !== undefined) {
      r.server.traceLine({ ev: 'eagain', conn: r.conn.seq, domid: r.conn.domid, tx: tx.id, node: conflict, forced });
      fail('EAGAIN');
    }
    for (const e of tx.apply()) r.server.fireWatches(undefined, e.name, e.exact, undefined, e.origPerms);
  }
  ack(r);
};

const doGetDomainPath: Handler = (r) => {
  const arg = onearg(r.msg);
  if (arg === undefined) fail('EINVAL');
  r.conn.reply(r.msg, XsType.GET_DOMAIN_PATH, Buffer.from(`${domainPath(atoi(arg!))}\0`, 'latin1'));
};

const doIntroduce: Handler = (r) => {
  const v = strings(r.msg);
  if (v.length < 3) fail('EINVAL');
  const domid = atoi(v[0]) >>> 0;
  if ((atoi(v[2]) >>> 0) === 0) fail('EINVAL'); // the event channel port
  r.server.introduceDomain(domid);
  ack(r);
};

/** onearg_domain(): a non-zero domid that is introduced. */
function argDomain(r: Req): number {
  const arg = onearg(r.msg);
  if (arg === undefined) return fail('EINVAL');
  const domid = atoi(arg) >>> 0;
  if (domid === 0) fail('EINVAL');
  if (!r.server.isIntroduced(domid)) fail('ENOENT');
  return domid;
}

const doRelease: Handler = (r) => {
  const domid = argDomain(r);
  ack(r);
  r.server.releaseDomain(domid);
};

const doResume: Handler = (r) => {
  argDomain(r);
  ack(r);
};

const doIsDomainIntroduced: Handler = (r) => {
  const arg = onearg(r.msg);
  if (arg === undefined) fail('EINVAL');
  const domid = atoi(arg!) >>> 0;
  const yes = domid === DOMID_SELF || r.server.isIntroduced(domid);
  r.conn.reply(r.msg, XsType.IS_DOMAIN_INTRODUCED, Buffer.from(yes ? 'T\0' : 'F\0', 'latin1'));
};

const doSetTarget: Handler = (r) => {
  const v = strings(r.msg);
  if (v.length < 2) fail('EINVAL');
  const domid = atoi(v[0]) >>> 0;
  const target = atoi(v[1]) >>> 0;
  for (const d of [domid, target]) if (!r.server.isIntroduced(d)) fail('ENOENT');
  for (const c of r.server.connections()) if (c.domid === domid) c.target = target;
  ack(r);
};

const doResetWatches: Handler = (r) => {
  r.server.dropWatchesAndTransactions(r.conn);
  ack(r);
};

const doControl: Handler = (r) => handleControl(r.server, r.conn, r.msg);

/** wire_funcs: handler, privileged-only, and whether the transaction id is ignored. */
const TABLE: ({ fn: Handler; priv?: boolean; notid?: boolean } | undefined)[] = [];
TABLE[XsType.CONTROL] = { fn: doControl, priv: true };
TABLE[XsType.DIRECTORY] = { fn: doDirectory };
TABLE[XsType.READ] = { fn: doRead };
TABLE[XsType.GET_PERMS] = { fn: doGetPerms };
TABLE[XsType.WATCH] = { fn: doWatch, notid: true };
TABLE[XsType.UNWATCH] = { fn: doUnwatch, notid: true };
TABLE[XsType.TRANSACTION_START] = { fn: doTransactionStart };
TABLE[XsType.TRANSACTION_END] = { fn: doTransactionEnd };
TABLE[XsType.INTRODUCE] = { fn: doIntroduce, priv: true };
TABLE[XsType.RELEASE] = { fn: doRelease, priv: true };
TABLE[XsType.GET_DOMAIN_PATH] = { fn: doGetDomainPath };
TABLE[XsType.WRITE] = { fn: doWrite };
TABLE[XsType.MKDIR] = { fn: doMkdir };
TABLE[XsType.RM] = { fn: doRm };
TABLE[XsType.SET_PERMS] = { fn: doSetPerms };
TABLE[XsType.IS_DOMAIN_INTRODUCED] = { fn: doIsDomainIntroduced, priv: true };
TABLE[XsType.RESUME] = { fn: doResume, priv: true };
TABLE[XsType.SET_TARGET] = { fn: doSetTarget, priv: true };
TABLE[XsType.RESET_WATCHES] = { fn: doResetWatches };
TABLE[XsType.DIRECTORY_PART] = { fn: doDirectoryPart };

/** process_message(): unknown types ENOSYS, privileged ones EACCES for guests, unknown transaction ENOENT. */
export function handleRequest(server: XenstoreCore, conn: ServerConnection, msg: XsMessage): void {
  const entry = msg.type < XS_TYPE_COUNT ? TABLE[msg.type] : undefined;
  if (!entry) return conn.replyError(msg, 'ENOSYS');
  if (entry.priv && !conn.privileged) return conn.replyError(msg, 'EACCES');
  let tx: Transaction | undefined;
  if (!entry.notid && msg.txId !== 0) {
    tx = conn.transactions.get(msg.txId);
    if (!tx) return conn.replyError(msg, 'ENOENT');
  }
  entry.fn({ server, conn, msg, tx, view: tx ?? server.store });
}
