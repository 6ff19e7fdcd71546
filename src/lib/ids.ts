/** IDs are base64url, 22 (132 bits) to 128 characters. Checked before any store I/O. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** First and last three characters: enough to correlate log lines, useless as a credential. */
export function maskId(id: string): string {
  return id.length <= 8 ? '***' : `${id.slice(0, 3)}...${id.slice(-3)}`;
}
