// Replaces one export of a Node built-in module for the rest of a test, restored at its teardown.
// The harness's compiled modules read a built-in's named imports from the module object at each
// call (CommonJS: `_worker_threads.Worker`), so code under test sees the replacement without being
// loaded again; this is how tests watch or break the processes and threads a command starts
// (tap's mock plugin, which reloaded the module under test instead, is off: its loader hooks cost
// every test process about 0.6 s of CPU, docs/performance.md "Round 10").
import type { Test } from 'tap';

/** Returns the export it replaced, for a replacement that wraps it. */
export function patchBuiltin<M extends object, K extends keyof M>(t: Test, id: string, name: K, replacement: M[K]): M[K] {
  // the module object itself: an `import *` of a built-in is a copy of it
  const mod = require(id) as M;
  const real = mod[name];
  mod[name] = replacement;
  t.teardown(() => {
    mod[name] = real;
  });
  return real;
}
