import type { Generated, Kysely, Selectable } from 'kysely'

/**
 * The one description of every table. Times are ISO-8601 UTC strings written by the server,
 * so both SQLite and PostgreSQL store and compare them the same way.
 */
export interface Database {
  users: UsersTable
  groups: GroupsTable
  group_members: GroupMembersTable
  messages: MessagesTable
  direct_conversations: DirectConversationsTable
  reactions: ReactionsTable
  app_meta: AppMetaTable
  token_revocations: TokenRevocationsTable
}

export interface UsersTable {
  id: Generated<number>
  username: string
  /** Stored lower-cased; unique. */
  email: string
  password_hash: string
  created_at: string
  updated_at: string
}

export interface GroupsTable {
  id: Generated<number>
  name: string
  owner_id: number
  created_at: string
  updated_at: string
}

export interface GroupMembersTable {
  group_id: number
  user_id: number
  role: 'owner' | 'admin' | 'member'
  joined_at: string
  /** The newest message id this member has read in the group; 0 when none. Only moves forward. */
  last_read_id: Generated<number>
}

export interface MessagesTable {
  id: Generated<number>
  /** Set for a group message; `recipient_id` is set for a direct message. Exactly one of the two. */
  group_id: number | null
  recipient_id: number | null
  sender_id: number
  kind: 'text' | 'image' | 'file' | 'system'
  content: string
  media_url: string | null
  reply_to_id: number | null
  /** Unique per sender: a retried send is stored once. */
  client_msg_id: string | null
  /** Delivery state of a direct message; null for group messages. */
  status: 'SENT' | 'PENDING' | 'DELIVERED' | 'READ' | null
  created_at: string
  edited_at: string | null
  deleted_at: string | null
  /** For a direct message, "<lower user id>:<higher user id>": the conversation it belongs to. */
  dm_pair: string | null
}

/** One row per participant of a direct conversation. */
export interface DirectConversationsTable {
  user_id: number
  peer_id: number
  /** The newest message id this participant has read here; 0 when none. Only moves forward. */
  last_read_id: Generated<number>
  last_message_id: Generated<number>
  created_at: string
}

/** One emoji from one user on one message. */
export interface ReactionsTable {
  message_id: number
  user_id: number
  emoji: string
  created_at: string
}

/** Small key/value facts about the database itself, e.g. that the demo data was created. */
export interface AppMetaTable {
  key: string
  value: string
}

/**
 * Revoked tokens, only ever added to: one token (`jti`, on logout) or every token of a user issued
 * before `issued_before` except `except_jti` (on a password change). Exactly one of `jti` and
 * `issued_before` is set. A row may be deleted after `expires_at`: every token it refuses has expired.
 */
export interface TokenRevocationsTable {
  id: Generated<number>
  user_id: number
  jti: string | null
  issued_before: string | null
  except_jti: string | null
  expires_at: string
  created_at: string
}

export type DB = Kysely<Database>
export type MessageRow = Selectable<MessagesTable>
