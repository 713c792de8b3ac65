// Captures the backend and frontend keys of a PV Linux guest's vbd and vif on the running lab into
// harness/test/fixtures/lab/backend-keys.json. Run by hand after `winpv lab up` (see the fixture's
// `captured.how`); the fidelity test compares the simulator's backends with it.
//   node -r ts-node/register/transpile-only harness/test/hosts/xl/capture-backend-keys.ts [lab-dir]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLabHost } from '../../../src/hosts/xl/index';
import type { XlHost } from '../../../src/hosts/xl/xl-host';
import { backendKeyWriter, captureTree, normalizeValue } from '../../../src/hosts/xl/backend-keys';

async function main(): Promise<void> {
  const env = process.argv[2] ? { ...process.env, WINPV_LAB_DIR: process.argv[2] } : process.env;
  const host = createLabHost(env) as XlHost;
  await host.open({ emit: () => undefined }, { seed: 0 });
  const g = await host.createGuest({ name: 'keys', os: 'linux', vcpus: 1, memoryMiB: 128, vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] }, 'capture');
  try {
    await host.startGuest(g);
    const devs = [['vbd', 51712], ['vif', 0]] as const;
    const be = (k: string, id: number) => `/local/domain/0/backend/${k}/${g.domid}/${id}`;
    const fe = (k: string, id: number) => `/local/domain/${g.domid}/device/${k}/${id}`;
    for (let i = 0; i < 120; i++) {
      const states = await Promise.all(devs.flatMap(([k, id]) => [host.xenstore.read(`${be(k, id)}/state`), host.xenstore.read(`${fe(k, id)}/state`)]));
      if (states.every((s) => s === '4')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const info = await host.xenstore.read('/local/domain/0/name');
    const out: Record<string, unknown> = {
      captured: {
        how: 'winpv lab up; node -r ts-node/register/transpile-only harness/test/hosts/xl/capture-backend-keys.ts: a PV guest (the lab kernel, busybox initramfs) with one 64 MiB vbd (xvda, file-backed via loop) and one vif on xenbr0, keys read once both ends of both devices were Connected (4)',
        xen: '4.17 (Debian xen-hypervisor-4.17-amd64), dom0 Linux 6.1 (Debian bookworm), oxenstored, 2 dom0 vCPUs',
        dom0Name: info,
        normalized: 'ids, grant refs, event channels, MACs and paths are replaced by <number>, <mac>, <path>, <major:minor>, <domid>',
      },
    };
    for (const [k, id] of devs) {
      const backend = await captureTree(host.xenstore, be(k, id));
      const frontend = await captureTree(host.xenstore, fe(k, id));
      out[k] = {
        backend: Object.fromEntries(Object.entries(backend).map(([key, v]) => [key, { value: normalizeValue(key, v), writer: backendKeyWriter(k, key) }])),
        frontend: Object.fromEntries(Object.entries(frontend).map(([key, v]) => [key, normalizeValue(key, v)])),
      };
    }
    const file = join(__dirname, '..', '..', 'fixtures', 'lab', 'backend-keys.json');
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${file}`);
  } finally {
    await host.destroyGuest(g);
    await host.close();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
