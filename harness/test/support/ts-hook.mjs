// tap's test processes start with `--import=<this file>` (package.json "tap"."node-arg"): it
// installs the CommonJS hook that compiles `.ts` files (ts-require.cjs) and, because a process
// started with --import loads its main file through the ES module loader, a loader hook that
// hands `.ts` files to CommonJS.
import { createRequire, register } from 'node:module';

const here = import.meta.url;
createRequire(here)('./ts-require.cjs');
register('./ts-hook-load.mjs', here);

// tap passes this file relative to the repository; children forked from source (the simulator's
// workers) inherit execArgv and may start in another directory, so they get the absolute URL.
for (let i = 0; i < process.execArgv.length; i++) {
  const a = process.execArgv[i];
  if (a.startsWith('--import=') && a.endsWith('/ts-hook.mjs') && !a.startsWith('--import=file:')) process.execArgv[i] = `--import=${here}`;
}
