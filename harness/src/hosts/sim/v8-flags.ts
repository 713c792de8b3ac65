// V8 flags for a process that runs the simulator (`winpv run` on the simulated host, in its own
// process or in its worker processes). Set with setFlagsFromString before the simulator's code is
// hot: V8 reads them at each optimising compile.
import { setFlagsFromString } from 'node:v8';

/** TurboFan inlines callees up to 100 bytes of bytecode instead of V8's default 460. The simulator
 *  is many small classes calling each other; with the default, each hot function was compiled with
 *  its callees' callees inlined, a deoptimisation in any of them threw the whole graph away, and a
 *  simulator process kept V8's compiler threads about as busy as its main thread (docs/performance.md,
 *  Simulator round 6: the catalogue, means of six interleaved runs, one worker 9.8 -> 8.9 s of CPU and
 *  6.6 -> 6.3 s wall, two worker processes on 2 cores 14.1 -> 12.5 s of CPU and 7.6 -> 7.0 s wall).
 *  The flag changes what is compiled, never what the code does: the trace of a seeded run is the same. */
export const SIM_V8_FLAGS: readonly string[] = ['--max-inlined-bytecode-size=100'];

/** Sets SIM_V8_FLAGS in this process. */
export function setSimV8Flags(): void {
  for (const f of SIM_V8_FLAGS) setFlagsFromString(f);
}
