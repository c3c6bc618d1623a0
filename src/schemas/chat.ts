import { Type, type Static } from '@sinclair/typebox'
import { Id, Nullable, Timestamp } from './common.js'
import { Message } from './message.js'

/** A conversation named by exactly one of `group_id` and `user_id`, in request bodies and frames. */
export const ConversationFields = {
  group_id: Type.Optional(Id('The group, for a group conversation.')),
  user_id: Type.Optional(Id('The other user, for a direct conversation.')),
}

/** One conversation in the caller's chat list: a group or a direct conversation with another user. */
export const ChatSummary = Type.Object(
  {
    chat: Type.Union([Type.Literal('group'), Type.Literal('direct')]),
    group_id: Type.Optional(Id()),
    user_id: Type.Optional(Id('The other participant of a direct conversation.')),
    name: Type.String({ description: 'The group’s name, or the other user’s username.' }),
    last_message: Nullable(Message),
    unread_count: Type.Integer({ minimum: 0, description: 'Messages from others after your read marker.' }),
    last_read_id: Type.Integer({ minimum: 0, description: 'Your read marker: the newest message id you have read.' }),
    last_activity: Timestamp('The last message’s time, or when the conversation began.'),
  },
  { title: 'ChatSummary' },
)
export type ChatSummary = Static<typeof ChatSummary>
