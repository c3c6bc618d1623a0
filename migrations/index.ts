import type { Migration, MigrationProvider } from 'kysely'
import * as initial from './2026-11-25-001-initial.js'
import * as conversations from './2026-11-25-002-conversations.js'
import * as tokenRevocations from './2026-11-25-003-token-revocations.js'
import * as unreadIndexes from './2026-12-01-001-unread-indexes.js'
import * as clientMsgIdPerConversation from './2026-12-10-001-client-msg-id-per-conversation.js'

/**
 * Every migration, by name. Kysely runs them in name order; names start with an ISO date.
 * Listed statically so the compiled package needs no directory scanning at run time.
 */
const migrations: Record<string, Migration> = {
  '2026-11-25-001-initial': initial,
  '2026-11-25-002-conversations': conversations,
  '2026-11-25-003-token-revocations': tokenRevocations,
  '2026-12-01-001-unread-indexes': unreadIndexes,
  '2026-12-10-001-client-msg-id-per-conversation': clientMsgIdPerConversation,
}

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
}
