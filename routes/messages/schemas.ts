import { Type } from '@sinclair/typebox'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../src/domain/messages.js'
import { errorResponses, Id, Nullable } from '../../src/schemas/common.js'
import { Message, MessageInput } from '../../src/schemas/message.js'

const bearer = [{ bearerAuth: [] }]

export const postGroupMessage = {
  tags: ['messages'],
  summary: 'Send a message to a group',
  operationId: 'sendGroupMessage',
  description:
    'Members only. The stored message is pushed as a `group_message` frame to every connected socket of every ' +
    'member. A retry with the same `client_msg_id` to the same group returns the original (header ' +
    '`Idempotent-Replayed: true`) and pushes nothing again; the same key in another conversation is a new message.',
  security: bearer,
  params: Type.Object({ groupID: Id() }),
  body: MessageInput,
  response: { 201: Message, ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
}

export const HistoryPage = Type.Object({
  messages: Type.Array(Message, { description: 'Oldest→newest within the page.' }),
  count: Type.Integer(),
  has_more: Type.Boolean(),
  next_before_id: Nullable(Id('Pass as `before_id` for the next older page.')),
  next_after_id: Nullable(Id('Pass as `after_id` for the next newer page (when paging forwards).')),
})

export const groupHistory = {
  tags: ['messages'],
  summary: 'Read a group’s history',
  operationId: 'getGroupHistory',
  description:
    'Members only. The first page holds the newest messages; pass `next_before_id` as `before_id` for older ones, ' +
    'or page forwards from a known id with `after_id`. No message appears on two pages.',
  security: bearer,
  params: Type.Object({ groupID: Id() }),
  querystring: Type.Object({
    limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }),
    before_id: Type.Optional(Id()),
    after_id: Type.Optional(Id()),
  }),
  response: {
    200: Type.Composite([Type.Object({ group_id: Id() }), HistoryPage]),
    ...errorResponses(400, 401, 403, 404),
  },
}
