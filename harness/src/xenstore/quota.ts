// Per-domain limits of unprivileged connections, with the C daemon's defaults
// (tools/xenstore/xenstored_core.c quota_*) and its errors: ENOSPC for nodes, node size, permissions
// and transactions, E2BIG for watches. dom0 is never limited.

export interface XenstoreQuota {
  /** Nodes a domain may own (quota_nb_entry_per_domain). */
  nodes: number;
  /** Watches per connection (quota_nb_watch_per_domain). */
  watches: number;
  /** Open transactions per connection (quota_max_transaction). */
  transactions: number;
  /** Largest node record in bytes: header, permissions, value and children list (quota_max_entry_size). */
  nodeSize: number;
  /** Permission entries per node (quota_nb_perms_per_node). */
  permissions: number;
  /** Nodes one transaction may touch (quota_trans_nodes). */
  transactionNodes: number;
  /** Characters of a path below the domain's home (quota_max_path_len, at most XENSTORE_REL_PATH_MAX). */
  pathMax: number;
}

export const DEFAULT_QUOTA: XenstoreQuota = {
  nodes: 1000,
  watches: 128,
  transactions: 10,
  nodeSize: 2048,
  permissions: 5,
  transactionNodes: 1024,
  pathMax: 2048,
};

/** Size of a node's record as the C daemon stores it (struct xs_tdb_record_hdr is 24 bytes with
 *  padding, each permission 8): the node-size quota compares this. */
export function nodeRecordSize(valueLen: number, nPerms: number, childBytes: number): number {
  return 24 + 8 * nPerms + valueLen + childBytes;
}

/** The names `xenstore-control quota` shows, in its order, mapped to our fields. */
export const QUOTA_NAMES: { name: string; field: keyof XenstoreQuota; descr: string }[] = [
  { name: 'nodes', field: 'nodes', descr: 'Nodes per domain' },
  { name: 'watches', field: 'watches', descr: 'Watches per domain' },
  { name: 'transactions', field: 'transactions', descr: 'Transactions per domain' },
  { name: 'transaction-nodes', field: 'transactionNodes', descr: 'Max. number of accessed nodes per transaction' },
  { name: 'node-size', field: 'nodeSize', descr: 'Max. size of a node' },
  { name: 'path-max', field: 'pathMax', descr: 'Max. length of a node path' },
  { name: 'permissions', field: 'permissions', descr: 'Max. number of permissions per node' },
];
