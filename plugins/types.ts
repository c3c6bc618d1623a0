import type { Kysely } from 'kysely'
import type { Database } from '../src/database.js'
import type { Hub, PasswordHasher, TokenIssuer } from '../src/domain/ports.js'
import type { ChatServerConfig } from '../src/options.js'
import type { Stores } from './store/index.js'

// The decorators the infrastructure plugins add, typed once for every route.
declare module 'fastify' {
  interface FastifyInstance {
    chatConfig: ChatServerConfig
    db: Kysely<Database>
    store: Stores
    hub: Hub
    passwords: PasswordHasher
    tokens: TokenIssuer
    /** onRequest/preHandler hook: 401 unless the request carries a valid bearer token; sets `request.chatUser`. */
    authenticate: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    /**
     * The caller, set by `authenticate` (and by the socket route before the upgrade). Named apart from
     * `request.user` so a host app's own auth (@fastify/jwt, passport, …) keeps that name.
     */
    chatUser: AuthUser
  }
}

/** Who a verified token belongs to. */
export interface AuthUser {
  id: number
  username: string
  /** The token's unique id, for revocation. */
  jti: string
  /** Expiry, in seconds since the epoch. */
  exp: number
  /** When the token was issued, in milliseconds since the epoch (`iat_ms`, else `iat` × 1000); for revocation. */
  issuedAt: number
}

export interface TokenPayload {
  sub: string
  username: string
  jti: string
  /** Issue time in milliseconds: `iat` has whole seconds, too coarse to tell a login from a password change in the same second. */
  iat_ms?: number
}
