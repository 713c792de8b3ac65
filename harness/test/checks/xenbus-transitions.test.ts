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

t.test('xenbus-transitions on values read late: the order of the writes decides, what it cannot tell is not judged', async (t) => {
  // The frontend's Initialised and the backend's InitWait read late in one batch (a dom0 watch
  // reader that was descheduled). The batch's order of writes says which came first.
  const base = () => new TraceBuilder().back('state', '1').front('state', '1');
  const inOrder = base().late(7, 1).back('state', '2').late(7, 2).front('state', '3').end();
  t.equal(judge(inOrder, 'xenbus-transitions').verdict, 'pass', 'backend InitWait written first: in order');
  const early = judge(base().late(8, 1).front('state', '3').late(8, 2).back('state', '2').end(), 'xenbus-transitions');
  t.equal(early.verdict, 'fail', 'frontend Initialised written first: caught although both were read together');
  t.match(early.message, /went Initialising -> Initialised while the backend was Initialising/);
  // the backend written before and after the frontend's write: where it was then is not known
  // (a batch's events come in the order of their last write: the frontend's, at 2, before the backend's, at 3)
  const around = base().late(9, 2).front('state', '3').late(9, 1, 3).back('state', '2').end();
  t.equal(judge(around, 'xenbus-transitions').verdict, 'pass', 'not judged when the order cannot tell');
  // a frontend written twice in the batch (Initialised, Connected): only the path is judged
  t.equal(judge(base().back('state', '2').late(10, 1).back('state', '4').late(10, 2, 3).front('state', '4').end(), 'xenbus-transitions').verdict, 'pass', 'Initialising -> (Initialised) -> Connected');
  // a device made in the batch (the lab, under TCG): the toolstack writes the frontend's Initialising
  // (1) and the backend's (2), the backend goes InitWait (3), the driver writes Initialised (4); read
  // late, the frontend's state is one change 1..4 and the backend's 2..3 inside it
  const made = new TraceBuilder().late(12, 2, 3).back('state', '2').late(12, 1, 4).front('state', '3').end();
  t.equal(judge(made, 'xenbus-transitions').verdict, 'pass', 'where the frontend left Initialising is not known: not judged');
  const beforeBackend = judge(new TraceBuilder().late(13, 1, 2).front('state', '3').late(13, 3).back('state', '2').end(), 'xenbus-transitions');
  t.equal(beforeBackend.verdict, 'fail', 'all the frontend\'s writes before the backend\'s first: caught');
  t.match(beforeBackend.message, /went Initialising -> Initialised while the backend was absent/);
  const impossible = judge(new TraceBuilder().connectVbd().late(11, 1, 2).front('state', '2').end(), 'xenbus-transitions');
  t.equal(impossible.verdict, 'fail', 'Connected -> ... -> InitWait: no path of allowed transitions for a frontend');
  t.match(impossible.message, /Connected -> InitWait \(written more than once, read late as one change\) is not reachable/);
});

t.test('xenbus-transitions with the shipped xenvbd spec: the lab\'s block-detach read late', async (t) => {
  // blkback and blkfront on a detach: backend Closing (write 1), frontend Closing (2) then Closed
  // (3), backend Closed (4). The lab's dom0 reader, descheduled under TCG, read the backend's first
  // change only after all four (a run on 0134245, seq 2092): one value at a time, in the order the
  // events came, that is the backend leaving a Connected frontend. Read as one batch with the order
  // of the writes: each end's Closing was unseen, both paths are allowed.
  const specs = loadSpecs(shippedDir);
  const verdict = (events: ReturnType<TraceBuilder['end']>) => evaluate(events, specs)[0]!.checks.find((c) => c.check === 'xenbus-transitions')!;
  const connected = () => new TraceBuilder().back('state', '1').front('state', '1').back('state', '2').front('state', '3').back('state', '4').front('state', '4');
  const one = verdict(connected().back('state', '6').front('state', '6').end());
  t.equal(one.verdict, 'fail');
  t.match(one.message, /backend vbd\/51712: Connected -> Closed while the frontend was Connected/);
  t.equal(verdict(connected().late(3, 2, 3).front('state', '6').late(3, 1, 4).back('state', '6').end()).verdict, 'pass');
  // a backend that really closes under a connected frontend, read late: its one write came first
  const surprise = verdict(connected().late(4, 1).back('state', '6').late(4, 2).front('state', '6').end());
  t.equal(surprise.verdict, 'fail', 'a backend Closed under a Connected frontend, seen in the order of the writes');
  t.match(surprise.message, /Connected -> Closed while the frontend was Connected/);
});
