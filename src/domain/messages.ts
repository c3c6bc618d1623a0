import type { Message, MessageInput, MessageKind } from '../schemas/message.js'
import { badRequest, groupNotFound, notAMember } from './errors.js'
import { requireMembership } from './groups.js'
import { withReactionCounts } from './message-actions.js'
import type { GroupMessageOut } from '../schemas/frames/index.js'
import type { GroupStore, Hub, MessageStore } from './ports.js'

export interface MessagePorts {
  groups: GroupStore
  messages: MessageStore
  hub: Hub
}

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 100

/** The seed's `group_message` frame: its fields first, then the rest of the stored message. */
export function groupMessageFrame(message: Message): GroupMessageOut {
  return {
    type: 'group_message',
    id: message.id,
    // Only ever called with a group's message, which always has its group.
    group_id: message.group_id!,
    sender_id: message.sender_id,
    ...messageFrameBody(message),
  }
}

/** What every message frame carries after its type, id and conversation: the rest of the stored message. */
export function messageFrameBody(message: Message) {
  return {
    content: message.content,
    timestamp: message.timestamp,
    kind: message.kind,
    media_url: message.media_url,
    reply_to_id: message.reply_to_id,
    client_msg_id: message.client_msg_id,
    edited_at: message.edited_at,
    deleted: message.deleted,
  }
}

/** The stored fields of a message a client sent, the same for every conversation. */
export function messageFields(input: MessageInput, kind: MessageKind) {
  return {
    kind,
    content: input.content,
    mediaUrl: input.media_url ?? null,
    replyToId: input.reply_to_id ?? null,
    clientMsgId: input.client_msg_id ?? null,
    now: new Date().toISOString(),
  }
}

/** The message kind a client asked for: `kind`, or `type` (its name in the original API); text by default. */
export function resolveKind(input: MessageInput): MessageKind {
  if (input.kind && input.type && input.kind !== input.type) {
    throw badRequest('VALIDATION_ERROR', '`type` and `kind` name the same thing and must agree.')
  }
  return input.kind ?? input.type ?? 'text'
}

/**
 * Stores a message from a member and then publishes it to every member's sockets.
 * A retry with the same `client_msg_id` in the same group resolves the original with `created: false` and
 * publishes nothing; the same key in another conversation is another message.
 */
export async function postGroupMessage(
  ports: MessagePorts,
  senderId: number,
  groupId: number,
  input: MessageInput,
): Promise<{ message: Message; created: boolean }> {
  const kind = resolveKind(input)
  // One read both checks membership and names the receivers.
  const memberIds = await ports.groups.memberIds(groupId)
  if (!memberIds.includes(senderId)) {
    if (!(await ports.groups.find(groupId))) throw groupNotFound()
    throw notAMember()
  }
  if (input.reply_to_id !== undefined) {
    const original = await ports.messages.find(input.reply_to_id)
    if (!original || original.group_id !== groupId) {
      throw badRequest('INVALID_REPLY', '`reply_to_id` must name a message in the same conversation.')
    }
  }
  const result = await ports.messages.insert({ senderId, groupId, ...messageFields(input, kind) })
  if (result.created) ports.hub.publish(memberIds, groupMessageFrame(result.message))
  return result
}

export interface HistoryQuery {
  limit?: number
  before_id?: number
  after_id?: number
}

export interface History {
  messages: Message[]
  count: number
  has_more: boolean
  next_before_id: number | null
  next_after_id: number | null
}

/**
 * One page of a conversation, oldest→newest within the page. Without `after_id` the page holds
 * the newest messages below `before_id` and pages backwards; with it, the oldest above it, forwards.
 */
export function toHistoryPage(rows: Message[], query: HistoryQuery): History {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE
  const hasMore = rows.length > limit
  if (query.after_id !== undefined) {
    const messages = rows.slice(0, limit)
    return {
      messages,
      count: messages.length,
      has_more: hasMore,
      next_before_id: null,
      next_after_id: hasMore ? (messages.at(-1)?.id ?? null) : null,
    }
  }
  const messages = rows.slice(Math.max(0, rows.length - limit))
  return {
    messages,
    count: messages.length,
    has_more: hasMore,
    next_before_id: hasMore ? (messages[0]?.id ?? null) : null,
    next_after_id: null,
  }
}

export async function groupHistory(
  ports: Pick<MessagePorts, 'groups' | 'messages'>,
  callerId: number,
  groupId: number,
  query: HistoryQuery,
): Promise<History> {
  await requireMembership(ports.groups, groupId, callerId)
  const rows = await ports.messages.groupHistory(groupId, {
    limit: query.limit ?? DEFAULT_PAGE_SIZE,
    ...(query.before_id !== undefined ? { beforeId: query.before_id } : {}),
    ...(query.after_id !== undefined ? { afterId: query.after_id } : {}),
  })
  const page = toHistoryPage(rows, query)
  return { ...page, messages: await withReactionCounts(ports.messages, page.messages) }
}
