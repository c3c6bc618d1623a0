import { Type } from '@sinclair/typebox'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../src/domain/messages.js'
import { errorResponses, Id } from '../../src/schemas/common.js'
import { Message, MessageInput } from '../../src/schemas/message.js'
import { HistoryPage } from '../messages/schemas.js'

const bearer = [{ bearerAuth: [] }]
const RecipientParams = Type.Object({ recipientID: Id('The other user of the conversation.') })

export const postDirectMessage = {
  tags: ['messages'],
  summary: 'Send a direct message',
  operationId: 'sendDirectMessage',
  description:
    'Stores a message to one user and pushes it as a `direct_message` frame to every socket of the recipient ' +
    'and of the sender. Its `status` is `SENT` when the recipient has a socket open and `PENDING` otherwise; ' +
    'pending messages are delivered on the recipient’s next connect (`DELIVERED`), and become `READ` when the ' +
    'recipient marks them read; the sender’s sockets get a `message_status` frame on each change. A retry with ' +
    'the same `client_msg_id` to the same recipient returns the original (header `Idempotent-Replayed: true`) and ' +
    'pushes nothing again; the same key in another conversation is a new message.',
  security: bearer,
  params: RecipientParams,
  body: MessageInput,
  response: { 201: Message, ...errorResponses(400, 401, 404, 413, 415, 429) },
}

export const directHistory = {
  tags: ['messages'],
  summary: 'Read a direct conversation',
  operationId: 'getDirectHistory',
  description:
    'The messages between the caller and that user, paged like group history: the first page holds the newest ' +
    'messages; pass `next_before_id` as `before_id` for older ones, or page forwards with `after_id`.',
  security: bearer,
  params: RecipientParams,
  querystring: Type.Object({
    limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }),
    before_id: Type.Optional(Id()),
    after_id: Type.Optional(Id()),
  }),
  response: {
    200: Type.Composite([Type.Object({ user_id: Id('The other user of the conversation.') }), HistoryPage]),
    ...errorResponses(400, 401, 404),
  },
}
