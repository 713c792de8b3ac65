// Preloaded (`node --require`) into a benchmarked child process: at exit it writes the process's
// own CPU time ({ user, system } in microseconds, process.cpuUsage) to $WINPV_BENCH_CPU_FILE. CPU
// seconds move far less than wall seconds when other jobs share the machine, so the bench reports
// both (a wall-time ratio on a loaded 2-core machine says more about the neighbours than the code).
import { writeFileSync } from 'node:fs';

const file = process.env.WINPV_BENCH_CPU_FILE;
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify(process.cpuUsage())));
