import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listChats, markRead, usersWithChatInfo } from '../../src/domain/chats.js'
import { markDirectRead } from '../../src/domain/direct.js'
import { Typing } from '../../src/domain/typing.js'
import { ReadIn, ReadOut, TypingIn, TypingOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** The chat list, read markers, and typing indicators. */
const chats: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, hub, realtime } = fastify
  const directPorts = { users: store.users, messages: store.messages, direct: store.direct, hub }
  const ports = {
    chats: store.chats,
    groups: store.groups,
    users: store.users,
    hub,
    markDirectRead: async (userId: number, peerId: number, messageId: number) =>
      (await markDirectRead(directPorts, userId, peerId, messageId)).last_read_id,
  }
  const typing = new Typing(ports)
  fastify.addHook('onClose', async () => typing.clear())
  const authenticate = fastify.authenticate

  fastify.get('/v1/chats', { schema: schemas.listChats, onRequest: authenticate }, async (request) => {
    const list = await listChats(store.chats, request.chatUser.id)
    return { chats: list, count: list.length }
  })

  fastify.post('/v1/chats/read', { schema: schemas.markRead, onRequest: authenticate }, async (request) => {
    const { message_id, ...conversation } = request.body
    const moved = await markRead(ports, request.chatUser.id, conversation, message_id)
    const { message_id: lastReadId, ...where } = moved
    return { message: 'Read marker moved', ...where, last_read_id: lastReadId }
  })

  fastify.get(
    '/v1/users/with-chat-info',
    { schema: schemas.usersWithChatInfo, onRequest: authenticate },
    async (request) => {
      const page = await usersWithChatInfo(ports, request.chatUser.id, request.query)
      return { ...page, count: page.users.length }
    },
  )

  realtime.sends(ReadOut, TypingOut)
  realtime.frame('read', ReadIn, async (frame, connection) => {
    const moved = await markRead(ports, connection.userId, frame, frame.message_id, connection)
    return { type: 'ack', read: moved }
  })
  realtime.frame('typing', TypingIn, async (frame, connection) => {
    await typing.typed(connection.userId, frame, frame.state)
    return frame.ref === undefined ? undefined : { type: 'ack' }
  })
}

export default chats
