import type { Message, MessageInput } from '../schemas/message.js'
import { badRequest, notFound, userNotFound } from './errors.js'
import { withReactionCounts } from './message-actions.js'
import {
  DEFAULT_PAGE_SIZE,
  messageFields,
  messageFrameBody,
  resolveKind,
  toHistoryPage,
  type History,
  type HistoryQuery,
} from './messages.js'
import type { DirectMessageOut, MessageStatusOut, ServerFrame } from '../schemas/frames/index.js'
import type { DirectStore, Hub, HubConnection, MessageStore, UserStore } from './ports.js'

// Direct messages: one conversation per pair of users, with a delivery state per message
// (SENT → DELIVERED → READ, or PENDING while the recipient has no socket open).

export interface DirectPorts {
  users: UserStore
  messages: MessageStore
  direct: DirectStore
  hub: Hub
}

type DeliveryState = NonNullable<Message['status']>

/** The conversation key of two users, "<lower id>:<higher id>", the same from either side. */
export const directPair = (userId: number, peerId: number) =>
  userId < peerId ? `${userId}:${peerId}` : `${peerId}:${userId}`

const cannotMessageSelf = () => badRequest('CANNOT_MESSAGE_SELF', 'You cannot send a direct message to yourself.')

/** A stored direct message as a socket frame. */
export function directMessageFrame(message: Message): DirectMessageOut {
  // Only ever called with a direct message, which always has its recipient and a status.
  return {
    type: 'direct_message',
    id: message.id,
    sender_id: message.sender_id,
    recipient_id: message.recipient_id!,
    ...messageFrameBody(message),
    status: message.status!,
  }
}

/** Tells a direct message's sender that its delivery state changed. */
export function messageStatusFrame(
  message: Pick<Message, 'id' | 'recipient_id'>,
  status: DeliveryState,
): MessageStatusOut {
  return { type: 'message_status', id: message.id, status, recipient_id: message.recipient_id! }
}

// The same rule as for group messages: `type` is the original API's name for `kind`.
/** Refuses a conversation with oneself (400) or with a user who does not exist (404). */
async function requirePeer(users: UserStore, userId: number, peerId: number): Promise<void> {
  if (userId === peerId) throw cannotMessageSelf()
  if (!(await users.findById(peerId))) throw userNotFound()
}

/**
 * Stores a direct message and pushes it as a `direct_message` frame to every socket of the
 * recipient and to the sender's sockets except `from` (the socket it came from, which gets an
 * `ack` instead). Its status is SENT when the recipient has a socket open, PENDING otherwise.
 * A retry with the same `client_msg_id` to the same recipient resolves the original with `created: false`
 * and pushes nothing; the same key in another conversation is another message.
 */
export async function postDirectMessage(
  ports: DirectPorts,
  senderId: number,
  recipientId: number,
  input: MessageInput,
  from?: HubConnection,
): Promise<{ message: Message; created: boolean }> {
  const kind = resolveKind(input)
  await requirePeer(ports.users, senderId, recipientId)
  if (input.reply_to_id !== undefined) {
    const original = await ports.messages.find(input.reply_to_id)
    const sameConversation =
      original?.recipient_id !== undefined &&
      directPair(original.sender_id, original.recipient_id) === directPair(senderId, recipientId)
    if (!sameConversation) {
      throw badRequest('INVALID_REPLY', '`reply_to_id` must name a message in the same conversation.')
    }
  }
  const result = await ports.direct.insert({
    senderId,
    recipientId,
    ...messageFields(input, kind),
    status: ports.hub.isOnline(recipientId) ? 'SENT' : 'PENDING',
  })
  if (!result.created) return result

  const { message } = result
  if (message.status === 'PENDING' && ports.hub.isOnline(recipientId)) {
    // The recipient connected while the message was being stored. Whichever claims it first — this
    // send or the new socket's catch-up — delivers it, so it reaches the recipient exactly once.
    ports.hub.publishToUser(senderId, directMessageFrame(message), from)
    const delivered = await ports.direct.claimPending(recipientId, message.id)
    const claimed = delivered[0]
    // Already delivered by the new socket's catch-up: answer with the state it is in now.
    if (!claimed) return { message: (await ports.messages.find(message.id)) ?? message, created: true }
    ports.hub.publishToUser(recipientId, directMessageFrame(claimed))
    ports.hub.publishToUser(senderId, messageStatusFrame(claimed, 'DELIVERED'))
    return { message: claimed, created: true }
  }
  ports.hub.publish([recipientId, senderId], directMessageFrame(message), from)
  return result
}

/**
 * Delivers the recipient's PENDING messages on a socket that just opened, oldest first: each is
 * sent with `send`, becomes DELIVERED, and its sender's sockets get a `message_status` frame.
 */
export async function deliverPending(
  ports: Pick<DirectPorts, 'direct' | 'hub'>,
  recipientId: number,
  send: (frame: ServerFrame) => void,
): Promise<Message[]> {
  const delivered = await ports.direct.claimPending(recipientId)
  for (const message of delivered) send(directMessageFrame(message))
  for (const message of delivered) ports.hub.publishToUser(message.sender_id, messageStatusFrame(message, 'DELIVERED'))
  return delivered
}

export interface DirectReadResult {
  /** The caller's read marker in this conversation after the call. */
  last_read_id: number
  /** Whether the marker moved. */
  moved: boolean
  /** The peer's messages that became READ. */
  read: Message[]
}

/**
 * Moves `userId`'s read marker in the conversation with `peerId` forward to `messageId` (never
 * back), marks the peer's messages up to the marker READ and tells the peer's sockets with a
 * `message_status` frame per message. `messageId` must be a message of this conversation (404
 * MESSAGE_NOT_FOUND otherwise); the peer must exist (404 USER_NOT_FOUND) and not be the caller (400).
 */
export async function markDirectRead(
  ports: Pick<DirectPorts, 'users' | 'messages' | 'direct' | 'hub'>,
  userId: number,
  peerId: number,
  messageId: number,
): Promise<DirectReadResult> {
  await requirePeer(ports.users, userId, peerId)
  const message = await ports.messages.find(messageId)
  if (
    message?.recipient_id === undefined ||
    directPair(message.sender_id, message.recipient_id) !== directPair(userId, peerId)
  ) {
    throw notFound('MESSAGE_NOT_FOUND', 'No message with that id in this conversation.')
  }
  const result = await ports.direct.markRead(userId, peerId, messageId)
  for (const read of result.read) ports.hub.publishToUser(peerId, messageStatusFrame(read, 'READ'))
  return { last_read_id: result.lastReadId, moved: result.moved, read: result.read }
}

/** One page of the conversation between the caller and `peerId` (see `toHistoryPage`), with reaction counts. */
export async function directHistory(
  ports: Pick<DirectPorts, 'users' | 'messages' | 'direct'>,
  callerId: number,
  peerId: number,
  query: HistoryQuery,
): Promise<History> {
  if (callerId !== peerId && !(await ports.users.findById(peerId))) throw userNotFound()
  const rows = await ports.direct.history(callerId, peerId, {
    limit: query.limit ?? DEFAULT_PAGE_SIZE,
    ...(query.before_id !== undefined ? { beforeId: query.before_id } : {}),
    ...(query.after_id !== undefined ? { afterId: query.after_id } : {}),
  })
  const page = toHistoryPage(rows, query)
  return { ...page, messages: await withReactionCounts(ports.messages, page.messages) }
}
