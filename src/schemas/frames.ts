import { Type, type Static } from '@sinclair/typebox'
import { Id, Timestamp } from './common.js'
import { Message, MessageInputFields } from './message.js'

// The socket protocol. Client frames are validated against these schemas (compiled once);
// server frames are documented by them.

const Ref = Type.Optional(
  Type.Union([Type.String({ maxLength: 128 }), Type.Integer()], {
    description: 'Chosen by the client; the `ack` or `error` answering this frame echoes it.',
  }),
)

export const PingIn = Type.Object({ type: Type.Literal('ping'), ref: Ref })

/** Replays what the client missed after `since` (the last message id it saw), then goes on live. */
export const ResumeIn = Type.Object({
  type: Type.Literal('resume'),
  ref: Ref,
  since: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
})

const { type: _kindAlias, ...messageFields } = MessageInputFields
export const GroupMessageIn = Type.Object({
  type: Type.Literal('group_message'),
  ref: Ref,
  group_id: Id(),
  ...messageFields,
})
export type GroupMessageIn = Static<typeof GroupMessageIn>

export const GroupMessageOut = Type.Composite([Type.Object({ type: Type.Literal('group_message') }), Message])

export const AckOut = Type.Object({
  type: Type.Literal('ack'),
  ref: Ref,
  message: Type.Optional(Message),
  duplicate: Type.Optional(
    Type.Boolean({ description: 'True when a retried `client_msg_id` matched a stored message.' }),
  ),
})

export const ErrorOut = Type.Object({
  type: Type.Literal('error'),
  ref: Ref,
  code: Type.String(),
  error: Type.String(),
})

export const PongOut = Type.Object({ type: Type.Literal('pong'), ref: Ref, timestamp: Timestamp() })

export const MessageUpdatedOut = Type.Composite([Type.Object({ type: Type.Literal('message_updated') }), Message])

export const MessageDeletedOut = Type.Object({
  type: Type.Literal('message_deleted'),
  id: Id(),
  group_id: Type.Optional(Id('Set for a group message.')),
  recipient_id: Type.Optional(Id('Set for a direct message.')),
  sender_id: Id(),
})

export const ReactionOut = Type.Object({
  type: Type.Literal('reaction'),
  message_id: Id(),
  emoji: Type.String(),
  user_id: Id('Who reacted.'),
  action: Type.Union([Type.Literal('added'), Type.Literal('removed')]),
})
