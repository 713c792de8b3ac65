// Why the slowest test files are slow (issue 20 goal 3), kept beside test-times.ts, which prints the
// reason of each of the slowest ten. Measured with a timer census (each setTimeout's site and real
// wait), the run's own trace (step and set-up times) and CPU time against wall time: a file whose
// CPU time is near its wall time is slow by work, one far below by waiting. Update a line when a
// file's cost changes; a slow file with no line here is printed with its slowest subtests only.
export const SLOW_TEST_REASONS: Readonly<Record<string, string>> = {
  'harness/test/hosts/xapi/run.test.ts': 'the whole catalogue (20 scenarios, 25 driver installs, ~70 guest boots) on the XenAPI double pool over TLS and SSH: latency, not work (the catalogue 116 s wall, 12.6 s CPU; no single wait over 0.45 s): ~1,950 XML-RPC calls and 72 SSH connections one after another, the doubles\' xapi latencies (25 ms per Async task), its sleep steps (~22 s of real time)',
  'harness/test/hosts/xapi/run-guest.test.ts': 'seven pool runs, each on a fresh pool (TLS XenAPI server, dom0 and Windows doubles over SSH); crash scenarios sleep 3 s of real time each',
  'harness/test/hosts/xapi/cli.test.ts': '`winpv run --host` end to end on the pool, six times, each with its own pool and reports',
  'harness/test/hosts/xapi/driver-lifecycle.test.ts': 'eight pool set-ups, each with a driver install and its reboots (guest found again through dom0 each boot)',
  'harness/test/hosts/xapi/guest-agent.test.ts': 'the guest-agent-after-migration scenario on a two-host pool: installs, a migration, real-time waits for the agent',
  'harness/test/hosts/xapi/iso-disc.test.ts': 'each case writes a bundle ISO with xorriso, uploads it (PUT /import_raw_vdi) and the double reads it back with xorriso',
  'harness/test/hosts/xapi/two-runs.test.ts': 'two whole `winpv run` processes (each loads the CLI from source, compiled by swc) queued on one pool lease: the second waits for the first by design',
  'harness/test/hosts/xapi/discovery.test.ts': 'guest discovery cases that end in XAPI_GUEST_NOT_FOUND wait out their (shortened) boot deadline',
  'harness/test/hosts/xapi/vendor-packages.test.ts': 'another vendor\'s tools installed on the pool double, its uninstall and two planted failures: five pool set-ups, each with installs and reboots over TLS and SSH (latency, like run.test.ts)',
  'harness/test/cli/streamed-run.test.ts': 'two synthetic runs (300 instances of 700 ring samples, 3,000 of 150) shaped by sections and compared with the page and the record built from every event: the thinning rules need that many tracks',
  'harness/test/report/html-digest.test.ts': 'the same two synthetic runs (600 instances of 700 samples, 3,000 of 150) digested as they stream and compared with the page of the whole trace',
  'harness/test/results/cli.test.ts': 'about ten `winpv` commands, each opening the PGlite store (WASM PostgreSQL: initdb on a fresh store ~6 s CPU, start-up per open); each `winpv run` forks a simulator worker that loads the simulator from source (1 s with swc; 22 s of the first run\'s 28 s when TypeScript compiled it)',
  'harness/test/results/thread-store.test.ts': 'PGlite started in a worker thread per case (WASM start-up each time), including a thread made to hang until its deadline',
  'harness/test/results/run-store-thread.test.ts': 'simulator runs recording through PGlite in a worker thread, then `winpv results import` opening the store again',
  'harness/test/checks/regression.test.ts': 'end to end: a PGlite store filled with a history of runs, then `winpv run` reading the baselines from it (each run forks a simulator worker, which loads the simulator from source)',
  'harness/test/runner/stream.test.ts': 'a 2,000-instance simulator run (the point of the test: what a long run holds), measured with forced garbage collections',
  'harness/test/cli/workers.test.ts': '`winpv run --workers N`: simulator worker processes, each loading the harness from source (compiled by swc)',
  'harness/test/cli/repeat-each.test.ts': 'simulator runs of whole scenarios N times each, with the results store',
  'harness/test/scenario/catalogue.test.ts': 'the whole default catalogue on the simulator (the README\'s first command)',
  'harness/test/report/browser.test.ts': 'Debian\'s chromium started through playwright-core, report pages loaded and driven',
};

/** The reason for a file named as tap names it (a path from the repository root, or under it). */
export function slowReason(file: string): string | undefined {
  const norm = file.split('\\').join('/');
  const hit = Object.keys(SLOW_TEST_REASONS).find((k) => norm === k || norm.endsWith(`/${k}`) || k.endsWith(`/${norm}`));
  return hit === undefined ? undefined : SLOW_TEST_REASONS[hit];
}
