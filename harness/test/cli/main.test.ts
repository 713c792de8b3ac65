import t from 'tap';
import { captureIo as io } from '../support/cli-io';
import { main, reportError } from '../../src/cli/main';
import { inputError, WinpvError } from '../../src/model/errors';


t.test('top-level help, version and unknown commands', async (t) => {
  const a = io();
  t.equal(await main(['--help'], a), 0);
  t.match(a.text().out, /usage: winpv <command>/);
  t.match(a.text().out, /exit status: 0 all passed, 1 a test failed, 2 bad input or usage, 3 host or infrastructure error/);
  const b = io();
  t.equal(await main([], b), 2, 'no command is a usage error');
  const c = io();
  t.equal(await main(['--version'], c), 0);
  t.match(c.text().out, /^winpv \d+\.\d+\.\d+/);
  const d = io();
  t.equal(await main(['frobnicate'], d), 2);
  t.match(d.text().err, /unknown command 'frobnicate'/);
});

t.test('every command answers --help with exit 0', async (t) => {
  for (const cmd of ['run', 'check', 'report', 'spec', 'xenstored', 'abi', 'lab', 'xapi', 'doctor', 'lease', 'build', 'package']) {
    const x = io();
    t.equal(await main([cmd, '--help'], x), 0, `${cmd} --help`);
    t.match(x.text().out, new RegExp(`usage: winpv ${cmd}`), `${cmd} prints its usage`);
  }
});

t.test('bad input prints located problems and no stack trace; --verbose shows it', async (t) => {
  const e = inputError('SPEC_INVALID', 'the spec has 1 problem', [{ location: { file: 'x.xml', line: 3, column: 5, path: '/driver/key[2]' }, message: 'bad', rule: 'xsd' }]);
  const a = io();
  t.equal(reportError(e, a.err, false), 2);
  t.equal(a.text().err, 'winpv: the spec has 1 problem\n  x.xml:3:5 /driver/key[2]: bad [xsd]\n');
  const b = io();
  reportError(e, b.err, true);
  t.match(b.text().err, /at /, 'stack with --verbose');
  const c = io();
  t.equal(reportError(new WinpvError('host', 'SSH_DROPPED', 'gone'), c.err, false), 3);
  const d = io();
  t.equal(reportError(new TypeError('boom'), d.err, false), 3);
  t.match(d.text().err, /internal error: boom\nrun again with --verbose/);
});
