import { join } from 'node:path'
import { Migrator, sql, type Insertable, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { isPostgres } from '../../migrations/dialect.js'
import { migrationProvider } from '../../migrations/index.js'
import { ensureSchema, migrateToLatest, openPostgres, openSqlite } from '../../plugins/db.js'
import type { Database, MessagesTable } from '../../src/database.js'
import { freshSchema, needsPostgres, tempDir, TEST_DATABASE_URL } from '../helpers.js'

// The migration that scopes `client_msg_id` to its conversation, run on a database that already holds
// messages (with keys, without, in groups and direct conversations), on SQLite and on PostgreSQL.

const BEFORE = '2026-12-01-001-unread-indexes'
const NOW = '2026-01-01T00:00:00.000Z'
/** SQLite's and PostgreSQL's words for a unique index refusing a row. */
const UNIQUE_VIOLATION = /UNIQUE constraint failed|duplicate key value violates unique constraint/

/** Migrates up to and including `name`, as a database of that release would be. */
async function migrateTo(db: Kysely<Database>, name: string, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'chatserver_migration',
    ...(schema !== undefined && { migrationTableSchema: schema }),
  })
  const { error } = await migrator.migrateTo(name)
  if (error) throw new Error(`migrating to ${name} failed`, { cause: error })
}

function message(fields: Partial<Insertable<MessagesTable>> & { sender_id: number }): Insertable<MessagesTable> {
  return { kind: 'text', content: 'hi', created_at: NOW, ...fields }
}

const insert = (db: Kysely<Database>, fields: Partial<Insertable<MessagesTable>> & { sender_id: number }) =>
  db.insertInto('messages').values(message(fields)).returning('id').executeTakeFirstOrThrow()

async function scenario(t: Test, db: Kysely<Database>, schema?: string): Promise<void> {
  await migrateTo(db, BEFORE, schema)
  const users = await db
    .insertInto('users')
    .values(
      ['ava', 'mike', 'zoe'].map((name) => ({
        username: name,
        email: `${name}@example.com`,
        password_hash: 'x',
        created_at: NOW,
        updated_at: NOW,
      })),
    )
    .returning('id')
    .execute()
  const [ava, mike, zoe] = users.map((user) => user.id) as [number, number, number]
  const group = await db
    .insertInto('groups')
    .values({ name: 'g', owner_id: ava, created_at: NOW, updated_at: NOW })
    .returning('id')
    .executeTakeFirstOrThrow()
  const old = [
    await insert(db, {
      sender_id: ava,
      recipient_id: mike,
      dm_pair: `${ava}:${mike}`,
      client_msg_id: 'k1',
      status: 'SENT',
    }),
    await insert(db, { sender_id: ava, group_id: group.id, client_msg_id: 'k2' }),
    await insert(db, { sender_id: ava, group_id: group.id, client_msg_id: null }),
    await insert(db, { sender_id: ava, group_id: group.id, client_msg_id: null }),
    await insert(db, { sender_id: mike, group_id: group.id, client_msg_id: 'k1' }),
  ]
  await t.rejects(
    insert(db, { sender_id: ava, group_id: group.id, client_msg_id: 'k1' }),
    UNIQUE_VIOLATION,
    'before: the key of a direct message cannot be reused in a group',
  )

  await migrateToLatest(db)

  const kept = await db.selectFrom('messages').select(['id', 'client_msg_id']).orderBy('id').execute()
  t.same(
    kept.map((row) => row.id),
    old.map((row) => row.id),
    'every message kept',
  )
  await insert(db, { sender_id: ava, group_id: group.id, client_msg_id: 'k1' })
  t.pass('after: the key of a direct message is free in a group')
  await insert(db, { sender_id: ava, recipient_id: zoe, dm_pair: `${ava}:${zoe}`, client_msg_id: 'k1', status: 'SENT' })
  t.pass('and in another direct conversation')
  await insert(db, {
    sender_id: ava,
    recipient_id: mike,
    dm_pair: `${ava}:${mike}`,
    client_msg_id: 'k2',
    status: 'SENT',
  })
  t.pass('and the key of a group message in a direct conversation')
  await t.rejects(
    insert(db, { sender_id: ava, group_id: group.id, client_msg_id: 'k2' }),
    UNIQUE_VIOLATION,
    'the same key in the same group is still refused',
  )
  await t.rejects(
    insert(db, { sender_id: ava, recipient_id: mike, dm_pair: `${ava}:${mike}`, client_msg_id: 'k1', status: 'SENT' }),
    UNIQUE_VIOLATION,
    'and in the same direct conversation',
  )
  await insert(db, { sender_id: ava, group_id: group.id, client_msg_id: null })
  t.pass('messages without a key never collide')
  const count = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  t.equal(Number(count.n), old.length + 4, 'all but the refused stored')
  const indexes = isPostgres(db)
    ? await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = ${schema}`.execute(db)
    : await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(db)
  t.notOk(
    indexes.rows.some((row) => row.name === 'messages_sender_client_msg_id_unique'),
    'the old (sender, client_msg_id) index is gone',
  )
}

t.test('SQLite: a database holding messages migrates, and keys become per conversation', async (t) => {
  const db = openSqlite(join(tempDir(t), 'old.db'))
  t.teardown(() => db.destroy())
  await scenario(t, db)
})

t.test(
  'PostgreSQL: a schema holding messages migrates, and keys become per conversation',
  await needsPostgres(),
  async (t) => {
    const schema = freshSchema(t)
    const db = openPostgres({ url: TEST_DATABASE_URL, schema })
    t.teardown(() => db.destroy())
    await ensureSchema(db, schema)
    await scenario(t, db, schema)
  },
)
