// XS_CONTROL (xenstored_control.c): what `xenstore-control` sends. The first string names the
// command, the rest are its arguments; an unknown command is EINVAL, as in the C daemon.
import { XsType, countStrings, type XsMessage } from './codec';
import { QUOTA_NAMES } from './quota';
import type { ServerConnection, XenstoreCore } from './core';
import { XsFail, atoi } from './xs-fail';

type Cmd = (server: XenstoreCore, conn: ServerConnection, msg: XsMessage, args: string[]) => void;

const ok = (conn: ServerConnection, msg: XsMessage) => conn.reply(msg, XsType.CONTROL, Buffer.from('OK\0', 'latin1'));
const text = (conn: ServerConnection, msg: XsMessage, s: string) => conn.reply(msg, XsType.CONTROL, Buffer.from(s + '\0', 'utf8'));
const einval = (): never => {
  throw new XsFail('EINVAL');
};

function showQuota(server: XenstoreCore): string {
  let s = 'Quota settings:\n';
  for (const q of QUOTA_NAMES) s += `${q.name.padEnd(17)}: ${String(server.quota[q.field]).padStart(8)} ${q.descr}\n`;
  return s;
}

function domainQuota(server: XenstoreCore, domid: number): string {
  // domain_get_quota: the counts winpv keeps for the domain.
  const watches = server.connections().filter((c) => c.domid === domid).reduce((n, c) => n + c.watches.length, 0);
  const txs = server.connections().filter((c) => c.domid === domid).reduce((n, c) => n + c.transactions.size, 0);
  return `Domain ${domid}:\nnodes       : ${String(server.store.ownedBy(domid)).padStart(8)}\nwatches     : ${String(watches).padStart(8)}\ntransactions: ${String(txs).padStart(8)}\n`;
}

const COMMANDS: Record<string, { fn: Cmd; pars: string }> = {
  check: { pars: '', fn: (s, c, m, a) => (a.length ? einval() : ok(c, m)) },
  log: { pars: 'on|off', fn: (s, c, m, a) => (a.length === 1 && (a[0] === 'on' || a[0] === 'off') ? ok(c, m) : einval()) },
  logfile: { pars: '<file>', fn: (s, c, m, a) => (a.length === 1 ? ok(c, m) : einval()) },
  memreport: { pars: '[<file>]', fn: (s, c, m, a) => (a.length <= 1 ? ok(c, m) : einval()) },
  print: {
    pars: '<string>',
    fn: (s, c, m, a) => {
      if (a.length !== 1) einval();
      s.traceLine({ ev: 'control-print', conn: c.seq, text: a[0] });
      ok(c, m);
    },
  },
  quota: {
    pars: '[set <name> <val>|<domid>]',
    fn: (s, c, m, a) => {
      if (a.length === 0) return text(c, m, showQuota(s));
      if (a[0] === 'set') {
        if (a.length !== 3) einval();
        const v = atoi(a[2]);
        const q = QUOTA_NAMES.find((x) => x.name === a[1]);
        if (v < 1 || !q) einval();
        s.quota[q!.field] = v;
        return ok(c, m);
      }
      if (a.length !== 1) einval();
      const domid = atoi(a[0]) >>> 0;
      if (!s.isIntroduced(domid)) throw new XsFail('ENOENT');
      text(c, m, domainQuota(s, domid));
    },
  },
  'quota-soft': { pars: '[set <name> <val>]', fn: (s, c, m, a) => (a.length === 0 ? text(c, m, 'Quota settings:\n') : einval()) },
  help: {
    pars: '',
    fn: (s, c, m, a) => {
      if (a.length) einval();
      text(c, m, Object.entries(COMMANDS).map(([k, v]) => `${k}\t${v.pars}\n`).join(''));
    },
  },
};

export function handleControl(server: XenstoreCore, conn: ServerConnection, msg: XsMessage): void {
  const p = msg.payload;
  const nul = p.indexOf(0);
  if (nul < 0) einval();
  const cmd = COMMANDS[p.toString('utf8', 0, nul)];
  if (!cmd || !Object.prototype.hasOwnProperty.call(COMMANDS, p.toString('utf8', 0, nul))) einval();
  const n = countStrings(p);
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const e = p.indexOf(0, start);
    parts.push(p.toString('utf8', start, e));
    start = e + 1;
  }
  cmd.fn(server, conn, msg, parts.slice(1));
}
