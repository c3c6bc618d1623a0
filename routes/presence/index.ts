import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireContact } from '../../src/domain/chats.js'
import { PresenceTracker } from '../../src/domain/presence.js'
import { getUser } from '../../src/domain/users.js'
import { PresenceOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** Presence: tells contacts when a user comes online or goes offline, and answers who is online. */
const presence: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, hub } = fastify
  const tracker = new PresenceTracker()
  fastify.realtime.serverFrame('presence', PresenceOut)

  async function announce(userId: number, online: boolean): Promise<void> {
    const contacts = await store.chats.contactsOf(userId)
    hub.publish(contacts, { type: 'presence', user_id: userId, online })
  }

  fastify.realtime.onConnect(async (connection) => {
    if (tracker.opened(connection.userId)) await announce(connection.userId, true)
  })
  fastify.realtime.onDisconnect(async (connection) => {
    // With several instances the user may still have sockets elsewhere: only then is it a change.
    if (tracker.closed(connection.userId) && !hub.isOnline(connection.userId)) await announce(connection.userId, false)
  })

  fastify.get(
    '/v1/users/:userID/presence',
    { schema: schemas.getPresence, onRequest: fastify.authenticate },
    async (request) => {
      const { userID } = request.params
      await getUser(store.users, userID)
      await requireContact(store.chats, request.chatUser.id, userID)
      return { user_id: userID, online: hub.isOnline(userID) }
    },
  )
}

export default presence
