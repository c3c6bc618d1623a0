import { join } from 'node:path'
import { sql, type Insertable, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { migrateToLatest, openSqlite } from '../../plugins/db.js'
import type { Database, MessagesTable } from '../../src/database.js'
import { tempDir } from '../helpers.js'

/** Every table of src/database.ts with its columns, as the migrations must create them. */
const EXPECTED: Record<keyof Database, string[]> = {
  users: ['id', 'username', 'email', 'password_hash', 'created_at', 'updated_at'],
  groups: ['id', 'name', 'owner_id', 'created_at', 'updated_at'],
  group_members: ['group_id', 'user_id', 'role', 'joined_at', 'last_read_id'],
  messages: [
    'id',
    'group_id',
    'recipient_id',
    'sender_id',
    'kind',
    'content',
    'media_url',
    'reply_to_id',
    'client_msg_id',
    'status',
    'created_at',
    'edited_at',
    'deleted_at',
    'dm_pair',
  ],
  direct_conversations: ['user_id', 'peer_id', 'last_read_id', 'last_message_id', 'created_at'],
  reactions: ['message_id', 'user_id', 'emoji', 'created_at'],
  app_meta: ['key', 'value'],
  token_revocations: ['id', 'user_id', 'jti', 'issued_before', 'except_jti', 'expires_at', 'created_at'],
}

const NOW = '2026-01-01T00:00:00.000Z'

/** A brand-new database file, migrated, destroyed when the test ends. */
async function freshDb(t: Test): Promise<{ db: Kysely<Database>; file: string }> {
  const file = join(tempDir(t), 'fresh.db')
  const db = openSqlite(file)
  t.teardown(() => db.destroy())
  await migrateToLatest(db)
  return { db, file }
}

async function addUser(db: Kysely<Database>, name: string): Promise<number> {
  const row = await db
    .insertInto('users')
    .values({ username: name, email: `${name}@example.com`, password_hash: 'x', created_at: NOW, updated_at: NOW })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

async function addGroup(db: Kysely<Database>, ownerId: number): Promise<number> {
  const row = await db
    .insertInto('groups')
    .values({ name: 'g', owner_id: ownerId, created_at: NOW, updated_at: NOW })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

/** A text message row with the given fields. */
function message(fields: Partial<Insertable<MessagesTable>> & { sender_id: number }): Insertable<MessagesTable> {
  return { kind: 'text', content: 'hi', created_at: NOW, ...fields }
}

async function countMessages(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

async function migrationRows(db: Kysely<Database>): Promise<string[]> {
  const result = await sql<{ name: string }>`select name from chatserver_migration order by name`.execute(db)
  return result.rows.map((row) => row.name)
}

t.test('a brand-new file gets every table with the expected columns', async (t) => {
  const { db } = await freshDb(t)
  const tables = await db.introspection.getTables()
  const byName = new Map(tables.map((table) => [table.name, table]))
  for (const [name, columns] of Object.entries(EXPECTED)) {
    const table = byName.get(name)
    t.ok(table, `table ${name} exists`)
    t.same(
      table?.columns.map((column) => column.name).sort(),
      [...columns].sort(),
      `table ${name} has exactly the expected columns`,
    )
  }
  const users = byName.get('users')
  t.ok(users?.columns.find((c) => c.name === 'id')?.isAutoIncrementing, 'users.id auto-increments')
  const messages = byName.get('messages')
  t.equal(messages?.columns.find((c) => c.name === 'group_id')?.isNullable, true, 'messages.group_id is nullable')
  t.equal(messages?.columns.find((c) => c.name === 'sender_id')?.isNullable, false, 'messages.sender_id is required')
  t.equal(messages?.columns.find((c) => c.name === 'client_msg_id')?.isNullable, true, 'client_msg_id is optional')
})

t.test('running migrateToLatest a second time is a no-op', async (t) => {
  const { db, file } = await freshDb(t)
  const applied = await migrationRows(db)
  t.ok(applied.length >= 1, 'the migrations were recorded')
  const userId = await addUser(db, 'keeper')
  const before = await db.introspection.getTables()

  await migrateToLatest(db)
  t.same(await migrationRows(db), applied, 'no migration ran again')
  t.same(await db.introspection.getTables(), before, 'the schema is unchanged')
  t.same(
    await db.selectFrom('users').select(['id', 'username']).execute(),
    [{ id: userId, username: 'keeper' }],
    'data kept',
  )

  // A new process opening the same file: still nothing to do.
  const again = openSqlite(file)
  t.teardown(() => again.destroy())
  await migrateToLatest(again)
  t.same(await migrationRows(again), applied, 'reopening the file runs nothing either')
  t.same(await again.selectFrom('users').select('id').execute(), [{ id: userId }])
})

t.test('the unique (sender_id, group_id, client_msg_id) index rejects a duplicate but allows many NULLs', async (t) => {
  const { db } = await freshDb(t)
  const ava = await addUser(db, 'ava')
  const mike = await addUser(db, 'mike')
  const groupId = await addGroup(db, ava)

  await db
    .insertInto('messages')
    .values(message({ sender_id: ava, group_id: groupId, client_msg_id: 'c1' }))
    .execute()
  await t.rejects(
    db
      .insertInto('messages')
      .values(message({ sender_id: ava, group_id: groupId, client_msg_id: 'c1' }))
      .execute(),
    /UNIQUE constraint failed/,
    'same sender, same client_msg_id refused',
  )
  await db
    .insertInto('messages')
    .values(message({ sender_id: mike, group_id: groupId, client_msg_id: 'c1' }))
    .execute()
  t.pass('another sender may use the same client_msg_id')
  for (let i = 0; i < 3; i += 1) {
    await db
      .insertInto('messages')
      .values(message({ sender_id: ava, group_id: groupId, client_msg_id: null }))
      .execute()
  }
  t.pass('many NULL client_msg_ids from one sender are allowed')
  t.equal(await countMessages(db), 5, 'all but the duplicate stored')
})

t.test('a message must belong to exactly one conversation', async (t) => {
  const { db } = await freshDb(t)
  const ava = await addUser(db, 'ava')
  const mike = await addUser(db, 'mike')
  const groupId = await addGroup(db, ava)

  await t.rejects(
    db
      .insertInto('messages')
      .values(message({ sender_id: ava, group_id: groupId, recipient_id: mike }))
      .execute(),
    /CHECK constraint failed/,
    'both group_id and recipient_id refused',
  )
  await t.rejects(
    db
      .insertInto('messages')
      .values(message({ sender_id: ava }))
      .execute(),
    /CHECK constraint failed/,
    'neither group_id nor recipient_id refused',
  )
  t.equal(await countMessages(db), 0, 'nothing stored')

  await db
    .insertInto('messages')
    .values(message({ sender_id: ava, group_id: groupId }))
    .execute()
  await db
    .insertInto('messages')
    .values(message({ sender_id: ava, recipient_id: mike, status: 'SENT' }))
    .execute()
  t.equal(await countMessages(db), 2, 'a group message and a direct message are both fine')
})

t.test('foreign keys are enforced', async (t) => {
  const { db } = await freshDb(t)
  const ava = await addUser(db, 'ava')
  const groupId = await addGroup(db, ava)

  await t.rejects(
    db
      .insertInto('group_members')
      .values({ group_id: groupId, user_id: 999_999, role: 'member', joined_at: NOW })
      .execute(),
    /FOREIGN KEY constraint failed/,
    'a member row for a missing user is refused',
  )
  await t.rejects(
    db
      .insertInto('group_members')
      .values({ group_id: 999_999, user_id: ava, role: 'member', joined_at: NOW })
      .execute(),
    /FOREIGN KEY constraint failed/,
    'a member row for a missing group is refused',
  )
  await t.rejects(
    db
      .insertInto('messages')
      .values(message({ sender_id: 999_999, group_id: groupId }))
      .execute(),
    /FOREIGN KEY constraint failed/,
    'a message from a missing user is refused',
  )
  const rows = await db.selectFrom('group_members').selectAll().execute()
  t.same(rows, [], 'nothing stored')

  await db
    .insertInto('group_members')
    .values({ group_id: groupId, user_id: ava, role: 'owner', joined_at: NOW })
    .execute()
  t.equal((await db.selectFrom('group_members').selectAll().execute()).length, 1, 'a valid member row is accepted')
})

t.test('the file runs in WAL mode with foreign keys on', async (t) => {
  const { db } = await freshDb(t)
  const journal = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(db)
  t.equal(journal.rows[0]?.journal_mode, 'wal')
  const foreignKeys = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db)
  t.equal(foreignKeys.rows[0]?.foreign_keys, 1)
})
