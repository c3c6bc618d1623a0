import { Type } from '@sinclair/typebox'
import { EMOJI_PATTERN, MAX_EMOJI_BYTES, MAX_EMOJI_LENGTH } from '../../src/domain/message-actions.js'
import { errorResponses, Id } from '../../src/schemas/common.js'
import { Message, MessageInputFields, ReactionCount } from '../../src/schemas/message.js'

const bearer = [{ bearerAuth: [] }]

const MessageParams = Type.Object({ messageID: Id() })

const Emoji = Type.String({
  minLength: 1,
  maxLength: MAX_EMOJI_LENGTH,
  pattern: EMOJI_PATTERN,
  description:
    `An emoji or a short name such as \`:thumbsup:\`: 1–${MAX_EMOJI_LENGTH} characters and at most ` +
    `${MAX_EMOJI_BYTES} bytes of UTF-8, without whitespace or control characters. Stored NFC-normalized.`,
})

export const editMessage = {
  tags: ['messages'],
  summary: 'Edit your message',
  operationId: 'editMessage',
  description:
    'Replaces the content of your own message and sets `edited_at`. Every member of the conversation gets a ' +
    '`message_updated` frame carrying the message. 403 `NOT_MESSAGE_AUTHOR` for another user’s message, ' +
    '409 `MESSAGE_DELETED` for a deleted one, 404 `MESSAGE_NOT_FOUND` for an unknown message or one in a ' +
    'conversation you are not part of.',
  security: bearer,
  params: MessageParams,
  body: Type.Object({ content: MessageInputFields.content }, { additionalProperties: false }),
  response: { 200: Message, ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
}

export const deleteMessage = {
  tags: ['messages'],
  summary: 'Delete a message',
  operationId: 'deleteMessage',
  description:
    'Your own message, or any message in a group where you are the owner or an admin. The message stays in ' +
    'history as a tombstone (`deleted: true`, empty `content`, `media_url` null, no reactions) and every member ' +
    'of the conversation gets a `message_deleted` frame. Deleting a deleted message answers 200 again and ' +
    'changes nothing. 403 `NOT_MESSAGE_AUTHOR` when you may not; 404 `MESSAGE_NOT_FOUND` for an unknown ' +
    'message or one you cannot see.',
  security: bearer,
  params: MessageParams,
  response: {
    200: Type.Object({
      message: Type.String(),
      id: Id('The deleted message.'),
    }),
    ...errorResponses(400, 401, 403, 404),
  },
}

const ReactionResult = Type.Object(
  {
    message_id: Id(),
    emoji: Type.String(),
    user_id: Id('You.'),
    action: Type.Union([Type.Literal('added'), Type.Literal('unchanged'), Type.Literal('removed')]),
    counts: Type.Array(ReactionCount, { description: 'The message’s reaction counts after the change.' }),
  },
  { title: 'ReactionResult' },
)

export const addReaction = {
  tags: ['messages'],
  summary: 'React to a message',
  operationId: 'addReaction',
  description:
    'Adds your reaction (one per user per emoji) to a message you can see; the conversation gets a `reaction` ' +
    'frame with `action: "added"`. 201 when added; 200 with `action: "unchanged"` (and no frame) when you had ' +
    'already reacted with that emoji. 409 `MESSAGE_DELETED` on a deleted message; 404 `MESSAGE_NOT_FOUND` for ' +
    'an unknown message or one you cannot see. A message carries at most `maxReactionsPerMessage` (default 50) ' +
    'different emoji: a new one past it is 409 `TOO_MANY_REACTIONS`.',
  security: bearer,
  params: MessageParams,
  body: Type.Object({ emoji: Emoji }, { additionalProperties: false }),
  response: { 200: ReactionResult, 201: ReactionResult, ...errorResponses(400, 401, 404, 409, 413, 415) },
}

export const removeReaction = {
  tags: ['messages'],
  summary: 'Remove your reaction',
  operationId: 'removeReaction',
  description:
    'Removes your reaction with that emoji (URL-encoded in the path); the conversation gets a `reaction` frame ' +
    'with `action: "removed"`. 404 `REACTION_NOT_FOUND` when you had none, 404 `MESSAGE_NOT_FOUND` for an ' +
    'unknown message or one you cannot see, 409 `MESSAGE_DELETED` on a deleted message.',
  security: bearer,
  params: Type.Object({ messageID: Id(), emoji: Emoji }),
  response: { 200: ReactionResult, ...errorResponses(400, 401, 404, 409) },
}
