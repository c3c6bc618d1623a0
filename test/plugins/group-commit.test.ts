import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import t, { type Test } from 'tap'
import { migrateToLatest, reusingStatements } from '../../plugins/db.js'
import { createStores } from '../../plugins/store/index.js'
import type { Database } from '../../src/database.js'
import type { NewMessage } from '../../src/domain/ports.js'
import { tempDir } from '../helpers.js'

// Group commit is how SQLite stores messages: the sends of one turn of the event loop share a transaction.

async function sqliteStores(t: Test) {
  const sqlite = new BetterSqlite3(join(tempDir(t), 'group-commit.db'))
  sqlite.pragma('foreign_keys = ON')
  const statements: string[] = []
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: reusingStatements(sqlite) }),
    log: (event) => {
      statements.push(event.query.sql)
    },
  })
  t.teardown(() => db.destroy())
  await migrateToLatest(db)
  const now = new Date().toISOString()
  await db
    .insertInto('users')
    .values({ username: 'ava', email: 'ava@example.com', password_hash: 'x', created_at: now, updated_at: now })
    .execute()
  const stores = createStores(db)
  const group = await stores.groups.create(1, 'team', now)
  statements.length = 0
  const message = (content: string, groupId = group.id): NewMessage => ({
    senderId: 1,
    groupId,
    kind: 'text',
    content,
    mediaUrl: null,
    replyToId: null,
    clientMsgId: null,
    now,
  })
  return { db, stores, statements, message, groupId: group.id }
}

t.test('sends made together share one commit, in arrival order, and each fails alone', async (t) => {
  const { db, stores, statements, message } = await sqliteStores(t)
  const sends = [
    stores.messages.insert(message('one')),
    stores.messages.insert(message('to a group that does not exist', 999)),
    stores.messages.insert(message('two')),
    stores.messages.insert(message('three')),
  ]
  const [one, missing, two, three] = await Promise.allSettled(sends)
  t.equal(missing?.status, 'rejected', 'the send to a missing group fails (its foreign key)')
  const stored = [one, two, three].map((result) => (result?.status === 'fulfilled' ? result.value.message : undefined))
  t.same(
    stored.map((m) => m?.content),
    ['one', 'two', 'three'],
    'the others are stored',
  )
  const ids = stored.map((m) => m?.id ?? 0)
  t.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, 'with ids in arrival order')
  t.equal(statements.filter((s) => s === 'begin').length, 1, 'in one transaction')
  t.equal(statements.filter((s) => s === 'commit').length, 1, 'with one commit')
  const rows = await db.selectFrom('messages').select(['id', 'content']).orderBy('id').execute()
  t.same(
    rows.map((row) => row.content),
    ['one', 'two', 'three'],
    'and exactly those are in the table',
  )
})

t.test('a send alone commits by itself, and one made later gets a commit of its own', async (t) => {
  const { stores, statements, message } = await sqliteStores(t)
  const first = await stores.messages.insert(message('first'))
  const second = await stores.messages.insert(message('second'))
  t.ok(first.created && second.created)
  t.equal(statements.filter((s) => s === 'commit').length, 2)
})

t.test('a retried client_msg_id in the same batch is stored once', async (t) => {
  const { db, stores, message } = await sqliteStores(t)
  const retried = { ...message('hello'), clientMsgId: 'c-1' }
  const [first, again] = await Promise.all([stores.messages.insert(retried), stores.messages.insert(retried)])
  t.equal(first.created, true)
  t.equal(again.created, false, 'the retry is recognised')
  t.equal(again.message.id, first.message.id, 'and answered with the original')
  const count = await db.selectFrom('messages').select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(count.n), 1)
})
