// Words for the "Your devices" list: a short device label from User-Agent, and times relative to now.

// First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari", Android also says "Linux",
// and an iPad says "like Mac OS X".
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\b(?:Chrome|HeadlessChrome|Chromium|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+ .*\bSafari\//, 'Safari'],
];
const SYSTEMS: [RegExp, string][] = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/** "Chrome on Linux", "Safari on iOS"; a client that is no browser by its first product name ("curl"). */
export function deviceLabel(userAgent: string | null): string {
  const ua = userAgent ?? '';
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (browser !== undefined) return system === undefined ? browser : `${browser} on ${system}`;
  const product = /^[\w.-]+/.exec(ua)?.[0];
  return product === undefined || product === 'Mozilla' ? (system ?? 'Unknown device') : product.slice(0, 40);
}

/** "just now", "5 minutes ago", "2 days ago"; for a time ahead, "in 30 days". */
export function timeInWords(at: number, now: number): string {
  const seconds = Math.floor(Math.abs(at - now) / 1000);
  if (seconds < 60) return at <= now ? 'just now' : 'in less than a minute';
  const [count, unit] =
    seconds < 3600
      ? [Math.floor(seconds / 60), 'minute']
      : seconds < 86400
        ? [Math.floor(seconds / 3600), 'hour']
        : [Math.floor(seconds / 86400), 'day'];
  const span = `${count} ${unit}${count === 1 ? '' : 's'}`;
  return at <= now ? `${span} ago` : `in ${span}`;
}
