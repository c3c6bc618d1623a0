import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { tooManyRequests } from '../src/domain/errors.js'
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
    }
  }
}

const clientAddress = (request: FastifyRequest) => `ip:${normalizeIP(request.ip)}`

/**
 * One limit: a counter per key (@fastify/rate-limit's store) and a hook that sets the
 * `x-ratelimit-*` headers and, over the limit, `Retry-After` and a 429 RATE_LIMITED.
 */
function limiter(
  fastify: FastifyInstance,
  limit: RateLimit | false,
  key: (request: FastifyRequest) => string,
  refusal: string,
): LimitHook | undefined {
  if (!limit) return undefined
  const check = fastify.createRateLimit({ max: limit.max, timeWindow: limit.timeWindow, keyGenerator: key })
  return async (request, reply) => {
    const result = await check(request)
    if (result.isAllowed) return
    // A route with two limits (login) shows the one closer to refusing.
    const shown = reply.getHeader('x-ratelimit-remaining')
    if (shown === undefined || Number(shown) >= result.remaining) {
      reply.header('x-ratelimit-limit', result.max)
      reply.header('x-ratelimit-remaining', result.remaining)
      reply.header('x-ratelimit-reset', result.ttlInSeconds)
    }
    if (!result.isExceeded) return
    reply.header('retry-after', result.ttlInSeconds)
    throw tooManyRequests(`${refusal}; retry in ${result.ttlInSeconds} s.`)
  }
}

const hooks = (...list: Array<LimitHook | undefined>) => list.filter((hook) => hook !== undefined)

/**
 * HTTP rate limits on register, login and sending, with @fastify/rate-limit's counters. Registered
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
    const perUser = (request: FastifyRequest) =>
      request.chatUser ? `send:user:${request.chatUser.id}` : `send:${clientAddress(request)}`

    const register = limiter(fastify, limits.register, perIp('register'), 'Too many sign-ups from this address')
    const loginByIp = limiter(fastify, limits.login, perIp('login'), 'Too many login attempts from this address')
    const loginByEmail = limiter(fastify, limits.loginEmail, perEmail, 'Too many login attempts for this account')
    const send = limiter(fastify, limits.send, perUser, 'You are sending messages too fast')

    fastify.decorate('chatRateLimits', {
      register: { onRequest: hooks(register) },
      login: { onRequest: hooks(loginByIp), preHandler: hooks(loginByEmail) },
      send: { onRequest: hooks(send) },
    })
  },
  { name: 'chatserver-rate-limit', dependencies: ['chatserver-config'] },
)
