// Builds a C program from the ABI table that prints, for every entry, the number the real Xen
// headers give (sizeof, offsetof, __RING_SIZE, the constant), so a test can compare them one by one.
import type { AbiTable } from '../../src/abi/table';

export function cProgram(t: AbiTable): string {
  const lines = [
    '#include <stdio.h>',
    '#include <stddef.h>',
    '#include <stdlib.h>',
    '#include <stdint.h>',
    '#include <xen/io/blkif.h>',
    '#include <xen/io/netif.h>',
    '#include <xen/grant_table.h>',
    '#include <xen/io/xs_wire.h>',
    'int main(void) {',
  ];
  for (const [key, s] of Object.entries(t.structs)) {
    lines.push(`  printf("struct.${key}.size %ld\\n", (long)sizeof(${s.ctype}));`);
    for (const f of Object.keys(s.fields)) {
      lines.push(`  printf("struct.${key}.${f}.offset %ld\\n", (long)offsetof(${s.ctype}, ${f}));`);
      lines.push(`  printf("struct.${key}.${f}.size %ld\\n", (long)sizeof(((${s.ctype} *)0)->${f}));`);
    }
  }
  for (const [key, r] of Object.entries(t.rings)) {
    lines.push(`  printf("ring.${key}.entrySize %ld\\n", (long)sizeof(union ${r.name}_sring_entry));`);
    for (const order of Object.keys(r.entriesPerOrder)) {
      lines.push(`  { size_t sz = (size_t)4096 << ${order}; struct ${r.name}_sring *s = malloc(sz);`);
      lines.push(`    printf("ring.${key}.${order} %ld\\n", (long)__RING_SIZE(s, sz)); free(s); }`);
    }
  }
  for (const key of Object.keys(t.constants)) lines.push(`  printf("const.${key} %ld\\n", (long)(${key}));`);
  lines.push('  return 0;', '}');
  return lines.join('\n') + '\n';
}

/** The same keys and numbers from the TypeScript side. */
export function tableNumbers(t: AbiTable): Map<string, number> {
  const m = new Map<string, number>();
  for (const [key, s] of Object.entries(t.structs)) {
    m.set(`struct.${key}.size`, s.size);
    for (const [f, l] of Object.entries(s.fields)) {
      m.set(`struct.${key}.${f}.offset`, l.offset);
      m.set(`struct.${key}.${f}.size`, l.size);
    }
  }
  for (const [key, r] of Object.entries(t.rings)) {
    m.set(`ring.${key}.entrySize`, r.entrySize);
    for (const [o, n] of Object.entries(r.entriesPerOrder)) m.set(`ring.${key}.${o}`, n);
  }
  for (const [key, c] of Object.entries(t.constants)) m.set(`const.${key}`, c.value);
  return m;
}

export function parseProbeOutput(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

/** Every disagreement between the table and the compiled headers. */
export function compareNumbers(ours: Map<string, number>, theirs: Map<string, number>): string[] {
  const diffs: string[] = [];
  for (const [k, v] of ours) {
    const c = theirs.get(k);
    if (c === undefined) diffs.push(`${k}: missing from the C output`);
    else if (c !== v) diffs.push(`${k}: winpv abi says ${v}, the headers say ${c}`);
  }
  return diffs;
}
