import { randomUUID } from 'node:crypto'
import jwt, { type JWT } from '@fastify/jwt'
import argon2 from 'argon2'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type ChatError, unauthorized } from '../src/domain/errors.js'
import type { PasswordHasher, TokenIssuer } from '../src/domain/ports.js'
import type { PasswordHashingOptions } from '../src/options.js'

/** The only algorithm tokens are signed and accepted with: `alg: none` and others are refused. */
const JWT_ALGORITHM = 'HS256'
const JWT_NAMESPACE = 'chatserver'

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher
    tokens: TokenIssuer
    /** Verifies a raw token (from a header or the socket's query string); rejects with a 401 ChatError. */
    verifyToken: (token: string | undefined) => Promise<AuthUser>
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

/** The claims of a chat token. */
interface TokenPayload {
  sub: string
  username: string
  jti: string
  /** Issue time in milliseconds: `iat` has whole seconds, too coarse to tell a login from a password change in the same second. */
  iat_ms?: number
}

function createPasswordHasher(params: PasswordHashingOptions): PasswordHasher {
  const options = { ...params, type: argon2.argon2id as 0 | 1 | 2 }
  let dummyHash: Promise<string> | undefined
  return {
    hash: (password) => argon2.hash(password, options),
    async verify(hash, password) {
      // With no account, still spend the time of one verification so timing does not reveal it.
      const target = hash ?? (await (dummyHash ??= argon2.hash(randomUUID(), options)))
      try {
        const matches = await argon2.verify(target, password)
        return hash !== undefined && matches
      } catch {
        return false
      }
    },
  }
}

/** Issue time in ms: our `iat_ms` claim, else the start of the `iat` second (0 without either: older than any cutoff). */
const issuedAtOf = (payload: { iat?: number; iat_ms?: number }): number =>
  Number.isFinite(payload.iat_ms)
    ? Number(payload.iat_ms)
    : Number.isFinite(payload.iat)
      ? Number(payload.iat) * 1000
      : 0

const tokenError = (error: unknown): ChatError => {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : ''
  if (code === 'FAST_JWT_EXPIRED') return unauthorized('TOKEN_EXPIRED', 'The token has expired; log in again.')
  return unauthorized('INVALID_TOKEN', 'The token is invalid.')
}

/**
 * Tokens (@fastify/jwt, HS256 only), argon2id password hashing, and the `authenticate` hook
 * that every protected route runs before its handler.
 */
export default fp(
  async (fastify) => {
    const { secret, expiryMinutes } = fastify.chatConfig.jwt
    // A namespace and decorator names of our own: a host app that uses @fastify/jwt (or decorates
    // `request.user`) for its own routes keeps its tokens, its secret and its names.
    await fastify.register(jwt, {
      secret,
      sign: { algorithm: JWT_ALGORITHM, expiresIn: expiryMinutes * 60 },
      // A verified token is remembered (fast-jwt's cache, bounded, never past its expiry): the hot paths
      // verify the same few tokens over and over. Revocation is still checked on every request.
      verify: { algorithms: [JWT_ALGORITHM], cache: true },
      namespace: JWT_NAMESPACE,
      decoratorName: 'chatJwtPayload',
    })
    const registered = (fastify.jwt as unknown as Record<string, JWT | undefined>)[JWT_NAMESPACE]
    if (!registered) throw new Error('@fastify/jwt did not register the chat server namespace')
    const signer: JWT = registered
    if (!fastify.hasRequestDecorator('chatUser')) fastify.decorateRequest('chatUser', null as unknown as AuthUser)

    const passwords = createPasswordHasher(fastify.chatConfig.passwordHashing)
    const tokens: TokenIssuer = {
      async issue(user) {
        const token = signer.sign({
          sub: String(user.id),
          username: user.username,
          jti: randomUUID(),
          iat_ms: Date.now(),
        })
        return { token, expires_at: new Date(Date.now() + expiryMinutes * 60_000).toISOString() }
      },
    }

    // Accounts are never deleted, so a user once found stays valid: remember them and skip the read.
    const knownUsers = new Set<number>()
    async function verifyToken(token: string | undefined): Promise<AuthUser> {
      if (!token) throw unauthorized('MISSING_TOKEN', 'A bearer token is required.')
      let payload: TokenPayload & { exp: number; iat?: number }
      try {
        payload = signer.verify<TokenPayload & { exp: number; iat?: number }>(token)
      } catch (error) {
        throw tokenError(error)
      }
      const id = Number(payload.sub)
      if (!Number.isSafeInteger(id) || id < 1 || typeof payload.jti !== 'string') {
        throw unauthorized('INVALID_TOKEN', 'The token is invalid.')
      }
      const user = {
        id,
        username: String(payload.username),
        jti: payload.jti,
        exp: payload.exp,
        issuedAt: issuedAtOf(payload),
      }
      // In memory: revocations are mirrored from the database by the revocation plugin.
      if (fastify.revocation.isRevoked(user))
        throw unauthorized('TOKEN_REVOKED', 'The token has been revoked; log in again.')
      if (!knownUsers.has(id)) {
        if (!(await fastify.store.users.findById(id)))
          throw unauthorized('INVALID_TOKEN', 'The token’s user no longer exists.')
        knownUsers.add(id)
      }
      return user
    }

    async function authenticate(request: FastifyRequest): Promise<void> {
      const header = request.headers.authorization
      const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (header !== undefined && !match) {
        throw unauthorized('INVALID_TOKEN', 'The Authorization header must be "Bearer <token>".')
      }
      request.chatUser = await verifyToken(match?.[1])
    }

    fastify.decorate('passwords', passwords)
    fastify.decorate('tokens', tokens)
    fastify.decorate('verifyToken', verifyToken)
    fastify.decorate('authenticate', authenticate)
  },
  { name: 'chatserver-auth', dependencies: ['chatserver-config', 'chatserver-store', 'chatserver-revocation'] },
)
