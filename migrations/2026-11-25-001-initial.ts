import { sql } from 'kysely'
import { idType, notNull, withIdColumn, type AnyDB } from './dialect.js'

export async function up(db: AnyDB): Promise<void> {
  const ref = idType(db)

  await withIdColumn(db, db.schema.createTable('users'))
    .addColumn('username', 'text', notNull)
    .addColumn('email', 'text', notNull)
    .addColumn('password_hash', 'text', notNull)
    .addColumn('created_at', 'text', notNull)
    .addColumn('updated_at', 'text', notNull)
    .execute()
  await db.schema.createIndex('users_email_unique').unique().on('users').column('email').execute()
  await db.schema
    .createIndex('users_username_unique')
    .unique()
    .on('users')
    .expression(sql`lower(username)`)
    .execute()

  await withIdColumn(db, db.schema.createTable('groups'))
    .addColumn('name', 'text', notNull)
    .addColumn('owner_id', ref, (col) => col.notNull().references('users.id'))
    .addColumn('created_at', 'text', notNull)
    .addColumn('updated_at', 'text', notNull)
    .execute()

  await db.schema
    .createTable('group_members')
    .addColumn('group_id', ref, (col) => col.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('user_id', ref, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (col) => col.notNull().check(sql`role in ('owner', 'admin', 'member')`))
    .addColumn('joined_at', 'text', notNull)
    .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
    .execute()
  // "Which groups is this user in?" — the primary key answers the other direction.
  await db.schema.createIndex('group_members_user').on('group_members').columns(['user_id', 'group_id']).execute()

  await withIdColumn(db, db.schema.createTable('messages'))
    .addColumn('group_id', ref, (col) => col.references('groups.id').onDelete('cascade'))
    .addColumn('recipient_id', ref, (col) => col.references('users.id'))
    .addColumn('sender_id', ref, (col) => col.notNull().references('users.id'))
    .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('text', 'image', 'file', 'system')`))
    .addColumn('content', 'text', notNull)
    .addColumn('media_url', 'text')
    .addColumn('reply_to_id', ref, (col) => col.references('messages.id'))
    .addColumn('client_msg_id', 'text')
    .addColumn('status', 'text', (col) => col.check(sql`status in ('SENT', 'PENDING', 'DELIVERED', 'READ')`))
    .addColumn('created_at', 'text', notNull)
    .addColumn('edited_at', 'text')
    .addColumn('deleted_at', 'text')
    .addCheckConstraint('messages_one_conversation', sql`(group_id is null) <> (recipient_id is null)`)
    .execute()
  // Group history pages walk this index backwards from a cursor.
  await db.schema.createIndex('messages_group_id_id').on('messages').columns(['group_id', 'id']).execute()
  // Direct conversations, from either side.
  await db.schema.createIndex('messages_direct').on('messages').columns(['sender_id', 'recipient_id', 'id']).execute()
  await db.schema
    .createIndex('messages_direct_inbox')
    .on('messages')
    .columns(['recipient_id', 'sender_id', 'id'])
    .execute()
  // Idempotent send: NULLs are distinct in a unique index on both dialects, so only real ids collide.
  await db.schema
    .createIndex('messages_sender_client_msg_id_unique')
    .unique()
    .on('messages')
    .columns(['sender_id', 'client_msg_id'])
    .execute()

  await db.schema
    .createTable('app_meta')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('value', 'text', notNull)
    .execute()
}
