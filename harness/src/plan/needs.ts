// What a run asks of each real host before the host gets work (the preflight of issue #16): the
// largest instance's guests' memory and disks, and the `iso:<name>` bundles the run installs from an
// ISO the host must already have. A host that cannot give one instance that is skipped with the
// reason rather than failing instance after instance.
import type { HostNeeds } from '../model/host';
import type { PlanInstance } from '../model/plan';
import { allSteps } from '../model/scenario';
import { builtinArtefact, type BuiltinArtefacts } from '../model/bundle';

const MiB = 2 ** 20;

/** Memory the instance's guests ask for together (also what a parallel run's memory budget holds back). */
export function guestMemoryBytes(inst: PlanInstance): number {
  return inst.scenario.guests.reduce((n, g) => n + g.memoryMiB * MiB, 0);
}

/** `artefacts`: the host's builtin artefacts, whose `iso:` ones the host must have too. */
export function hostNeedsOf(instances: readonly PlanInstance[], artefacts?: BuiltinArtefacts): HostNeeds {
  let memoryBytes = 0;
  let diskBytes = 0;
  const isos = new Set<string>();
  for (const inst of instances) {
    if (inst.skip) continue;
    const guests = inst.scenario.guests;
    memoryBytes = Math.max(memoryBytes, guestMemoryBytes(inst));
    diskBytes = Math.max(diskBytes, guests.reduce((n, g) => n + g.vbds.reduce((m, v) => m + v.sizeMiB * MiB, 0), 0));
    for (const st of allSteps(inst.scenario.steps)) {
      if (st.kind !== 'install-drivers') continue;
      const named = artefacts && builtinArtefact(st.bundle, artefacts);
      const bundle = named && 'artefact' in named ? named.artefact : st.bundle;
      if (bundle.startsWith('iso:')) isos.add(bundle.slice('iso:'.length));
    }
  }
  return { memoryBytes, diskBytes, isos: [...isos].sort() };
}
