import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { RateLimitedError, UNLIMITED, type Budget } from '../src/domain/limits.js'
import { normalizeEmail } from '../src/domain/users.js'
import type { RateLimit } from '../src/options.js'

/** A request hook that counts the request against one limit and refuses it with 429 once over. */
type LimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/** Hooks to spread into a route's options: `{ schema, ...fastify.chatRateLimits.send }`. */
interface RateLimitedRoute {
  onRequest?: LimitHook[]
  preHandler?: LimitHook[]
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The rate limits of the chat server's routes, as route options; empty where a limit is off. */
    chatRateLimits: {
      /** Per client IP. */
      register: RateLimitedRoute
      /** Per client IP (before the body is read), then per email address (after it is validated). */
      login: RateLimitedRoute
      /** Per authenticated user, group and direct messages together; runs after `authenticate`. */
      send: RateLimitedRoute
      /**
       * The same per-user send budget as `send`, for the socket's `group_message` and `direct_message`
       * frames: one count for REST and socket together (and across instances with Redis).
       */
      sendBudget: Budget
      /** Per authenticated user, each request that gives `current_password` (a guess at the password). */
      passwordCheck: RateLimitedRoute
      /** Per user added to a group by someone else: how often one user can be added to groups. */
      memberAdds: Budget
    }
  }
}

const clientAddress = (request: FastifyRequest) => `ip:${normalizeIP(request.ip)}`

/** One count of a key against a limit: @fastify/rate-limit's answer. */
interface Counted {
  max: number
  remaining: number
  /** ms until the window ends. */
  ttl: number
  ttlInSeconds: number
  isExceeded: boolean
}

/** Counts one use of a key against one limit. */
type Count = (key: string) => Promise<Counted>

/** What @fastify/rate-limit's limiter reads of a request: the key (through our key generator) and the route's config. */
interface CountedKey {
  chatLimitKey: string
  routeOptions: { config: Record<string, never> }
}

/**
 * One limit's counter: @fastify/rate-limit's store (in memory, or in Redis when configured) driven with a
 * key of our own instead of a request, so HTTP hooks and socket frames can share one count.
 */
function counter(fastify: FastifyInstance, limit: RateLimit | false): Count | undefined {
  if (!limit) return undefined
  const check = fastify.createRateLimit({
    max: limit.max,
    timeWindow: limit.timeWindow,
    keyGenerator: (subject) => (subject as unknown as CountedKey).chatLimitKey,
  })
  return async (key) => {
    const subject: CountedKey = { chatLimitKey: key, routeOptions: { config: {} } }
    const result = await check(subject as unknown as FastifyRequest)
    // Allowed without counting only through an allow list, which the chat server never sets.
    if (result.isAllowed) return { max: limit.max, remaining: limit.max, ttl: 0, ttlInSeconds: 0, isExceeded: false }
    return result
  }
}

/**
 * A request hook over one counter: it sets the `x-ratelimit-*` headers and, over the limit,
 * `Retry-After` and a 429 RATE_LIMITED.
 */
function limiter(
  count: Count | undefined,
  key: (request: FastifyRequest) => string | undefined,
  refusal: string,
): LimitHook | undefined {
  if (!count) return undefined
  return async (request, reply) => {
    const counted = key(request)
    if (counted === undefined) return
    const result = await count(counted)
    // A route with two limits (login) shows the one closer to refusing.
    const shown = reply.getHeader('x-ratelimit-remaining')
    if (shown === undefined || Number(shown) >= result.remaining) {
      reply.header('x-ratelimit-limit', result.max)
      reply.header('x-ratelimit-remaining', result.remaining)
      reply.header('x-ratelimit-reset', result.ttlInSeconds)
    }
    if (!result.isExceeded) return
    reply.header('retry-after', result.ttlInSeconds)
    throw new RateLimitedError(`${refusal}; retry in ${result.ttlInSeconds} s.`, result.ttl)
  }
}

/** A per-user budget over one counter, for callers without a request (socket frames, the domain). */
function budget(count: Count | undefined, key: (userId: number) => string, refusal: string): Budget {
  if (!count) return UNLIMITED
  return {
    async charge(userId) {
      const result = await count(key(userId))
      if (result.isExceeded) {
        throw new RateLimitedError(`${refusal}; retry in ${result.ttlInSeconds} s.`, result.ttl)
      }
    },
  }
}

const hooks = (...list: Array<LimitHook | undefined>) => list.filter((hook) => hook !== undefined)

/**
 * Rate limits on register, login, sending (REST and socket together), password guesses and adding a user to
 * groups, with @fastify/rate-limit's counters. Registered
 * inside the chat server with `global: false`, so it limits only the routes that spread
 * `fastify.chatRateLimits.*` into their options, never a host app's own routes. With Redis configured
 * the counters live there, so a limit holds across every instance behind a load balancer; while Redis
 * does not answer, requests are let through rather than refused (a limit is a guard, not a gate).
 */
export default fp(
  async (fastify) => {
    const redisSettings = fastify.chatConfig.redis
    let redis: Redis | undefined
    if (redisSettings && Object.values(fastify.chatConfig.rateLimits).some((limit) => limit !== false)) {
      // Short timeouts and one try: a counter that is slow to answer must not hold up the request. The command
      // timeout covers a Redis that keeps the connection but stops answering: the count fails, the request goes on.
      redis = new Redis(redisSettings.url, {
        connectTimeout: 500,
        commandTimeout: redisSettings.commandTimeoutMs,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
      })
      redis.on('error', (error: Error) => fastify.log.warn({ err: error }, 'rate limit store (Redis) error'))
      const client = redis
      fastify.addHook('onClose', async () => {
        client.disconnect()
      })
    }
    await fastify.register(rateLimit, {
      global: false,
      ...(redis && { redis, nameSpace: `${redisSettings?.channelPrefix}:rate-limit:`, skipOnError: true }),
    })
    const limits = fastify.chatConfig.rateLimits

    const perIp = (name: string) => (request: FastifyRequest) => `${name}:${clientAddress(request)}`
    const perEmail = (request: FastifyRequest) => {
      const email = (request.body as { email?: unknown } | undefined)?.email
      return typeof email === 'string' ? `login:email:${normalizeEmail(email)}` : `login:${clientAddress(request)}`
    }
    // `authenticate` is an onRequest hook of the route's plugin, and those run before a route's own,
    // so the user is known here; the address is only a fallback.
    const sendKey = (userId: number) => `send:user:${userId}`
    const perUser = (request: FastifyRequest) =>
      request.chatUser ? sendKey(request.chatUser.id) : `send:${clientAddress(request)}`
    // Only a request that gives the current password is a guess at it.
    const passwordGuess = (request: FastifyRequest) => {
      const guess = (request.body as { current_password?: unknown } | undefined)?.current_password
      return guess === undefined ? undefined : `password:user:${request.chatUser.id}`
    }

    const register = limiter(
      counter(fastify, limits.register),
      perIp('register'),
      'Too many sign-ups from this address',
    )
    const loginByIp = limiter(
      counter(fastify, limits.login),
      perIp('login'),
      'Too many login attempts from this address',
    )
    const loginByEmail = limiter(
      counter(fastify, limits.loginEmail),
      perEmail,
      'Too many login attempts for this account',
    )
    // One counter for REST sends and socket sends: the same budget whichever way a message comes.
    const sends = counter(fastify, limits.send)
    const send = limiter(sends, perUser, 'You are sending messages too fast')
    const passwordCheck = limiter(
      counter(fastify, limits.passwordCheck),
      passwordGuess,
      'Too many attempts with the current password',
    )

    fastify.decorate('chatRateLimits', {
      register: { onRequest: hooks(register) },
      login: { onRequest: hooks(loginByIp), preHandler: hooks(loginByEmail) },
      send: { onRequest: hooks(send) },
      sendBudget: budget(sends, sendKey, 'You are sending messages too fast'),
      passwordCheck: { preHandler: hooks(passwordCheck) },
      memberAdds: budget(
        counter(fastify, limits.memberAdds),
        (userId) => `member-add:user:${userId}`,
        'That user has been added to too many groups just now',
      ),
    })
  },
  { name: 'chatserver-rate-limit', dependencies: ['chatserver-config'] },
)
