// `winpv` in a process of its own, run from the sources as harness/bin/winpv runs the built command
// (tests fork it: two `winpv run`s at once are two processes, each with its own lease holder pid).
import { main } from '../../src/cli/main';

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => controller.abort(sig));
main(process.argv.slice(2), { signal: controller.signal }).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`winpv: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 3;
  },
);
