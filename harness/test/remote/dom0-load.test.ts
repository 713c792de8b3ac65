// dom0's load before a host gets work: /proc/loadavg and getconf read through a dom0 command, and the
// limit per CPU above which the host is left out (the overloaded case must be named, the rest pass).
import t from 'tap';
import { DOM0_LOAD_PER_CPU_LIMIT, dom0Load, dom0LoadProblem } from '../../src/remote/dom0-load';

const dom0 = (loadavg: string, cpus: string, code = 0) => async (argv: string[]) =>
  argv[0] === 'cat' ? { code, stdout: loadavg } : { code, stdout: cpus };

t.test('an overloaded dom0 is named with what was seen; a busy but not overloaded one passes', async (t) => {
  const busy = await dom0Load(dom0('30.00 12.00 6.00 3/412 31337\n', '4\n'));
  t.same(busy, { load1: 30, cpus: 4, perCpu: 7.5 });
  t.equal(dom0LoadProblem('dom0 of lab', busy), `dom0 of lab: load average 30 on 4 CPUs (7.5 per CPU, the limit is ${DOM0_LOAD_PER_CPU_LIMIT})`);
  const fine = await dom0Load(dom0(`${DOM0_LOAD_PER_CPU_LIMIT * 4} 1 1 1/100 7\n`, '4\n'));
  t.equal(dom0LoadProblem('dom0 of lab', fine), undefined, 'exactly at the limit passes');
});

t.test('a dom0 that does not say is not judged (no reason invented)', async (t) => {
  t.equal(await dom0Load(dom0('', '', 1)), undefined, 'commands failed');
  t.equal(await dom0Load(dom0('garbage\n', '0\n')), undefined, 'unreadable answers');
  t.equal(dom0LoadProblem('dom0', undefined), undefined);
});
