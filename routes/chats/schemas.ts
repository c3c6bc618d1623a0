import { Type } from '@sinclair/typebox'
import { ChatSummary, ConversationFields } from '../../src/schemas/chat.js'
import { errorResponses, Id } from '../../src/schemas/common.js'
import { UserPage, UserPageQuery, UserWithChatInfo } from '../../src/schemas/user.js'

const bearer = [{ bearerAuth: [] }]

export const listChats = {
  tags: ['chats'],
  summary: 'List my conversations',
  operationId: 'listChats',
  description:
    'Every group and direct conversation of the caller with its last message, unread count and last activity, ' +
    'most recent first.',
  security: bearer,
  response: { 200: Type.Object({ chats: Type.Array(ChatSummary), count: Type.Integer() }), ...errorResponses(401) },
}

export const markRead = {
  tags: ['chats'],
  summary: 'Move my read marker',
  operationId: 'markChatRead',
  description:
    'Moves the caller’s read marker in one conversation (exactly one of `group_id` and `user_id`) forward to ' +
    '`message_id`, never back. Unread counts follow; the caller’s other sockets get a `read` frame. In a direct ' +
    'conversation the other user’s messages up to the marker become `READ`.',
  security: bearer,
  body: Type.Object({ ...ConversationFields, message_id: Id() }),
  response: {
    200: Type.Object({
      message: Type.String(),
      group_id: Type.Optional(Id()),
      user_id: Type.Optional(Id()),
      last_read_id: Type.Integer({ minimum: 0, description: 'The marker after the move.' }),
    }),
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
}

export const usersWithChatInfo = {
  tags: ['users'],
  summary: 'List users with my direct conversation with each',
  operationId: 'listUsersWithChatInfo',
  description:
    'Users by id, each with the last direct message, unread count and presence. Page with `after_id`; `q` matches ' +
    'a part of the username. `email` is null for everyone but you.',
  security: bearer,
  querystring: UserPageQuery,
  response: {
    200: UserPage(UserWithChatInfo),
    ...errorResponses(400, 401),
  },
}
