import { Type, type Static } from '@sinclair/typebox'
import { Id, Nullable, Timestamp } from './common.js'

export const MessageKind = Type.Union(
  [Type.Literal('text'), Type.Literal('image'), Type.Literal('file'), Type.Literal('system')],
  { description: 'What the message carries. `system` is written by the server only.' },
)
export type MessageKind = Static<typeof MessageKind>

export const DeliveryStatus = Type.Union([
  Type.Literal('SENT'),
  Type.Literal('PENDING'),
  Type.Literal('DELIVERED'),
  Type.Literal('READ'),
])

/** Limits on what a client may send; the request schemas and the socket frames share them. */
const MAX_CONTENT_LENGTH = 16_000
const MAX_URL_LENGTH = 2_048
const MAX_CLIENT_MSG_ID_LENGTH = 128

/**
 * A link a message may carry: `http` or `https` only (the scheme in any case), with a host. Other schemes
 * (`javascript:`, `data:`, `file:`, …) run code or read local files when a client renders the link.
 */
export const MEDIA_URL_PATTERN = '^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]'

/** How many users reacted to a message with one emoji. */
export const ReactionCount = Type.Object(
  { emoji: Type.String(), count: Type.Integer({ minimum: 1 }) },
  { title: 'ReactionCount' },
)
export type ReactionCount = Static<typeof ReactionCount>

/**
 * A stored message. Group messages carry `group_id`, direct messages `recipient_id` and `status`.
 * `id` grows with every stored message across the server, so it orders and pages everything.
 */
export const Message = Type.Object(
  {
    id: Id(),
    group_id: Type.Optional(Id()),
    recipient_id: Type.Optional(Id()),
    sender_id: Id(),
    kind: MessageKind,
    content: Type.String({ description: 'Empty for a deleted message.' }),
    media_url: Nullable(Type.String()),
    reply_to_id: Nullable(Id()),
    client_msg_id: Nullable(Type.String()),
    timestamp: Timestamp('When the server stored the message.'),
    edited_at: Nullable(Timestamp()),
    deleted: Type.Boolean(),
    status: Type.Optional(DeliveryStatus),
    reactions: Type.Optional(
      Type.Array(ReactionCount, {
        description: 'In history: how many users reacted with each emoji, most used first. Absent when none.',
      }),
    ),
  },
  { title: 'Message' },
)
export type Message = Static<typeof Message>

/** What a client sends to post a message, over REST or inside a socket frame. */
export const MessageInputFields = {
  content: Type.String({ minLength: 1, maxLength: MAX_CONTENT_LENGTH }),
  type: Type.Optional(
    Type.Union([Type.Literal('text'), Type.Literal('image'), Type.Literal('file')], {
      description: 'The message kind (the original API’s name for it); `kind` is accepted too.',
    }),
  ),
  kind: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('image'), Type.Literal('file')])),
  media_url: Type.Optional(
    Type.String({
      format: 'uri',
      pattern: MEDIA_URL_PATTERN,
      maxLength: MAX_URL_LENGTH,
      description: 'An `http` or `https` URL; any other scheme (`javascript:`, `data:`, …) is refused with a 400.',
    }),
  ),
  reply_to_id: Type.Optional(Id('A message in the same conversation this one answers.')),
  client_msg_id: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_CLIENT_MSG_ID_LENGTH,
      description:
        'Chosen by the client; a retry with the same value from the same sender to the same conversation is ' +
        'stored once. The same value in another conversation is a new message.',
    }),
  ),
}
export const MessageInput = Type.Object(MessageInputFields, { additionalProperties: false })
export type MessageInput = Static<typeof MessageInput>
