export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function shuffle(xs) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** V8's sampling heap profiler (HeapProfiler.startSampling over the inspector protocol) with the objects every
 * collection freed kept in the profile: its total is an unbiased estimate of the JS heap bytes allocated while it
 * ran (each sampled allocation is scaled by the inverse of its chance of being sampled). V8 samples on average once
 * every `samplingInterval` bytes: a smaller interval is closer but slows the profiled code down more. */
export const SAMPLING = {
  samplingInterval: 512,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
};
/** The bytes a HeapProfiler.stopSampling profile accounts for (the sum of its nodes' scaled self sizes). */
export function profileBytes(profile) {
  let total = 0;
  const stack = [profile.head];
  while (stack.length > 0) {
    const node = stack.pop();
    total += node.selfSize;
    stack.push(...node.children);
  }
  return total;
}
