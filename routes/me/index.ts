import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { updateProfile } from '../../src/domain/me.js'
import { getUser } from '../../src/domain/users.js'
import * as schemas from './schemas.js'

/** The caller's own account: read it, change the username or password. */
const me: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const ports = { users: fastify.store.users, passwords: fastify.passwords }

  // A static path: the router prefers it over `/v1/users/:userID`.
  fastify.get('/v1/users/me', { schema: schemas.getMe }, async (request) =>
    getUser(ports.users, request.chatUser.id, request.chatUser.id),
  )

  const updateOptions = { schema: schemas.updateMe, ...fastify.chatRateLimits.passwordCheck }
  fastify.patch('/v1/users/me', updateOptions, async (request) =>
    updateProfile(
      { ...ports, onPasswordChanged: () => fastify.revocation.revokeOtherTokens(request.chatUser) },
      request.chatUser.id,
      request.body,
    ),
  )
}

export default me
