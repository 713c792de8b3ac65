// The xenbus-transitions check (harness/src/checks/xenbus-transitions.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';
import { evaluate } from '../../src/checks/evaluate';
import { loadSpecs } from '../../src/spec';
import { shippedDir } from '../spec/mutate';

t.test('xenbus-transitions', async (t) => {
  t.equal(judge(new TraceBuilder().connectVbd().end(), 'xenbus-transitions').verdict, 'pass');
  const skip = new TraceBuilder().back('state', '2').front('state', '1').front('state', '4').end();
  const r = judge(skip, 'xenbus-transitions');
  t.equal(r.verdict, 'fail');
  t.match(r.message, /Initialising -> Connected is not allowed/);
  t.equal(r.diagnostics?.path, '/local/domain/1/device/vbd/51712/state');
  const early = new TraceBuilder().back('state', '1').front('state', '1').front('state', '3').back('state', '2').end();
  t.match(judge(early, 'xenbus-transitions').message, /while the backend was Initialising/);
  t.match(judge(new TraceBuilder().front('state', 'banana').end(), 'xenbus-transitions').message, /not a XenbusState/);
});

t.test('xenbus-transitions on values read late: a batch is judged as one moment, its own faults still fail', async (t) => {
  // The frontend's Initialised and the backend's InitWait, read by a dom0 watch reader that was
  // descheduled: the frontend's event came first, but by the time it was read the backend had
  // moved too. One value at a time, the frontend left Initialising before its backend waited for
  // it; read as one batch (both values as of one moment), the order is not known and not judged.
  const early = (batch: number | undefined) => new TraceBuilder().back('state', '1').front('state', '1').batch(batch).front('state', '3').back('state', '2').batch(undefined).end();
  const unbatched = judge(early(undefined), 'xenbus-transitions');
  t.equal(unbatched.verdict, 'fail', 'in order, one at a time');
  t.match(unbatched.message, /went Initialising -> Initialised while the backend was Initialising/);
  t.equal(judge(early(7), 'xenbus-transitions').verdict, 'pass', 'one batch: both moved before the read');
  // a frontend that really leaves Initialising early: in its batch the backend is still Initialising
  const fault = judge(new TraceBuilder().back('state', '1').front('state', '1').batch(8).front('state', '3').front('ring-ref', '8').batch(undefined).back('state', '2').end(), 'xenbus-transitions');
  t.equal(fault.verdict, 'fail', 'the fault is still seen in a batch');
  t.match(fault.message, /while the backend was Initialising/);
  // the batch ends where its mark ends: a later backend change is not part of it
  const after = new TraceBuilder().back('state', '1').front('state', '1').batch(9).front('state', '3').batch(undefined).back('state', '2').end();
  t.equal(judge(after, 'xenbus-transitions').verdict, 'fail', 'a change after the batch does not excuse one in it');
});

t.test('xenbus-transitions with the shipped xenvbd spec: the lab\'s block-detach read late', async (t) => {
  // blkback and blkfront on a detach: backend Closing, frontend Closing then Closed, backend
  // Closed. The lab's dom0 reader, descheduled under TCG, read the backend's first change only
  // after all four (a run on 0134245, seq 2092): one value at a time that is the backend leaving
  // a Connected frontend; read as one batch, both ends were Closed together.
  const specs = loadSpecs(shippedDir);
  const verdict = (events: ReturnType<TraceBuilder['end']>) => evaluate(events, specs)[0]!.checks.find((c) => c.check === 'xenbus-transitions')!;
  const connected = () => new TraceBuilder().back('state', '1').front('state', '1').back('state', '2').front('state', '3').back('state', '4').front('state', '4');
  const one = verdict(connected().back('state', '6').front('state', '6').end());
  t.equal(one.verdict, 'fail');
  t.match(one.message, /backend vbd\/51712: Connected -> Closed while the frontend was Connected/);
  t.equal(verdict(connected().batch(3).back('state', '6').front('state', '6').batch(undefined).end()).verdict, 'pass');
  const surprise = verdict(connected().batch(4).back('state', '6').batch(undefined).front('state', '6').end());
  t.equal(surprise.verdict, 'fail', 'a backend Closed under a Connected frontend in its own batch');
});
