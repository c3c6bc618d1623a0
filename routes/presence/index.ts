import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Presence } from '../../src/domain/presence.js'
import { PresenceOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** Presence: tells contacts when a user comes online or goes offline, and answers who is online. */
const presence: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, realtime } = fastify
  const tracker = new Presence({ chats: store.chats, users: store.users, hub: fastify.hub })

  realtime.sends(PresenceOut)
  realtime.onConnect((connection) => tracker.connected(connection.userId))
  realtime.onDisconnect((connection) => tracker.disconnected(connection.userId))

  fastify.get(
    '/v1/users/:userID/presence',
    { schema: schemas.getPresence, onRequest: fastify.authenticate },
    async (request) => tracker.of(request.chatUser.id, request.params.userID),
  )
}

export default presence
