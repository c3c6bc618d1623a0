import { sql } from 'kysely'
import { idType, notNull, type AnyDB } from './dialect.js'

// Direct conversations, read markers and reactions.
export async function up(db: AnyDB): Promise<void> {
  const ref = idType(db)

  // A direct message's conversation, as "<lower user id>:<higher user id>", so one index pages it.
  await db.schema.alterTable('messages').addColumn('dm_pair', 'text').execute()
  await db.schema.createIndex('messages_dm_pair_id').on('messages').columns(['dm_pair', 'id']).execute()

  // How far each member has read in a group (a message id; 0 = nothing read).
  await db.schema
    .alterTable('group_members')
    .addColumn('last_read_id', ref, (col) => col.notNull().defaultTo(0))
    .execute()

  // One row per participant of a direct conversation: their read marker and the last message.
  await db.schema
    .createTable('direct_conversations')
    .addColumn('user_id', ref, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('peer_id', ref, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('last_read_id', ref, (col) => col.notNull().defaultTo(0))
    .addColumn('last_message_id', ref, (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'text', notNull)
    .addPrimaryKeyConstraint('direct_conversations_pk', ['user_id', 'peer_id'])
    .execute()

  await db.schema
    .createTable('reactions')
    .addColumn('message_id', ref, (col) => col.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('user_id', ref, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('emoji', 'text', notNull)
    .addColumn('created_at', 'text', notNull)
    .addPrimaryKeyConstraint('reactions_pk', ['message_id', 'user_id', 'emoji'])
    .execute()

  // Pending direct messages are looked up per recipient on every connect.
  await db.schema
    .createIndex('messages_pending')
    .on('messages')
    .columns(['recipient_id', 'status', 'id'])
    .where(sql.ref('status'), '=', 'PENDING')
    .execute()
}
