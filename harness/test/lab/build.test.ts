import t from 'tap';
import { imageKey, parseAptPolicy } from '../../src/lab/build';
import { BUILD_SCRIPT, DOM0_FILES, GUEST_INIT } from '../../src/lab/recipe';

t.test('apt-cache policy candidates; (none) is no candidate', async (t) => {
  const text = 'xen-utils-4.17:\n  Installed: (none)\n  Candidate: 4.17.7+13\n  Version table:\nqemu-system-xen:\n  Installed: (none)\n  Candidate: (none)\n';
  t.same(parseAptPolicy(text), { 'xen-utils-4.17': '4.17.7+13' });
});

t.test('the image key changes with any keyed package version', async (t) => {
  const v = { 'xen-hypervisor-4.17-amd64': '4.17.7', 'linux-image-amd64': '6.1.1' };
  t.equal(imageKey(v), imageKey({ ...v }));
  t.not(imageKey(v), imageKey({ ...v, 'linux-image-amd64': '6.1.2' }));
  t.match(imageKey(v), /^[0-9a-f]{16}$/);
});

t.test('the recipe names no mirror host and no path of a build machine', async (t) => {
  for (const text of [BUILD_SCRIPT, GUEST_INIT, JSON.stringify(DOM0_FILES)]) {
    t.notMatch(text, /deb\.debian\.org|ftp\.[a-z.]+debian|https?:\/\//);
    t.notMatch(text, /\/work\//);
  }
});

t.test('the build script is valid bash', async (t) => {
  const r = require('node:child_process').spawnSync('bash', ['-n', '-c', BUILD_SCRIPT]);
  t.equal(r.status, 0, String(r.stderr));
});
