/** `private` as a directive of its own, not `private="set-cookie"` (which leaves the rest cacheable). */
const PRIVATE_OR_NO_STORE = /(?:^|,)\s*(?:private|no-store)\s*(?:,|$)/i;

/**
 * True when `headers` already keep the response out of shared caches (`Cache-Control: private` or `no-store`),
 * so nothing needs to be appended (RFC 9111 §5.2.2.7, §5.2.2.5).
 */
export function isPrivate(headers: Headers): boolean {
  const cacheControl = headers.get('Cache-Control');
  return cacheControl !== null && PRIVATE_OR_NO_STORE.test(cacheControl);
}
