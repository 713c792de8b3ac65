// A small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence. Shared by the
// xenstore fuzzer and the results store's bootstrap, so seeded runs and verdicts repeat exactly.
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
