// A simulator worker process (forked by cli/sim-workers.ts): runs the instances it is sent, each on
// a fresh simulated host, streaming the trace events back in batches of JSON lines (each event
// turned into JSON once, here).
import { createHost } from '../hosts/factory';
import { HostWorker } from '../runner/pool';
import { errorInfo } from '../runner/errors';
import type { ResolvedHost } from '../model/config';
import type { FromChild, SimWorkerInit, ToChild } from './sim-workers';

const BATCH = 512;
const SIM: ResolvedHost = { name: 'sim', kind: 'sim', label: 'sim', insecure: false, capacity: 1, labels: [], entry: { url: 'sim' } };

let worker: HostWorker | undefined;
let abort = new AbortController();
let pending: string[] = [];
const send = (m: FromChild) => process.send?.(m);
const flush = () => {
  if (pending.length) send({ t: 'events', lines: pending.join('\n') });
  pending = [];
};

function setup(init: SimWorkerInit): HostWorker {
  const specs = init.specs;
  return new HostWorker({
    label: 'sim', slots: 1, fresh: true, seed: init.seed, specs, runStart: init.runStart, retries: init.retries, teardownMs: init.teardownMs,
    ...(init.artifactsDir !== undefined ? { artifactsDir: init.artifactsDir } : {}),
    make: () => createHost(SIM, { specs, ...(init.simBuilds ? { simBuilds: init.simBuilds } : {}) }),
    onEvent: (e) => {
      pending.push(JSON.stringify(e));
      if (pending.length >= BATCH) flush();
    },
  });
}
process.on('message', (m: ToChild) => {
  if (m.t === 'init') worker = setup(m.init);
  else if (m.t === 'abort') abort.abort();
  else if (m.t === 'close') process.disconnect();
  else if (m.t === 'run') {
    abort = new AbortController();
    // the events go to the parent as they are written (onEvent above); the section keeps none here
    worker!.run(m.inst, abort.signal, (s) => send({ t: 'status', s }), () => undefined).then(
      (r) => {
        flush();
        send({ t: 'done', attempts: r.attempts, outcome: r.outcome });
      },
      (e) => {
        flush();
        const { code, message } = errorInfo(e);
        send({ t: 'failed', code, message });
      },
    );
  }
});
// the parent going away (a killed run) ends the worker
process.on('disconnect', () => process.exit(0));
