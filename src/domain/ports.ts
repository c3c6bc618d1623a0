import type { Group, GroupMember, Role } from '../schemas/group.js'
import type { Message, MessageKind } from '../schemas/message.js'
import type { User } from '../schemas/user.js'

// The ports the domain talks to. Plugins provide the implementations (Kysely stores, the hub,
// argon2, JWT); the domain knows only these shapes.

export interface UserWithHash extends User {
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
  /** Users ordered by id, after `afterId`, whose username or email contains `query`. */
  list(page: { query?: string; afterId?: number; limit: number }): Promise<User[]>
}

export interface GroupStore {
  /** Creates a group with its creator as owner and first member. */
  create(ownerId: number, name: string, now: string): Promise<Group>
  find(groupId: number): Promise<Group | undefined>
  listForUser(userId: number): Promise<Group[]>
  roleOf(groupId: number, userId: number): Promise<Role | undefined>
  members(groupId: number): Promise<GroupMember[]>
  memberIds(groupId: number): Promise<number[]>
  /** Adds a member; resolves false, changing nothing, when they already are one. */
  addMember(groupId: number, userId: number, role: Role, now: string): Promise<boolean>
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
   * Stores a message once per (sender, client_msg_id): a repeat resolves the original with
   * `created: false`. Resolves only after the row is committed.
   */
  insert(message: NewMessage): Promise<{ message: Message; created: boolean }>
  find(messageId: number): Promise<Message | undefined>
  /**
   * Up to `limit + 1` messages of a group, in ascending id order: the newest below `beforeId`
   * (or the newest of all), or the oldest above `afterId`. The extra one tells whether more exist.
   */
  groupHistory(groupId: number, page: HistoryPage): Promise<Message[]>
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

/** A frame the server sends: JSON with a `type`. */
export interface OutgoingFrame {
  type: string
  [field: string]: unknown
}

/** One open client socket as the hub sees it. */
export interface HubConnection {
  readonly userId: number
  /** Sends an already-serialized JSON text frame. */
  sendSerialized(frame: Buffer): void
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
   */
  publish(userIds: Iterable<number>, frame: OutgoingFrame, except?: HubConnection): void
  publishToUser(userId: number, frame: OutgoingFrame, except?: HubConnection): void
  /** Whether the user has at least one open socket. */
  isOnline(userId: number): boolean
  /** The number of open sockets. */
  connectionCount(): number
}
