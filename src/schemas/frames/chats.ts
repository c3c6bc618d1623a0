import { Type, type Static } from '@sinclair/typebox'
import { Id } from '../common.js'
import { ConversationFields } from '../chat.js'
import { clientFrame } from './common.js'

// Read markers and typing indicators: per conversation, never messages themselves.

export const ReadIn = clientFrame(
  'read',
  { ...ConversationFields, message_id: Id() },
  'Moves your read marker in one conversation (exactly one of `group_id` and `user_id`) forward to ' +
    '`message_id`; answered with `ack {read}`.',
)
export type ReadIn = Static<typeof ReadIn>

const TypingState = Type.Union([Type.Literal('start'), Type.Literal('stop')])

export const TypingIn = clientFrame(
  'typing',
  { ...ConversationFields, state: TypingState },
  'You are typing in a conversation (exactly one of `group_id` and `user_id`): repeat `start` every few ' +
    'seconds while typing, `stop` when done. Never stored; an `ack` answers it only when it carries a `ref`.',
)
export type TypingIn = Static<typeof TypingIn>

/** Server → your other sockets: your read marker moved. */
export const ReadOut = Type.Object(
  {
    type: Type.Literal('read'),
    ...ConversationFields,
    message_id: Type.Integer({ minimum: 0, description: 'Your read marker after the move.' }),
  },
  { description: 'Your read marker moved (from another of your sockets, or over REST): to your other sockets.' },
)
export type ReadOut = Static<typeof ReadOut>

/** Server → the conversation's other participants: someone is typing, or stopped. */
export const TypingOut = Type.Object(
  {
    type: Type.Literal('typing'),
    group_id: Type.Optional(Id('The group; absent in a direct conversation.')),
    user_id: Id('Who is typing.'),
    state: TypingState,
  },
  {
    description:
      'Someone in one of your conversations started or stopped typing. Throttled to one `start` per 2 s per ' +
      'sender; a `start` not renewed within 6 s is followed by a `stop` from the server. Never stored.',
  },
)
export type TypingOut = Static<typeof TypingOut>
