import type { ChatSummary } from '../schemas/chat.js'
import type { ServerFrame } from '../schemas/frames/index.js'
import type { Group, GroupMember, Role } from '../schemas/group.js'
import type { Message, MessageKind, ReactionCount } from '../schemas/message.js'
import type { User } from '../schemas/user.js'

// The ports the domain talks to. Plugins provide the implementations (Kysely stores, the hub,
// argon2, JWT); the domain knows only these shapes.

interface UserWithHash extends User {
  password_hash: string
}

export interface UserStore {
  /** Inserts a user; resolves `'email'` or `'username'` instead when that one is already taken. */
  create(user: {
    username: string
    email: string
    passwordHash: string
    now: string
  }): Promise<User | 'email' | 'username'>
  findByEmail(email: string): Promise<UserWithHash | undefined>
  findById(id: number): Promise<User | undefined>
  /** Users ordered by id, after `afterId`, whose username contains `query` (any case). */
  list(page: { query?: string; afterId?: number; limit: number }): Promise<User[]>
  /** The user with their password hash, for re-checking the current password. */
  findByIdWithHash(id: number): Promise<UserWithHash | undefined>
  /**
   * Changes the given fields of one user in one write; resolves `'username'`, changing nothing,
   * when that username is taken (case-insensitive), and undefined when no user has the id.
   */
  update(
    id: number,
    changes: { username?: string; passwordHash?: string; now: string },
  ): Promise<User | 'username' | undefined>
}

export interface GroupStore {
  /** Creates a group with its creator as owner and first member. */
  create(ownerId: number, name: string, now: string): Promise<Group>
  /** How many groups the user owns. */
  ownedCount(userId: number): Promise<number>
  find(groupId: number): Promise<Group | undefined>
  listForUser(userId: number): Promise<Group[]>
  roleOf(groupId: number, userId: number): Promise<Role | undefined>
  members(groupId: number): Promise<GroupMember[]>
  /** The members' ids in id order (empty for no such group); the array may be shared: do not change it. */
  memberIds(groupId: number): Promise<readonly number[]>
  /** Adds a member; resolves false, changing nothing, when they already are one. */
  addMember(groupId: number, userId: number, role: Role, now: string): Promise<boolean>
  /** Renames a group; resolves the group after it, or undefined when it does not exist. */
  rename(groupId: number, name: string, now: string): Promise<Group | undefined>
  /** Deletes a group with its members, messages and their reactions; false when it did not exist. */
  remove(groupId: number): Promise<boolean>
  /**
   * Sets a member's role to admin or member, only while their current role is one of `fromRoles`;
   * false (nothing changed) otherwise.
   */
  setRole(groupId: number, userId: number, role: 'admin' | 'member', fromRoles: readonly Role[]): Promise<boolean>
  /**
   * In one transaction: `toUserId` (a member) becomes owner, `fromUserId` (the current owner)
   * becomes admin, and the group's owner_id changes. False, changing nothing, unless both still hold.
   */
  transferOwnership(groupId: number, fromUserId: number, toUserId: number, now: string): Promise<boolean>
  /** Removes a member only while their role is one of `roles`; false (nothing changed) otherwise. */
  removeMember(groupId: number, userId: number, roles: readonly Role[]): Promise<boolean>
}

export interface NewMessage {
  senderId: number
  groupId: number
  kind: MessageKind
  content: string
  mediaUrl: string | null
  replyToId: number | null
  clientMsgId: string | null
  now: string
}

export interface HistoryPage {
  limit: number
  beforeId?: number
  afterId?: number
}

export interface MessageStore {
  /**
   * Stores a message once per (sender, group, client_msg_id): a repeat resolves the original with
   * `created: false`. Resolves only after the row is committed.
   */
  insert(message: NewMessage): Promise<{ message: Message; created: boolean }>
  find(messageId: number): Promise<Message | undefined>
  /**
   * Up to `limit + 1` messages of a group, in ascending id order: the newest below `beforeId`
   * (or the newest of all), or the oldest above `afterId`. The extra one tells whether more exist.
   */
  groupHistory(groupId: number, page: HistoryPage): Promise<Message[]>
  /**
   * Replaces a message's content and sets `edited_at`, unless it is deleted. Resolves the message
   * after the edit, or undefined (nothing changed) when it is deleted or does not exist.
   */
  updateContent(messageId: number, content: string, now: string): Promise<Message | undefined>
  /** Sets `deleted_at` unless it is already set; true when this call deleted the message. */
  softDelete(messageId: number, now: string): Promise<boolean>
  /** Reaction counts of the given messages that are not deleted, most used emoji first; absent ids had none. */
  reactionCounts(messageIds: readonly number[]): Promise<Map<number, ReactionCount[]>>
}

/** Reads what a reconnecting client missed. */
export interface BacklogStore {
  /**
   * Messages with id above `since` in every conversation the user is in now (their groups and their
   * direct conversations), in id order, at most `limit`.
   */
  backlog(userId: number, since: number, limit: number): Promise<Message[]>
}

export interface PasswordHasher {
  hash(password: string): Promise<string>
  /** False for a wrong password; with no hash (no such account) false too, after the same work. */
  verify(hash: string | undefined, password: string): Promise<boolean>
}

export interface IssuedToken {
  token: string
  expires_at: string
}

export interface TokenIssuer {
  issue(user: User): Promise<IssuedToken>
}

/** One open client socket as the hub sees it. */
export interface HubConnection {
  readonly userId: number
  /** Sends an already-serialized JSON text frame. */
  sendSerialized(frame: Buffer): void
  /** Closes the socket with a close code: a hub that may have lost frames closes with 1012 so the client resumes. */
  close?(code: number, reason: string): void
}

/**
 * Realtime fan-out. Routes persist first, then publish; the hub never touches the database.
 * Implementations may deliver in-process or across instances through a broker.
 */
export interface Hub {
  /** Starts delivering this user's frames to the connection; returns the function that stops it. */
  attach(connection: HubConnection): () => void
  /**
   * Delivers one frame to every connected socket of every listed user, serializing it once.
   * `except` skips one connection (the socket a frame came from, when it already got an answer).
   * A hub that delivers in-process may return the number of sockets it handed the frame to (for the
   * metrics); one that fans out through a broker returns nothing.
   */
  publish(userIds: Iterable<number>, frame: ServerFrame, except?: HubConnection): number | void
  publishToUser(userId: number, frame: ServerFrame, except?: HubConnection): number | void
  /** Whether the user has at least one open socket. */
  isOnline(userId: number): boolean
  /** The number of open sockets. */
  connectionCount(): number
  /** Whether the hub can deliver across instances right now (a hub with a broker); absent means always. */
  connected?(): boolean
  /** Resolves once the broker has answered a round trip (for readiness: connected is not answering). */
  ping?(): Promise<void>
}

export interface ChatStore {
  /** Every group and direct conversation of the user, with last message and unread count, most recent first. */
  chatList(userId: number): Promise<ChatSummary[]>
  /** Whether the message is in the group. */
  messageInGroup(messageId: number, groupId: number): Promise<boolean>
  /** Moves the member's marker in a group forward to `messageId` (never back); resolves the marker after it. */
  markGroupRead(userId: number, groupId: number, messageId: number): Promise<number>
  /** Users who share a group or a direct conversation with the user. */
  contactsOf(userId: number): Promise<number[]>
  /** Whether two users share a group or a direct conversation. */
  areContacts(userId: number, otherId: number): Promise<boolean>
}

/** One emoji per user per message. Each change checks, in the same transaction, that the message is not deleted. */
export interface ReactionStore {
  /**
   * Adds the reaction; `'exists'` when the user already has it, `'deleted'` (nothing stored) for a deleted
   * message, `'full'` (nothing stored) when the emoji is new on the message and it already carries
   * `maxEmoji` distinct ones.
   */
  add(
    messageId: number,
    userId: number,
    emoji: string,
    now: string,
    maxEmoji?: number,
  ): Promise<'added' | 'exists' | 'deleted' | 'full'>
  /** Removes the reaction; `'none'` when the user had none, `'deleted'` (nothing changed) for a deleted message. */
  remove(messageId: number, userId: number, emoji: string): Promise<'removed' | 'none' | 'deleted'>
}

interface NewDirectMessage extends Omit<NewMessage, 'groupId'> {
  recipientId: number
  status: 'SENT' | 'PENDING'
}

/** Direct conversations: messages between two users, their delivery state and each side's read marker. */
export interface DirectStore {
  /**
   * Stores a direct message once per (sender, recipient, client_msg_id) — a repeat resolves the original with
   * `created: false` — and, in the same transaction, points both participants' conversation rows at it.
   */
  insert(message: NewDirectMessage): Promise<{ message: Message; created: boolean }>
  /** Like `MessageStore.groupHistory`, for the conversation between the two users. */
  history(userId: number, peerId: number, page: HistoryPage): Promise<Message[]>
  /**
   * Turns the recipient's PENDING messages (only `messageId`, when given) into DELIVERED and resolves
   * them in id order. Each message is claimed by one call only.
   */
  claimPending(recipientId: number, messageId?: number): Promise<Message[]>
  /**
   * Moves the user's read marker with the peer forward to `messageId` (never back) and marks the peer's
   * messages up to the marker READ; resolves the marker, whether it moved and the messages that became READ.
   */
  markRead(
    userId: number,
    peerId: number,
    messageId: number,
  ): Promise<{ lastReadId: number; moved: boolean; read: Message[] }>
}
