import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import {
  RevocationList,
  revokeOne,
  revokeOthers,
  type Revocation,
  type TokenIdentity,
  type TokenRevocationStore,
} from '../src/domain/tokens.js'
import { createTokenRevocationStore } from './store/tokens.js'
import type { AuthUser } from './types.js'

/** Close code of a socket whose token expired while it was open. */
export const CLOSE_TOKEN_EXPIRED = 4001
/** Close code of a socket whose token was revoked (logout, or a password change on another token). */
export const CLOSE_TOKEN_REVOKED = 4003

/** How often open sockets are checked for an expired token: a socket closes within this long after its expiry. */
const EXPIRY_SWEEP_MS = 1000
/** Every this many syncs, all live revocations are read again and expired ones deleted. */
const FULL_RELOAD_EVERY = 60

type Ending = 'TOKEN_EXPIRED' | 'TOKEN_REVOKED'
const ENDINGS: Record<Ending, { closeCode: number; error: string }> = {
  TOKEN_EXPIRED: { closeCode: CLOSE_TOKEN_EXPIRED, error: 'The token has expired; log in again.' },
  TOKEN_REVOKED: { closeCode: CLOSE_TOKEN_REVOKED, error: 'The token has been revoked; log in again.' },
}

interface WatchedSocket {
  socket: WebSocket
  token: TokenIdentity
  /** Milliseconds since the epoch; Infinity for a token without `exp`. */
  expiresAt: number
}

const identityOf = (user: AuthUser): TokenIdentity => ({ userId: user.id, jti: user.jti, issuedAt: user.issuedAt })
const expiryOf = (user: AuthUser): number => (Number.isFinite(user.exp) ? user.exp * 1000 : Infinity)

/**
 * Revoked tokens and the sockets opened with them. Revocations are stored in the database (so they
 * survive a restart and reach every process on it) and mirrored in memory, so checking a token reads
 * nothing. This process sees its own revocations at once and the other processes' within one sync.
 */
class TokenGuard {
  private readonly list = new RevocationList()
  private readonly socketsByUser = new Map<number, Set<WatchedSocket>>()
  /** The highest revocation id read from the database: each sync reads the rows above it. */
  private cursor = 0
  private sweeper: NodeJS.Timeout | undefined

  constructor(
    private readonly store: TokenRevocationStore,
    private readonly tokenLifetimeMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Whether the token was revoked by a logout or by a password change made with another token. */
  isRevoked(user: AuthUser): boolean {
    return this.list.isRevoked(identityOf(user))
  }

  /** Logout: revokes this one token and closes every socket opened with it. */
  async revokeToken(user: AuthUser): Promise<void> {
    const now = Date.now()
    const revocation = revokeOne(
      identityOf(user),
      Number.isFinite(user.exp) ? user.exp * 1000 : now + this.tokenLifetimeMs,
    )
    const id = await this.store.insert(revocation, now)
    this.list.add({ ...revocation, id: id ?? 0 })
    this.closeRevoked([user.id])
  }

  /** Password change: revokes every other token of the user issued until now and closes their sockets. */
  async revokeOtherTokens(keep: AuthUser): Promise<void> {
    const now = Date.now()
    const revocation = revokeOthers(identityOf(keep), now, this.tokenLifetimeMs)
    const id = await this.store.insert(revocation, now)
    if (id === undefined) throw new Error('a password-change revocation was not stored')
    this.list.add({ ...revocation, id })
    this.closeRevoked([keep.id])
  }

  /**
   * Watches an open socket: closed with 4001 once its token has expired (within a second: one sweep
   * over all sockets checks them, so an idle socket holds no timer of its own), with 4003 as soon as the
   * token is revoked (here or, after the next sync, by another process). Call it once the socket is open.
   */
  watch(socket: WebSocket, user: AuthUser): void {
    const watched: WatchedSocket = { socket, token: identityOf(user), expiresAt: expiryOf(user) }
    // The token may have been revoked or may have expired between the upgrade's check and now.
    if (this.list.isRevoked(watched.token)) return end(socket, 'TOKEN_REVOKED')
    if (watched.expiresAt <= Date.now()) return end(socket, 'TOKEN_EXPIRED')
    if (socket.readyState === socket.CLOSED) return
    let sockets = this.socketsByUser.get(watched.token.userId)
    if (!sockets) {
      sockets = new Set()
      this.socketsByUser.set(watched.token.userId, sockets)
    }
    sockets.add(watched)
    this.sweeper ??= setInterval(() => this.sweep(), EXPIRY_SWEEP_MS).unref()
  }

  /** Closes the sockets whose token expired and forgets the closed ones; stops when none is left. */
  private sweep(): void {
    const now = Date.now()
    for (const [userId, sockets] of this.socketsByUser) {
      for (const watched of sockets) {
        if (watched.socket.readyState === watched.socket.CLOSED) sockets.delete(watched)
        else if (watched.expiresAt <= now) end(watched.socket, 'TOKEN_EXPIRED')
      }
      if (sockets.size === 0) this.socketsByUser.delete(userId)
    }
    if (this.socketsByUser.size === 0) this.stop()
  }

  /** Stops the expiry sweep (at shutdown; the next watched socket starts it again). */
  stop(): void {
    clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  /** How many open sockets are watched (for tests and metrics). */
  watchedSockets(): number {
    let count = 0
    for (const sockets of this.socketsByUser.values()) {
      for (const watched of sockets) if (watched.socket.readyState !== watched.socket.CLOSED) count += 1
    }
    return count
  }

  /** How many revocations are held in memory. */
  revocationsInMemory(): number {
    return this.list.size
  }

  /** Reads the revocations other processes stored since the last sync and closes the sockets they revoke. */
  async sync(): Promise<void> {
    this.apply(await this.store.after(this.cursor))
  }

  /**
   * Reads every live revocation again — a safety net for a row whose id committed out of order on a
   * database with concurrent writers — and deletes the expired ones, in memory and in the database.
   */
  async reload(): Promise<void> {
    const now = Date.now()
    this.apply(await this.store.active(now))
    this.list.prune(now)
    const pruned = await this.store.prune(now)
    if (pruned > 0) this.log.debug({ pruned }, 'expired token revocations deleted')
  }

  private apply(revocations: Revocation[]): void {
    const users = new Set<number>()
    for (const revocation of revocations) {
      this.list.add(revocation)
      users.add(revocation.userId)
      if (revocation.id > this.cursor) this.cursor = revocation.id
    }
    this.closeRevoked(users)
  }

  private closeRevoked(userIds: Iterable<number>): void {
    for (const userId of userIds) {
      for (const watched of this.socketsByUser.get(userId) ?? []) {
        if (this.list.isRevoked(watched.token)) end(watched.socket, 'TOKEN_REVOKED')
      }
    }
  }
}

/**
 * Ends a socket whose token no longer holds: an `error` frame with the code, then a close frame with
 * the close code and the code as reason. (Frames the client sends after this are not handled, even if
 * it never answers the close: the socket route admits frames only while the socket is open.)
 */
function end(socket: WebSocket, code: Ending): void {
  if (socket.readyState !== socket.OPEN) return
  const { closeCode, error } = ENDINGS[code]
  socket.send(JSON.stringify({ type: 'error', code, error }))
  socket.close(closeCode, code)
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Token revocation (logout, password change) and the expiry and revocation of open sockets. */
    revocation: TokenGuard
  }
}

/**
 * `fastify.revocation`: loads the live revocations before the server starts, then follows the table
 * every `revocationSyncMs` so that logouts and password changes made through other processes on the
 * same database take effect here too.
 */
export default fp(
  async (fastify) => {
    const { revocationSyncMs, jwt } = fastify.chatConfig
    const guard = new TokenGuard(createTokenRevocationStore(fastify.db), jwt.expiryMinutes * 60_000, fastify.log)
    await guard.reload()
    fastify.decorate('revocation', guard)

    let stopped = false
    let timer: NodeJS.Timeout | undefined
    let running: Promise<void> = Promise.resolve()
    let syncs = 0
    const tick = () => {
      running = (async () => {
        syncs += 1
        try {
          await (syncs % FULL_RELOAD_EVERY === 0 ? guard.reload() : guard.sync())
        } catch (error) {
          if (!stopped) fastify.log.warn({ err: error }, 'token revocation sync failed')
        }
        if (stopped) return
        timer = setTimeout(tick, revocationSyncMs)
        timer.unref()
      })()
    }
    fastify.addHook('onReady', async () => {
      timer = setTimeout(tick, revocationSyncMs)
      timer.unref()
    })
    fastify.addHook('preClose', async () => {
      stopped = true
      clearTimeout(timer)
      guard.stop()
      await running
    })
  },
  { name: 'chatserver-revocation', dependencies: ['chatserver-config', 'chatserver-db'] },
)
