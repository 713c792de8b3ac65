// Output streams for driving the `winpv` entry point in-process, and what was written to them.
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main';
import type { CommandContext } from '../../src/cli/command';

export function captureIo() {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (b) => (o += b));
  err.on('data', (b) => (e += b));
  return { out, err, text: () => ({ out: o, err: e }) };
}

/** Runs `winpv argv...` in-process; returns the exit code and the output. */
export async function runWinpv(argv: string[], ctx: Partial<CommandContext> = {}) {
  const io = captureIo();
  const code = await main(argv, { out: io.out, err: io.err, ...ctx });
  return { code, ...io.text() };
}
