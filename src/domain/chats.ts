import { badRequest, forbidden, notFound, userNotFound } from './errors.js'
import { requireMembership } from './groups.js'
import type { ChatSummary } from '../schemas/chat.js'
import type { UserPageQuery, UserWithChatInfo } from '../schemas/user.js'
import type { ChatStore, GroupStore, Hub, HubConnection, UserStore } from './ports.js'
import { listUsers, type UserPage } from './users.js'

/** A conversation named by a client: a group, or a direct conversation with another user. */
export interface ConversationRef {
  group_id?: number | undefined
  user_id?: number | undefined
}

export type Conversation = { kind: 'group'; groupId: number } | { kind: 'direct'; peerId: number }

/** Exactly one of `group_id` and `user_id` names the conversation. */
export function conversationOf(ref: ConversationRef): Conversation {
  if ((ref.group_id === undefined) === (ref.user_id === undefined)) {
    throw badRequest('VALIDATION_ERROR', 'Name the conversation with exactly one of `group_id` and `user_id`.')
  }
  return ref.group_id !== undefined
    ? { kind: 'group', groupId: ref.group_id }
    : { kind: 'direct', peerId: ref.user_id! }
}

export interface ChatPorts {
  chats: ChatStore
  groups: GroupStore
  users: UserStore
  hub: Hub
  /** Moves the caller's marker in a direct conversation forward and updates delivery states; resolves the marker. */
  markDirectRead: (userId: number, peerId: number, messageId: number) => Promise<number>
}

/**
 * Resolves who else takes part in a conversation the caller may use: the other members of a
 * group (refused unless the caller is one), or the other user of a direct conversation.
 */
export async function otherParticipants(
  ports: Pick<ChatPorts, 'groups' | 'users'>,
  userId: number,
  conversation: Conversation,
): Promise<number[]> {
  if (conversation.kind === 'group') {
    await requireMembership(ports.groups, conversation.groupId, userId)
    return (await ports.groups.memberIds(conversation.groupId)).filter((id) => id !== userId)
  }
  if (conversation.peerId === userId)
    throw badRequest('CANNOT_MESSAGE_SELF', 'A direct conversation needs another user.')
  if (!(await ports.users.findById(conversation.peerId))) throw userNotFound()
  return [conversation.peerId]
}

/**
 * Moves the caller's read marker forward to `messageId` (never back) and tells the caller's other
 * sockets. The message must be in that conversation. Resolves the marker after the move.
 */
export async function markRead(
  ports: ChatPorts,
  userId: number,
  ref: ConversationRef,
  messageId: number,
  from?: HubConnection,
): Promise<{ group_id?: number; user_id?: number; message_id: number }> {
  const conversation = conversationOf(ref)
  if (conversation.kind === 'group') {
    await requireMembership(ports.groups, conversation.groupId, userId)
    if (!(await ports.chats.messageInGroup(messageId, conversation.groupId))) {
      throw notFound('MESSAGE_NOT_FOUND', 'No message with that id in this conversation.')
    }
    const marker = await ports.chats.markGroupRead(userId, conversation.groupId, messageId)
    const moved = { group_id: conversation.groupId, message_id: marker }
    ports.hub.publishToUser(userId, { type: 'read', ...moved }, from)
    return moved
  }
  await otherParticipants(ports, userId, conversation)
  const marker = await ports.markDirectRead(userId, conversation.peerId, messageId)
  const moved = { user_id: conversation.peerId, message_id: marker }
  ports.hub.publishToUser(userId, { type: 'read', ...moved }, from)
  return moved
}

/** Presence is visible to yourself and to users who share a group or a direct conversation with you. */
export async function requireContact(chats: ChatStore, viewerId: number, userId: number): Promise<void> {
  if (viewerId === userId) return
  if (!(await chats.areContacts(viewerId, userId))) {
    throw forbidden('NOT_A_CONTACT', 'You can see the presence only of users you share a conversation with.')
  }
}

/** Every conversation of the user, most recent first. */
export function listChats(chats: ChatStore, userId: number): Promise<ChatSummary[]> {
  return chats.chatList(userId)
}

/**
 * A page of users (as `listUsers`), each with the caller's direct conversation with them (last
 * message, unread count, last activity) and, for the caller's contacts and the caller, presence.
 */
export async function usersWithChatInfo(
  ports: Pick<ChatPorts, 'chats' | 'users' | 'hub'>,
  callerId: number,
  query: UserPageQuery,
): Promise<UserPage<UserWithChatInfo>> {
  const [page, mine, contacts] = await Promise.all([
    listUsers(ports.users, callerId, query),
    ports.chats.chatList(callerId),
    ports.chats.contactsOf(callerId),
  ])
  const directByPeer = new Map(mine.filter((chat) => chat.chat === 'direct').map((chat) => [chat.user_id, chat]))
  const contactIds = new Set(contacts)
  const users = page.users.map((user) => {
    const direct = directByPeer.get(user.id)
    return {
      ...user,
      online: user.id === callerId || contactIds.has(user.id) ? ports.hub.isOnline(user.id) : null,
      last_message: direct?.last_message ?? null,
      unread_count: direct?.unread_count ?? 0,
      last_activity: direct?.last_activity ?? null,
    }
  })
  return { ...page, users }
}
