/** IDs are base64url, 22 (132 bits) to 128 characters. Checked before any store I/O. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** Characters of an ID that name its session's lineage: every ID a session moves to starts with them. */
export const LINEAGE = 22;

/** The session's lineage: the first 22 characters of its first ID, kept by every regenerate. */
export function lineageOf(id: string): string {
  return id.slice(0, LINEAGE);
}

/**
 * Whether two IDs are one session's (one moved to the other, maybe through others). A per-user store spares the
 * session `destroyByUser` is told to spare by this, not by equal IDs: that session may be moving to a new ID while
 * the store lists the user's sessions, and it is the session that is spared, whatever ID it has by then.
 */
export function sameSession(a: string, b: string): boolean {
  return lineageOf(a) === lineageOf(b);
}

/**
 * The ID a session moves to from `oldId`: its lineage, then `fresh` (a `generateId()` value), cut to fit 128
 * characters (at least 106 fresh ones stay). A store that cannot make destroy and regenerate one transaction
 * can then revoke the lineage, which ends the session under every ID it moves to, wherever the move is made.
 * The lineage is no secret (a fixation attacker who planted the old ID knows it); `fresh` is, so the new ID
 * stays unguessable.
 */
export function movedId(oldId: string, fresh: string): string {
  return (oldId.slice(0, LINEAGE) + fresh).slice(0, 128);
}

/** First and last three characters: enough to correlate log lines, useless as a credential. */
export function maskId(id: string): string {
  return id.length <= 8 ? '***' : `${id.slice(0, 3)}...${id.slice(-3)}`;
}
