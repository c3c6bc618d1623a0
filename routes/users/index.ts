import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { getUser, login, register } from '../../src/domain/users.js'
import * as schemas from './schemas.js'

/** Accounts: register, log in, list and look up users. */
const users: FastifyPluginAsyncTypebox = async (fastify) => {
  const ports = { users: fastify.store.users, passwords: fastify.passwords, tokens: fastify.tokens }

  const registerOptions = { schema: schemas.register, ...fastify.chatRateLimits.register }
  fastify.post('/v1/users/register', registerOptions, async (request, reply) => {
    const session = await register(ports, request.body)
    return reply.code(201).send({ message: 'User registered successfully', ...session })
  })

  fastify.post('/v1/users/login', { schema: schemas.login, ...fastify.chatRateLimits.login }, async (request) => {
    const session = await login(ports, request.body)
    return { message: 'Login successful', ...session }
  })

  const authenticate = fastify.authenticate

  fastify.get('/v1/users', { schema: schemas.listUsers, onRequest: authenticate }, async (request) => {
    const { q, limit, after_id } = request.query
    const page = await fastify.store.users.list({
      limit: limit + 1,
      ...(q ? { query: q } : {}),
      ...(after_id !== undefined ? { afterId: after_id } : {}),
    })
    const hasMore = page.length > limit
    const users = page.slice(0, limit)
    return { users, count: users.length, has_more: hasMore, next_after_id: hasMore ? (users.at(-1)?.id ?? null) : null }
  })

  fastify.get('/v1/users/:userID', { schema: schemas.getUser, onRequest: authenticate }, async (request) =>
    getUser(fastify.store.users, request.params.userID),
  )
}

export default users
