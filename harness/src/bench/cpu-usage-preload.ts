// Preloaded (`node --require`) into a benchmarked child process: at exit it writes the process's
// own CPU time ({ user, system } in microseconds, process.cpuUsage: every thread of the process) to
// $WINPV_BENCH_CPU_FILE, and on Linux the main thread's alone (`mainThread`, from
// /proc/self/task/<pid>/stat), which work moved to another thread (the results store's) leaves.
// CPU seconds move far less than wall seconds when other jobs share the machine, so the bench reports
// both (a wall-time ratio on a loaded 2-core machine says more about the neighbours than the code).
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.WINPV_BENCH_CPU_FILE;
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify({ ...process.cpuUsage(), ...mainThread() })));

/** utime and stime of the main thread in microseconds (clock ticks of 10 ms, USER_HZ on Linux). */
function mainThread(): { mainThread?: { user: number; system: number } } {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return { mainThread: { user: Number(f[11]) * 10_000, system: Number(f[12]) * 10_000 } };
  } catch {
    return {};
  }
}
