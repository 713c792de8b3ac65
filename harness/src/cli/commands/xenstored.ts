// winpv xenstored: serves winpv's xenstore on a unix socket, in the foreground, until SIGTERM/SIGINT.
import { createWriteStream, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { parseCommandArgs, type Command } from '../command';
import { xenstoredSocketPath } from '../config';
import { infraError, usageError } from '../../model/errors';
import { XenstoreServer } from '../../xenstore/server';
import { warmUp } from '../../xenstore/warmup';

const help = `usage: winpv xenstored --socket PATH [--trace FILE] [--warmup ROUNDS]

Runs winpv's xenstored (wire-compatible with Xen's xs_wire.h protocol) on a unix socket until
SIGTERM or SIGINT. Every socket client is dom0, as with Xen's own daemon.

options:
  --socket PATH   the unix socket to listen on (default: $XENSTORED_PATH); a stale file is replaced
  --trace FILE    append one JSON line per request, reply, watch event and connection to FILE
  --warmup ROUNDS before listening, serve ROUNDS rounds of a typical request mix (about 14 requests
                  each) on a throwaway store over a private socket, so V8 has compiled the request
                  path before the first client (default 1000; 0: none)

Xen's tools and libraries find the daemon through XENSTORED_PATH:
  winpv xenstored --socket /tmp/xs.sock &
  XENSTORED_PATH=/tmp/xs.sock xenstore-write /local/domain/0/name dom0
  XENSTORED_PATH=/tmp/xs.sock xenstore-ls /
`;

const command: Command = {
  name: 'xenstored',
  summary: "serve winpv's xenstore on a unix socket",
  help,
  async run(ctx) {
    const args = parseCommandArgs(ctx, this, { socket: { type: 'string' }, trace: { type: 'string' }, warmup: { type: 'string' } });
    if (!args) return 0;
    const socketPath = xenstoredSocketPath(args.values.socket, ctx.env);
    if (!socketPath) throw usageError(`winpv xenstored: --socket PATH is required (or set XENSTORED_PATH)\n\n${help}`);
    let trace: WriteStream | undefined;
    if (args.values.trace) {
      trace = createWriteStream(resolve(ctx.cwd, args.values.trace), { flags: 'a' });
      await new Promise<void>((ok, fail) => {
        trace!.once('open', () => ok());
        trace!.once('error', (e) => fail(infraError('TRACE_OPEN', `cannot open trace file ${args.values.trace}: ${e.message}`, e)));
      });
    }
    const rounds = args.values.warmup === undefined ? 1000 : Number(args.values.warmup);
    if (!Number.isInteger(rounds) || rounds < 0) throw usageError(`winpv xenstored: --warmup needs a whole number of rounds (0 or more), not ${args.values.warmup}`);
    if (rounds > 0) {
      // A failed warm-up costs only the first clients' latency: said, never fatal.
      try {
        const w = await warmUp(rounds);
        ctx.err.write(`winpv xenstored: warmed up (${w.requests} requests on a throwaway store in ${w.ms} ms)\n`);
      } catch (e) {
        ctx.err.write(`winpv xenstored: warm-up skipped: ${(e as Error).message}\n`);
      }
    }
    const started = Date.now();
    const server = new XenstoreServer({
      trace: trace ? (line) => trace!.write(JSON.stringify({ t: Date.now() - started, ...line }) + '\n') : undefined,
    });
    const path = resolve(ctx.cwd, socketPath);
    let net;
    try {
      net = await server.listen(path);
    } catch (e) {
      throw infraError('XENSTORED_LISTEN', `cannot listen on ${path}: ${(e as Error).message}`, e);
    }
    ctx.err.write(`winpv xenstored: listening on ${path} (XENSTORED_PATH=${path})\n`);
    if (!ctx.signal.aborted) await new Promise<void>((done) => ctx.signal.addEventListener('abort', () => done(), { once: true }));
    for (const c of server.connections()) c.close('daemon stopping');
    await new Promise<void>((done) => net.close(() => done()));
    if (trace) await new Promise<void>((done) => trace!.end(() => done()));
    ctx.err.write('winpv xenstored: stopped\n');
    return 0;
  },
};
export default command;
