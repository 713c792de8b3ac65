import t from 'tap';
import { compareVersions, normaliseVersion, parseVersion, sameVersion } from '../../src/model/version';

t.test('driver versions have four 16-bit parts; shorter spellings end in zeros', async (t) => {
  t.same(parseVersion('9.1.0.42'), [9, 1, 0, 42]);
  t.same(parseVersion('9.1'), [9, 1, 0, 0]);
  t.equal(normaliseVersion('9.01.0'), '9.1.0.0');
  t.equal(parseVersion('9.1.0.65536'), undefined, 'a part above 65535 does not fit the packed u64');
  t.equal(parseVersion('9.1.0.0.1'), undefined, 'five parts');
  t.equal(parseVersion('9.1.x'), undefined);
  t.equal(parseVersion(''), undefined);
});

t.test('comparison is part by part, not as text', async (t) => {
  t.ok(compareVersions('9.1.0.10', '9.1.0.9') > 0, 'build 10 is newer than build 9 (a text comparison says otherwise)');
  t.ok(compareVersions('9.1.0', '9.1.0.1') < 0);
  t.ok(compareVersions('10.0.0.0', '9.9.9.9') > 0);
  t.equal(compareVersions('9.1.0', '9.1.0.0'), 0);
  t.ok(sameVersion('9.1.0', '9.1.0.0'));
  t.notOk(sameVersion('9.1.0.1', '9.1.0.0'));
  t.notOk(sameVersion('garbage', '9.1.0.0'));
});
