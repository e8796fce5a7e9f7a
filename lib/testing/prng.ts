// A small seeded generator for the crash simulator: the same seed gives the same image on
// every machine and Node version (Math.random cannot be seeded).

/** Returns a function giving uniformly distributed 32-bit unsigned integers. */
export function seededRandom(seed: number): () => number {
  // Fold a safe integer (up to 53 bits) into 32 bits of state, so seeds past 2^32 differ too.
  const high = Math.floor(seed / 0x1_0000_0000);
  let state = ((seed >>> 0) ^ Math.imul(high | 0, 0x9e3779b1)) >>> 0;
  return () => {
    // A Weyl sequence step, then an xorshift-multiply finaliser over it.
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
}
