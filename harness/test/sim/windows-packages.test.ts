// The simulator reads builtin:<version> as every driver version is read (model/version.ts): up to
// four parts, each at most 65535, a shorter spelling the same version with zeros after it.
import t from 'tap';
import { builtinPackages } from '../../src/sim/windows/packages';
import { loadSpecs } from '../../src/spec/load';

const specs = loadSpecs();

t.test('builtin versions: the one version type', async (t) => {
  const v = (text: string) => builtinPackages(specs, ['xenbus'], text)[0]!.version;
  t.equal(v('9.1.0.42'), '9.1.0.42', 'four parts as given');
  t.equal(v('9.1.0'), '9.1.0.0', 'three parts: the fourth is 0');
  t.equal(v('9.1'), '9.1.0.0', 'two parts are a driver version too (DriverVer 9.1 = 9.1.0.0)');
  t.equal(v('09.01.0'), '9.1.0.0', 'leading zeros: the same version');
  for (const bad of ['9.1.0.70000', '9.1.0.0.1', 'banana', '9.1.', '']) {
    t.throws(() => builtinPackages(specs, ['xenbus'], bad), { code: 'BUNDLE_VERSION', message: /up to four parts, each at most 65535/ }, `'${bad}' is refused`);
  }
});
