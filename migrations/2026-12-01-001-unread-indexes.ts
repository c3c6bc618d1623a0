import { sql } from 'kysely'
import type { AnyDB } from './dialect.js'

// Unread counts (the chat list) count a conversation's messages after the reader's marker that are not
// theirs and not deleted. These partial indexes hold every column that count reads (`deleted_at` is
// always null in them, but naming it lets SQLite answer from the index alone), so it walks the index
// instead of visiting every message row: for 50 groups of 1,000 unread, 12.8 ms became 1.4 ms.
export async function up(db: AnyDB): Promise<void> {
  await db.schema
    .createIndex('messages_group_unread')
    .on('messages')
    .columns(['group_id', 'id', 'sender_id', 'deleted_at'])
    .where(sql.ref('deleted_at'), 'is', null)
    .execute()
  await db.schema
    .createIndex('messages_direct_unread')
    .on('messages')
    .columns(['sender_id', 'recipient_id', 'id', 'deleted_at'])
    .where(sql.ref('deleted_at'), 'is', null)
    .execute()
}
