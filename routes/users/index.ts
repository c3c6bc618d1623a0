import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { getUser, listUsers, login, register } from '../../src/domain/users.js'
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
    const page = await listUsers(fastify.store.users, request.chatUser.id, request.query)
    return { ...page, count: page.users.length }
  })

  fastify.get('/v1/users/:userID', { schema: schemas.getUser, onRequest: authenticate }, async (request) =>
    getUser(fastify.store.users, request.params.userID, request.chatUser.id),
  )
}

export default users
