/**
 * A deterministic generator of fractions in [0, 1) from a 32-bit seed (mulberry32, public
 * domain): the chaos tests draw their kill moments from it, so a failing run is replayed by
 * its printed seed.
 */
export function seededFractions(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
