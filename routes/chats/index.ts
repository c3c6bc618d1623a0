import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { conversationOf, markRead, otherParticipants, type Conversation } from '../../src/domain/chats.js'
import { markDirectRead } from '../../src/domain/direct.js'
import { TypingTracker } from '../../src/domain/typing.js'
import { ReadIn, ReadOut, TypingIn, TypingOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** The chat list, read markers, and typing indicators. */
const chats: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, hub } = fastify
  const ports = {
    chats: store.chats,
    groups: store.groups,
    users: store.users,
    hub,
    markDirectRead: async (userId: number, peerId: number, messageId: number) => {
      const ports = { users: store.users, messages: store.messages, direct: store.direct, hub }
      return (await markDirectRead(ports, userId, peerId, messageId)).last_read_id
    },
  }
  const authenticate = fastify.authenticate

  fastify.get('/v1/chats', { schema: schemas.listChats, onRequest: authenticate }, async (request) => {
    const list = await store.chats.chatList(request.chatUser.id)
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
      const { q, limit, after_id } = request.query
      const me = request.chatUser.id
      const [page, mine, contacts] = await Promise.all([
        store.users.list({
          limit: limit + 1,
          ...(q ? { query: q } : {}),
          ...(after_id !== undefined ? { afterId: after_id } : {}),
        }),
        store.chats.chatList(me),
        store.chats.contactsOf(me),
      ])
      const hasMore = page.length > limit
      const users = page.slice(0, limit)
      const directByPeer = new Map(mine.filter((c) => c.chat === 'direct').map((c) => [c.user_id, c]))
      const contactIds = new Set(contacts)
      return {
        users: users.map((user) => {
          const direct = directByPeer.get(user.id)
          return {
            ...user,
            online: user.id === me || contactIds.has(user.id) ? hub.isOnline(user.id) : null,
            last_message: direct?.last_message ?? null,
            unread_count: direct?.unread_count ?? 0,
            last_activity: direct?.last_activity ?? null,
          }
        }),
        count: users.length,
        has_more: hasMore,
        next_after_id: hasMore ? (users.at(-1)?.id ?? null) : null,
      }
    },
  )

  fastify.realtime.serverFrame('read', ReadOut)
  fastify.realtime.serverFrame('typing', TypingOut)
  fastify.realtime.frame('read', ReadIn, async (frame, connection) => {
    const moved = await markRead(ports, connection.userId, frame, frame.message_id, connection)
    return { type: 'ack', read: moved }
  })

  // Typing: forwarded to the conversation's other participants, throttled, never stored, and
  // announced as stopped by the server when a `start` is not renewed in time.
  const typingKey = (userId: number, conversation: Conversation) =>
    conversation.kind === 'group' ? `${userId}:g:${conversation.groupId}` : `${userId}:u:${conversation.peerId}`
  const conversationOfKey = (key: string): [number, Conversation] => {
    const [userId, kind, id] = key.split(':')
    const conversation: Conversation =
      kind === 'g' ? { kind: 'group', groupId: Number(id) } : { kind: 'direct', peerId: Number(id) }
    return [Number(userId), conversation]
  }
  const typingFrame = (userId: number, conversation: Conversation, state: 'start' | 'stop'): TypingOut =>
    conversation.kind === 'group'
      ? { type: 'typing', group_id: conversation.groupId, user_id: userId, state }
      : { type: 'typing', user_id: userId, state }
  const typing = new TypingTracker((key) => {
    const [userId, conversation] = conversationOfKey(key)
    otherParticipants(ports, userId, conversation)
      .then((others) => hub.publish(others, typingFrame(userId, conversation, 'stop')))
      .catch(() => undefined) // the conversation is gone or the user left it: nobody to tell
  })
  fastify.addHook('onClose', async () => typing.clear())

  fastify.realtime.frame('typing', TypingIn, async (frame, connection) => {
    const conversation = conversationOf(frame)
    const others = await otherParticipants(ports, connection.userId, conversation)
    const key = typingKey(connection.userId, conversation)
    const forward = frame.state === 'start' ? typing.start(key) : typing.stop(key)
    if (forward) hub.publish(others, typingFrame(connection.userId, conversation, frame.state))
    return frame.ref === undefined ? undefined : { type: 'ack' }
  })
}

export default chats
