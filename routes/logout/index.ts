import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as schemas from './schemas.js'

/** `POST /v1/users/logout`: revokes the caller's token and closes the sockets opened with it. */
const logout: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/v1/users/logout', { schema: schemas.logout, onRequest: fastify.authenticate }, async (request) => {
    await fastify.revocation.revokeToken(request.chatUser)
    return { message: 'Logged out.' }
  })
}

export default logout
