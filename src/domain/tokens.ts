// Token revocation: which tokens may no longer be used, and why. Pure rules; the store that keeps
// revocations in the database and the plugin that syncs them and closes sockets live in plugins/.

/** A token as revocation sees it. */
export interface TokenIdentity {
  userId: number
  jti: string
  /** When the token was issued, in milliseconds since the epoch. */
  issuedAt: number
}

/**
 * One stored revocation: a single token (`jti` set), or every token of the user issued before
 * `issuedBefore` except `exceptJti` (`issuedBefore` set). Times are milliseconds since the epoch.
 */
export interface Revocation {
  id: number
  userId: number
  jti: string | null
  issuedBefore: number | null
  exceptJti: string | null
  /** After this, every token the revocation refuses has expired anyway, so it can be forgotten. */
  expiresAt: number
}

export type NewRevocation = Omit<Revocation, 'id'>

/** Where revocations are kept so that they survive a restart and reach every process. */
export interface TokenRevocationStore {
  /**
   * Stores a revocation and resolves its id once it is committed; a second revocation of the same
   * `jti` is ignored and resolves undefined.
   */
  insert(revocation: NewRevocation, now: number): Promise<number | undefined>
  /** The revocations with an id above `afterId`, in id order. */
  after(afterId: number): Promise<Revocation[]>
  /** Every revocation that has not expired at `now`. */
  active(now: number): Promise<Revocation[]>
  /** Deletes the revocations that expired before `now`; resolves how many went. */
  prune(now: number): Promise<number>
}

/** Logout: the token itself, until it would have expired. */
export function revokeOne(token: TokenIdentity, expiresAt: number): NewRevocation {
  return { userId: token.userId, jti: token.jti, issuedBefore: null, exceptJti: null, expiresAt }
}

/**
 * A password change: every token of the user issued before `now` except the one used for the
 * change. Tokens live at most `lifetimeMs`, so after `now + lifetimeMs` the row refuses nothing.
 */
export function revokeOthers(keep: TokenIdentity, now: number, lifetimeMs: number): NewRevocation {
  return { userId: keep.userId, jti: null, issuedBefore: now, exceptJti: keep.jti, expiresAt: now + lifetimeMs }
}

/**
 * The revocations in memory, so checking a token costs two map lookups and no database read.
 * Revocations are never undone, so adding one twice, or in any order, gives the same answers.
 */
export class RevocationList {
  private readonly revokedJtis = new Map<string, number>()
  private readonly cutoffsByUser = new Map<number, Map<number, Revocation>>()

  add(revocation: Revocation): void {
    if (revocation.jti !== null) {
      this.revokedJtis.set(revocation.jti, revocation.expiresAt)
      return
    }
    let cutoffs = this.cutoffsByUser.get(revocation.userId)
    if (!cutoffs) {
      cutoffs = new Map()
      this.cutoffsByUser.set(revocation.userId, cutoffs)
    }
    cutoffs.set(revocation.id, revocation)
  }

  /** Whether the token was revoked, by logout or by a later password change. */
  isRevoked(token: TokenIdentity): boolean {
    if (this.revokedJtis.has(token.jti)) return true
    const cutoffs = this.cutoffsByUser.get(token.userId)
    if (!cutoffs) return false
    for (const cutoff of cutoffs.values()) {
      if (cutoff.issuedBefore !== null && token.issuedAt < cutoff.issuedBefore && token.jti !== cutoff.exceptJti) {
        return true
      }
    }
    return false
  }

  /** Forgets the revocations that expired before `now`. */
  prune(now: number): void {
    for (const [jti, expiresAt] of this.revokedJtis) if (expiresAt < now) this.revokedJtis.delete(jti)
    for (const [userId, cutoffs] of this.cutoffsByUser) {
      for (const [id, cutoff] of cutoffs) if (cutoff.expiresAt < now) cutoffs.delete(id)
      if (cutoffs.size === 0) this.cutoffsByUser.delete(userId)
    }
  }

  /** How many revocations are held (for tests and metrics). */
  get size(): number {
    let cutoffs = 0
    for (const byId of this.cutoffsByUser.values()) cutoffs += byId.size
    return this.revokedJtis.size + cutoffs
  }
}
