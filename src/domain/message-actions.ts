import type { Role } from '../schemas/group.js'
import type { Message, ReactionCount } from '../schemas/message.js'
import { badRequest, conflict, forbidden, notFound } from './errors.js'
import type { ReactionOut } from '../schemas/frames/index.js'
import type { GroupStore, Hub, MessageStore, ReactionStore } from './ports.js'

// Edits, deletes and reactions: what happens to a message after it is stored.

export interface MessageActionPorts {
  groups: GroupStore
  messages: MessageStore
  reactions: ReactionStore
  hub: Hub
}

/** An emoji is at most this many characters (Unicode code points)… */
export const MAX_EMOJI_LENGTH = 32
/** …and this many bytes of UTF-8, so that its URL-encoded form fits one path segment of the router. */
export const MAX_EMOJI_BYTES = 32
/** Whitespace and control characters are refused anywhere in an emoji. */
export const EMOJI_PATTERN = '^[^\\s\\p{Cc}]+$'
const emojiPattern = new RegExp(EMOJI_PATTERN, 'u')

const messageNotFound = () => notFound('MESSAGE_NOT_FOUND', 'No message has that id.')
const messageDeleted = () => conflict('MESSAGE_DELETED', 'That message has been deleted.')

/** Owners and admins moderate a group: they may delete anyone's message in it. */
const canModerate = (role: Role | undefined) => role === 'owner' || role === 'admin'

/** Where a message belongs, as the frames name it: its group, or for a direct message its recipient. */
function conversationOf(message: Message): { group_id: number } | { recipient_id: number } {
  if (message.group_id !== undefined) return { group_id: message.group_id }
  return { recipient_id: message.recipient_id ?? message.sender_id }
}

/** Who sees a message's conversation: every member of its group, or both participants of a direct one. */
async function conversationMembers(groups: GroupStore, message: Message): Promise<readonly number[]> {
  if (message.group_id !== undefined) return groups.memberIds(message.group_id)
  if (message.recipient_id !== undefined) return [...new Set([message.sender_id, message.recipient_id])]
  return []
}

/**
 * The message and the users of its conversation, when the caller is one of them. An unknown
 * message and one the caller cannot see are refused alike with 404, so existence does not leak.
 */
async function findVisibleMessage(
  ports: { groups: GroupStore; messages: MessageStore },
  callerId: number,
  messageId: number,
): Promise<{ message: Message; audience: readonly number[] }> {
  const message = await ports.messages.find(messageId)
  if (!message) throw messageNotFound()
  const audience = await conversationMembers(ports.groups, message)
  if (!audience.includes(callerId)) throw messageNotFound()
  return { message, audience }
}

/**
 * Replaces the content of the caller's own message, sets `edited_at` and sends `message_updated`
 * to the conversation. Refuses another user's message (403) and a deleted one (409).
 */
export async function editMessage(
  ports: MessageActionPorts,
  callerId: number,
  messageId: number,
  content: string,
): Promise<Message> {
  const { message, audience } = await findVisibleMessage(ports, callerId, messageId)
  if (message.sender_id !== callerId) {
    throw forbidden('NOT_MESSAGE_AUTHOR', 'You can only edit your own messages.')
  }
  if (message.deleted) throw messageDeleted()
  const edited = await ports.messages.updateContent(messageId, content, new Date().toISOString())
  // Deleted between the read and the write.
  if (!edited) throw messageDeleted()
  ports.hub.publish(audience, { type: 'message_updated', ...edited })
  return edited
}

/**
 * Deletes a message, leaving a tombstone in history: the author may, and so may a group's owner or
 * an admin for any message in the group. Deleting a deleted message succeeds and changes nothing
 * (`deleted: false`, no frame); otherwise the conversation gets `message_deleted`.
 */
export async function deleteMessage(
  ports: MessageActionPorts,
  callerId: number,
  messageId: number,
): Promise<{ deleted: boolean }> {
  const { message, audience } = await findVisibleMessage(ports, callerId, messageId)
  if (message.sender_id !== callerId) {
    const role = message.group_id !== undefined ? await ports.groups.roleOf(message.group_id, callerId) : undefined
    if (!canModerate(role)) {
      throw forbidden(
        'NOT_MESSAGE_AUTHOR',
        'Only the author, or the group’s owner or an admin, can delete this message.',
      )
    }
  }
  const deleted = await ports.messages.softDelete(messageId, new Date().toISOString())
  if (deleted) {
    ports.hub.publish(audience, {
      type: 'message_deleted',
      id: message.id,
      ...conversationOf(message),
      sender_id: message.sender_id,
    })
  }
  return { deleted }
}

/**
 * An emoji as stored: NFC-normalized, so the same emoji typed two ways is one reaction. Refuses an
 * empty one, one with whitespace or control characters, and one over the length limits (400).
 */
function normalizeEmoji(raw: string): string {
  const emoji = raw.normalize('NFC')
  if (!emojiPattern.test(emoji)) {
    throw badRequest('VALIDATION_ERROR', 'emoji: must be non-empty, without whitespace or control characters.')
  }
  if ([...emoji].length > MAX_EMOJI_LENGTH || new TextEncoder().encode(emoji).length > MAX_EMOJI_BYTES) {
    throw badRequest(
      'VALIDATION_ERROR',
      `emoji: must be at most ${MAX_EMOJI_LENGTH} characters and ${MAX_EMOJI_BYTES} bytes of UTF-8.`,
    )
  }
  return emoji
}

export interface ReactionResult {
  message_id: number
  emoji: string
  user_id: number
  action: 'added' | 'unchanged' | 'removed'
  /** The message's reaction counts after the change. */
  counts: ReactionCount[]
}

/** The `reaction` frame of a reaction that was added or removed (an unchanged one sends none). */
function reactionFrame(result: ReactionResult, action: ReactionOut['action']): ReactionOut {
  return { type: 'reaction', message_id: result.message_id, emoji: result.emoji, user_id: result.user_id, action }
}

/** The emoji a caller reacts with, on a message they can see that is not deleted (refused otherwise), and who sees it. */
async function reactionTarget(ports: MessageActionPorts, callerId: number, messageId: number, rawEmoji: string) {
  const emoji = normalizeEmoji(rawEmoji)
  const { message, audience } = await findVisibleMessage(ports, callerId, messageId)
  if (message.deleted) throw messageDeleted()
  return { emoji, audience }
}

/** A reaction change with the message's reaction counts after it. */
async function reactionResult(
  ports: MessageActionPorts,
  callerId: number,
  messageId: number,
  emoji: string,
  action: ReactionResult['action'],
): Promise<ReactionResult> {
  const counts = (await ports.messages.reactionCounts([messageId])).get(messageId) ?? []
  return { message_id: messageId, emoji, user_id: callerId, action, counts }
}

/**
 * Adds the caller's reaction to a message they can see and sends `reaction` to its conversation.
 * A user has one reaction per emoji: adding it again changes nothing (`action: 'unchanged'`, no frame).
 * Refuses a deleted message (409), and a new emoji on a message that already carries `maxEmoji` distinct
 * ones (409 TOO_MANY_REACTIONS; reacting with an emoji already there still works).
 */
export async function addReaction(
  ports: MessageActionPorts,
  callerId: number,
  messageId: number,
  rawEmoji: string,
  maxEmoji = Number.POSITIVE_INFINITY,
): Promise<ReactionResult> {
  const { emoji, audience } = await reactionTarget(ports, callerId, messageId, rawEmoji)
  const outcome = await ports.reactions.add(messageId, callerId, emoji, new Date().toISOString(), maxEmoji)
  if (outcome === 'deleted') throw messageDeleted()
  if (outcome === 'full') {
    throw conflict(
      'TOO_MANY_REACTIONS',
      `This message already carries ${maxEmoji} different emoji, the most allowed: react with one of them.`,
    )
  }
  const result = await reactionResult(ports, callerId, messageId, emoji, outcome === 'added' ? 'added' : 'unchanged')
  if (outcome === 'added') ports.hub.publish(audience, reactionFrame(result, 'added'))
  return result
}

/**
 * Removes the caller's reaction and sends `reaction` with `action: 'removed'` to the conversation.
 * Refuses when the caller had no such reaction (404 REACTION_NOT_FOUND) and on a deleted message (409).
 */
export async function removeReaction(
  ports: MessageActionPorts,
  callerId: number,
  messageId: number,
  rawEmoji: string,
): Promise<ReactionResult> {
  const { emoji, audience } = await reactionTarget(ports, callerId, messageId, rawEmoji)
  const outcome = await ports.reactions.remove(messageId, callerId, emoji)
  if (outcome === 'deleted') throw messageDeleted()
  if (outcome === 'none') throw notFound('REACTION_NOT_FOUND', 'You have not reacted to that message with that emoji.')
  const result = await reactionResult(ports, callerId, messageId, emoji, 'removed')
  ports.hub.publish(audience, reactionFrame(result, 'removed'))
  return result
}

/**
 * A history page with each message's reaction counts filled in (`reactions`, left out where there
 * are none, and always for a deleted message). Group and direct history both call it on the page.
 */
export async function withReactionCounts(
  messages: Pick<MessageStore, 'reactionCounts'>,
  page: Message[],
): Promise<Message[]> {
  if (page.length === 0) return page
  const counts = await messages.reactionCounts(page.map((message) => message.id))
  if (counts.size === 0) return page
  return page.map((message) => {
    const reactions = counts.get(message.id)
    return reactions ? { ...message, reactions } : message
  })
}
