import { Type, type Static } from '@sinclair/typebox'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../src/domain/messages.js'
import { errorResponses, Id } from '../../src/schemas/common.js'
import { MessageFrameFields } from '../../src/schemas/frames.js'
import { DeliveryStatus, Message, MessageInput, MessageInputFields } from '../../src/schemas/message.js'
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
    'the same `client_msg_id` returns the original (header `Idempotent-Replayed: true`) and pushes nothing again.',
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

// Socket frames of this concern.

const Ref = Type.Optional(
  Type.Union([Type.String({ maxLength: 128 }), Type.Integer()], {
    description: 'Chosen by the client; the `ack` or `error` answering this frame echoes it.',
  }),
)

const { type: _kindAlias, ...messageFields } = MessageInputFields

/** Client → server: send a direct message; answered with `ack {message, duplicate}` or `error`. */
export const DirectMessageIn = Type.Object(
  {
    type: Type.Literal('direct_message'),
    ref: Ref,
    recipient_id: Id(),
    ...messageFields,
  },
  { description: 'Sends a direct message to another user; answered with `ack {message, duplicate}` or `error`.' },
)
export type DirectMessageIn = Static<typeof DirectMessageIn>

/** Server → client: a stored direct message, to the recipient's sockets and the sender's other ones. */
export const DirectMessageOut = Type.Composite(
  [
    Type.Object({ type: Type.Literal('direct_message'), recipient_id: Id(), status: DeliveryStatus }),
    MessageFrameFields,
  ],
  {
    description:
      'A direct message stored between you and another user, with its delivery `status`: to every socket of the ' +
      'recipient (on connect for one that was PENDING) and to the sender’s other sockets.',
  },
)

/** Server → the sender's sockets: a direct message's delivery state changed. */
export const MessageStatusOut = Type.Object(
  {
    type: Type.Literal('message_status'),
    id: Id(),
    status: DeliveryStatus,
    recipient_id: Id(),
  },
  { description: 'The delivery state of a direct message you sent changed (DELIVERED, READ).' },
)
