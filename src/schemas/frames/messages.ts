import { Type, type Static } from '@sinclair/typebox'
import { Id } from '../common.js'
import { Message } from '../message.js'
import { clientFrame, ClientMessageFields, MessageFrameFields } from './common.js'

// Group messages, and what happens to any message afterwards: edits, deletes, reactions.

export const GroupMessageIn = clientFrame(
  'group_message',
  { group_id: Id(), ...ClientMessageFields },
  'Sends a message to a group you are a member of; answered with `ack {message, duplicate}` or `error`.',
)
export type GroupMessageIn = Static<typeof GroupMessageIn>

export const GroupMessageOut = Type.Composite(
  [Type.Object({ type: Type.Literal('group_message'), group_id: Id() }), MessageFrameFields],
  {
    description:
      'A message stored in one of your groups (also one sent over REST, and your own), to every socket of every member.',
  },
)
export type GroupMessageOut = Static<typeof GroupMessageOut>

export const MessageUpdatedOut = Type.Composite([Type.Object({ type: Type.Literal('message_updated') }), Message], {
  description: 'A message in one of your conversations was edited: the message as it is now.',
})
export type MessageUpdatedOut = Static<typeof MessageUpdatedOut>

export const MessageDeletedOut = Type.Object(
  {
    type: Type.Literal('message_deleted'),
    id: Id(),
    group_id: Type.Optional(Id('Set for a group message.')),
    recipient_id: Type.Optional(Id('Set for a direct message.')),
    sender_id: Id(),
  },
  { description: 'A message in one of your conversations was deleted; history keeps it as a tombstone.' },
)
export type MessageDeletedOut = Static<typeof MessageDeletedOut>

export const ReactionOut = Type.Object(
  {
    type: Type.Literal('reaction'),
    message_id: Id(),
    emoji: Type.String(),
    user_id: Id('Who reacted.'),
    action: Type.Union([Type.Literal('added'), Type.Literal('removed')]),
  },
  { description: 'Someone added or removed a reaction to a message in one of your conversations.' },
)
export type ReactionOut = Static<typeof ReactionOut>
