import { join } from 'node:path'
import { sql, type Insertable, type Kysely } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { ensureSchema, migrateToLatest, openPostgres, openSqlite } from '../../plugins/db.js'
import { createStores } from '../../plugins/store/index.js'
import type { Database, MessagesTable } from '../../src/database.js'
import { resolveConfig } from '../../src/options.js'
import {
  build,
  Client,
  createGroup,
  freshSchema,
  listen,
  needsPostgres,
  register,
  tempDir,
  TEST_DATABASE_URL,
  TEST_SECRET,
} from '../helpers.js'

// PostgreSQL as the second database: configuration, the migrations from an empty schema, the driver
// settings, and a smoke run of the main flows. These run against TEST_DATABASE_URL whatever
// TEST_DATABASE says; the rest of the suite runs on PostgreSQL with `npm run test:pg`.

const url = TEST_DATABASE_URL
const onPostgres = await needsPostgres()
const NOW = '2026-01-01T00:00:00.000Z'

/** A migrated Kysely instance on a fresh schema, destroyed (then the schema dropped) when the test ends. */
async function migratedSchema(t: Test): Promise<{ db: Kysely<Database>; schema: string }> {
  const schema = freshSchema(t)
  const db = openPostgres({ url, schema })
  t.teardown(() => db.destroy())
  await ensureSchema(db, schema)
  await migrateToLatest(db)
  return { db, schema }
}

/**
 * Tables and their column names, sorted: on SQLite all, on PostgreSQL those of `schema`. Read from
 * information_schema there, as Kysely's introspection reads every schema and fails when another test
 * drops its own meanwhile.
 */
async function tableShapes(db: Kysely<Database>, schema?: string): Promise<Record<string, string[]>> {
  const columns =
    schema === undefined
      ? (await db.introspection.getTables()).flatMap((table) =>
          table.columns.map((column) => ({ table: table.name, column: column.name })),
        )
      : ((await rows(
          `select table_name as table, column_name as column from information_schema.columns
            where table_schema = $1 and table_name <> 'kysely_migration_lock'`,
          [schema],
        )) as Array<{ table: string; column: string }>)
  const shapes: Record<string, string[]> = {}
  for (const { table, column } of columns) (shapes[table] ??= []).push(column)
  return Object.fromEntries(
    Object.entries(shapes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([table, names]) => [table, names.sort()]),
  )
}

/** Rows of one query on a connection of its own (the app's `db` is not visible outside the plugin). */
async function rows(text: string, values: unknown[] = []): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<Record<string, unknown>>(text, values)).rows
  } finally {
    await client.end()
  }
}

/** The error a statement fails with (its SQLSTATE code and message), or undefined when it succeeds. */
async function failure(query: Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await query
    return undefined
  } catch (error) {
    return error as { code: string; message: string }
  }
}

t.test('configuration: DATABASE_URL selects PostgreSQL, options win over variables, bad values stop', async (t) => {
  const jwtSecret = TEST_SECRET
  const file = join(tempDir(t), 'chat.db')

  const fromEnv = resolveConfig({ env: { DATABASE_URL: url, DATABASE_SCHEMA: 'tenant_a', DB_FILE: file }, jwtSecret })
  t.match(
    fromEnv,
    { databaseUrl: url, databaseSchema: 'tenant_a', dbFile: undefined },
    'DATABASE_URL wins over DB_FILE',
  )
  t.match(
    resolveConfig({ env: { DATABASE_URL: `postgresql://127.0.0.1/test` }, jwtSecret }),
    { databaseUrl: 'postgresql://127.0.0.1/test', databaseSchema: undefined },
    'postgresql:// is fine too; no schema means the default search path',
  )
  t.match(
    resolveConfig({ env: { DATABASE_URL: url, DATABASE_SCHEMA: 'tenant_a' }, dbFile: file, jwtSecret }),
    { dbFile: file, databaseUrl: undefined, databaseSchema: undefined },
    'a dbFile option wins over the variables',
  )
  t.match(
    resolveConfig({ env: { DB_FILE: file }, databaseUrl: url, databaseSchema: 's1', jwtSecret }),
    { dbFile: undefined, databaseUrl: url, databaseSchema: 's1' },
    'the databaseUrl and databaseSchema options',
  )
  t.match(
    resolveConfig({ env: { DATABASE_URL: '', DB_FILE: file }, jwtSecret }),
    { dbFile: file, databaseUrl: undefined },
    'an empty DATABASE_URL is unset',
  )
  t.match(
    resolveConfig({ env: { DATABASE_URL: url }, nodeEnv: 'development' }).jwt,
    { secretSource: 'ephemeral' },
    'no secret file beside a database file that does not exist',
  )

  t.throws(() => resolveConfig({ env: { DATABASE_URL: 'mysql://x/y' }, jwtSecret }), /DATABASE_URL/, 'not postgres://')
  t.throws(
    () => resolveConfig({ env: { DATABASE_URL: url, DATABASE_SCHEMA: 'Tenant-A' }, jwtSecret }),
    /DATABASE_SCHEMA/,
    'a schema name that would need quoting',
  )
  t.throws(
    () => resolveConfig({ env: { DATABASE_SCHEMA: 'tenant_a', DB_FILE: file }, jwtSecret }),
    /DATABASE_SCHEMA .*needs PostgreSQL/,
    'a schema without a PostgreSQL URL',
  )
})

t.test('the migrations build on an empty PostgreSQL schema what they build on SQLite', onPostgres, async (t) => {
  const { db, schema } = await migratedSchema(t)
  const sqlite = openSqlite(join(tempDir(t), 'same.db'))
  t.teardown(() => sqlite.destroy())
  await migrateToLatest(sqlite)

  const shapes = await tableShapes(db, schema)
  t.same(shapes, await tableShapes(sqlite), 'the same tables with the same columns')
  t.ok(shapes.messages && shapes.chatserver_migration, 'the tables and the migration table are in the schema')

  const applied = async (on: Kysely<Database>) =>
    (await sql<{ name: string }>`select name from chatserver_migration order by name`.execute(on)).rows.map(
      (row) => row.name,
    )
  t.same(await applied(db), await applied(sqlite), 'the same migrations recorded')

  for (const table of ['users', 'groups', 'messages']) {
    const [id] = await rows(
      `select data_type, column_default from information_schema.columns
        where table_schema = $1 and table_name = $2 and column_name = 'id'`,
      [schema, table],
    )
    t.match(id, { data_type: 'bigint', column_default: /^nextval\(/ }, `${table}.id is a bigserial`)
  }

  const before = await tableShapes(db, schema)
  await migrateToLatest(db)
  t.same(await tableShapes(db, schema), before, 'a second run changes nothing')

  // Kysely looks for its migration table in every schema unless told which: a second schema in the
  // same database must still be migrated from empty, not taken as done.
  const second = await migratedSchema(t)
  t.same(await tableShapes(second.db, second.schema), before, 'a second schema beside it is migrated too')
})

t.test('PostgreSQL enforces the same constraints, and ids and counts come back as numbers', onPostgres, async (t) => {
  const { db } = await migratedSchema(t)
  const user = (username: string) =>
    db
      .insertInto('users')
      .values({
        username,
        email: `${username.toLowerCase()}@example.com`,
        password_hash: 'x',
        created_at: NOW,
        updated_at: NOW,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
  const ava = (await user('ava')).id
  const mike = (await user('mike')).id
  t.equal(typeof ava, 'number', 'a bigserial id is a number')
  t.match(await failure(user('AVA')), { code: '23505' }, 'usernames are unique whatever their case (lower())')

  const group = await db
    .insertInto('groups')
    .values({ name: 'g', owner_id: ava, created_at: NOW, updated_at: NOW })
    .returning('id')
    .executeTakeFirstOrThrow()
  const message = (fields: Partial<Insertable<MessagesTable>> = {}) =>
    db
      .insertInto('messages')
      .values({ sender_id: ava, group_id: group.id, kind: 'text', content: 'hi', created_at: NOW, ...fields })
      .execute()
  await message({ client_msg_id: 'c1' })
  t.match(await failure(message({ client_msg_id: 'c1' })), { code: '23505' }, 'a repeated client_msg_id is refused')
  await message({ client_msg_id: null })
  await message({ client_msg_id: null })
  t.match(
    await failure(message({ recipient_id: mike })),
    { code: '23514' },
    'a message in two conversations is refused',
  )
  t.match(await failure(message({ sender_id: 999_999 })), { code: '23503' }, 'a message from nobody is refused')
  t.match(await failure(message({ kind: 'video' as 'text' })), { code: '23514' }, 'an unknown kind is refused')

  const counted = await db
    .selectFrom('messages')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('id').as('newest')])
    .executeTakeFirstOrThrow()
  t.equal(counted.n, 3, 'count(*) is a number')
  // The refused inserts drew ids too: on PostgreSQL ids grow but have gaps, which nothing relies on.
  t.equal(typeof counted.newest, 'number', 'max(id) is a number')
})

t.test('int8 as a number is our pool’s setting: pg’s global parsers stay as they were', onPostgres, async (t) => {
  const { db } = await migratedSchema(t)
  const ours = await sql<{ n: unknown }>`select 9007199254740991::int8 as n`.execute(db)
  t.equal(ours.rows[0]?.n, Number.MAX_SAFE_INTEGER, 'ours: a number')
  await t.rejects(
    sql`select 9007199254740993::int8 as n`.execute(db),
    /does not fit/,
    'past 2^53: refused, not rounded',
  )

  const globalInt8 = pg.types.getTypeParser(pg.types.builtins.INT8) as (text: string) => unknown
  t.equal(globalInt8('5'), '5', 'the global int8 parser still gives strings')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const theirs = await client.query<{ n: unknown }>('select 5::int8 as n')
  t.equal(theirs.rows[0]?.n, '5', "a host app's own pg client: a string, as pg gives it")
})

t.test('the server creates its schema when missing and keeps to it', onPostgres, async (t) => {
  const schema = freshSchema(t)
  const app = await build(t, { databaseUrl: url, databaseSchema: schema })
  const where = await rows(
    `select table_name from information_schema.tables where table_schema = $1 and table_name = 'messages'`,
    [schema],
  )
  t.equal(where.length, 1, 'its tables are in its schema')

  const other = await build(t, { databaseUrl: url, databaseSchema: freshSchema(t) })
  const ava = await register(app, 'ava')
  const users = await other.inject({ method: 'GET', url: '/v1/users', headers: (await register(other, 'bob')).auth })
  t.notOk(
    users.json<{ users: Array<{ id: number; username: string }> }>().users.some((u) => u.username === ava.username),
    'an instance on another schema of the same database sees none of it',
  )
})

t.test(
  'messages commit in id order: a reader following by id misses none and sees none twice',
  onPostgres,
  async (t) => {
    const { db } = await migratedSchema(t)
    const stores = createStores(db)
    const users = await Promise.all(
      ['a', 'b', 'c', 'd'].map(async (name) => {
        const row = await db
          .insertInto('users')
          .values({
            username: name,
            email: `${name}@example.com`,
            password_hash: 'x',
            created_at: NOW,
            updated_at: NOW,
          })
          .returning('id')
          .executeTakeFirstOrThrow()
        return row.id
      }),
    )
    const group = await stores.groups.create(users[0] ?? 0, 'g', NOW)
    for (const userId of users.slice(1)) await stores.groups.addMember(group.id, userId, 'member', NOW)

    let writing = true
    const writers = (async () => {
      for (let round = 0; round < 15; round += 1) {
        await Promise.all(
          users.map((senderId, index) =>
            index % 2 === 0
              ? stores.messages.insert({
                  senderId,
                  groupId: group.id,
                  kind: 'text',
                  content: `${round}`,
                  mediaUrl: null,
                  replyToId: null,
                  clientMsgId: null,
                  now: NOW,
                })
              : stores.direct.insert({
                  senderId,
                  recipientId: users[0] ?? 0,
                  kind: 'text',
                  content: `${round}`,
                  mediaUrl: null,
                  replyToId: null,
                  clientMsgId: null,
                  status: 'PENDING',
                  now: NOW,
                }),
          ),
        )
      }
      writing = false
    })()
    // Follow the messages by id while they are written, as a resuming client does, then once more.
    const seen: number[] = []
    let since = 0
    const follow = async () => {
      const page = await stores.backlog.backlog(users[0] ?? 0, since, 1000)
      seen.push(...page.map((m) => m.id))
      since = page.at(-1)?.id ?? since
    }
    while (writing) await follow()
    await writers
    await follow()
    const stored = await db.selectFrom('messages').select('id').orderBy('id').execute()
    t.equal(stored.length, 60, 'every message stored')
    t.same(
      seen,
      stored.map((row) => row.id),
      'the reader saw each, once, in id order',
    )
  },
)

t.test('smoke: the main flows over REST and a socket on PostgreSQL', onPostgres, async (t) => {
  const schema = freshSchema(t)
  const app = await build(t, { databaseUrl: url, databaseSchema: schema, demoData: true })
  const port = await listen(app)

  const login = await app.inject({
    method: 'POST',
    url: '/v1/users/login',
    payload: { email: 'ava@temp.com', password: 'password' },
  })
  t.equal(login.statusCode, 200, 'the demo user Ava logs in')
  const avaAuth = { authorization: `Bearer ${login.json<{ token: string }>().token}` }
  const general = await app.inject({ method: 'GET', url: '/v1/groups', headers: avaAuth })
  t.match(general.json(), { groups: [{ id: 1, name: 'General', member_count: 2, role: 'owner' }], count: 1 })

  const owner = await register(app, 'owner')
  const member = await register(app, 'member')
  const groupId = await createGroup(app, owner, [member])
  t.equal(typeof groupId, 'number', 'a group id is a number')
  const socket = await Client.connect(t, port, member.token)

  const post = (payload: object) =>
    app.inject({ method: 'POST', url: `/v1/messages/group/${groupId}`, headers: owner.auth, payload })
  const sent = await post({ content: 'hello', client_msg_id: 'first' })
  t.equal(sent.statusCode, 201, 'a message is stored')
  const message = sent.json<{ id: number; group_id: number; sender_id: number }>()
  t.match(message, { group_id: groupId, sender_id: owner.id }, 'with numeric ids')
  t.equal(typeof message.id, 'number')
  t.match(await socket.waitFor((f) => f.type === 'group_message'), { id: message.id, content: 'hello' }, 'pushed live')

  const retries = await Promise.all(Array.from({ length: 8 }, () => post({ content: 'hello', client_msg_id: 'first' })))
  t.same(
    retries.map((res) => [res.statusCode, res.headers['idempotent-replayed'], res.json<{ id: number }>().id]),
    retries.map(() => [201, 'true', message.id]),
    'concurrent retries of a client_msg_id all return the original',
  )

  const nul = await post({ content: 'a\u0000b' })
  t.match(
    nul.json(),
    { statusCode: 400, code: 'VALIDATION_ERROR' },
    'text with NUL, which PostgreSQL cannot hold: a 400',
  )
  t.match(
    await socket.request({ type: 'group_message', group_id: groupId, content: 'x', client_msg_id: '\u0000' }),
    { type: 'error', code: 'VALIDATION_ERROR' },
    'also over the socket',
  )
  t.match(
    await socket.request({ type: 'resume', since: 1e308 }),
    { type: 'error', code: 'VALIDATION_ERROR' },
    'a resume cursor past any bigint: refused, not a database error',
  )

  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: member.auth })
  t.match(history.json(), { count: 1, has_more: false, messages: [{ id: message.id }] }, 'history has it once')

  const reacted = await app.inject({
    method: 'POST',
    url: `/v1/messages/${message.id}/reactions`,
    headers: member.auth,
    payload: { emoji: '👍' },
  })
  t.match(reacted.json(), { action: 'added', counts: [{ emoji: '👍', count: 1 }] }, 'reaction counts are numbers')

  const chats = await app.inject({ method: 'GET', url: '/v1/chats', headers: member.auth })
  t.match(chats.json(), { chats: [{ group_id: groupId, unread_count: 1, last_read_id: 0 }] }, 'one unread')
  const read = await app.inject({
    method: 'POST',
    url: '/v1/chats/read',
    headers: member.auth,
    payload: { group_id: groupId, message_id: message.id },
  })
  t.equal(read.statusCode, 200, 'read marker moved')
  const after = await app.inject({ method: 'GET', url: '/v1/chats', headers: member.auth })
  t.match(after.json(), { chats: [{ unread_count: 0, last_read_id: message.id }] }, 'nothing unread')

  const direct = await app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${owner.id}`,
    headers: member.auth,
    payload: { content: 'psst' },
  })
  t.match(direct.json(), { recipient_id: owner.id, status: 'PENDING' }, 'a direct message to someone offline')
  const dm = await app.inject({ method: 'GET', url: `/v1/messages/history/${member.id}`, headers: owner.auth })
  t.match(dm.json(), { count: 1, messages: [{ content: 'psst' }] }, 'in their conversation')

  const edited = await app.inject({
    method: 'PATCH',
    url: `/v1/messages/${message.id}`,
    headers: owner.auth,
    payload: { content: 'hello!' },
  })
  t.match(edited.json(), { content: 'hello!', edited_at: String }, 'edited')
  const deleted = await app.inject({ method: 'DELETE', url: `/v1/messages/${message.id}`, headers: owner.auth })
  t.equal(deleted.statusCode, 200, 'deleted')

  const underscored = await register(app, 'pg_smoke')
  await register(app, 'pgXsmoke')
  const search = async (q: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/users?q=${encodeURIComponent(q)}`, headers: owner.auth })
    return res.json<{ users: Array<{ id: number }> }>().users.map((user) => user.id)
  }
  t.same(await search('PG_SMOKE'), [underscored.id], 'a _ in the search is itself, not any character; case ignored')
  t.same(await search('pg%smoke'), [], 'a % in the search is itself')

  const promote = await app.inject({
    method: 'PATCH',
    url: `/v1/groups/${groupId}/members/${member.id}`,
    headers: owner.auth,
    payload: { role: 'owner' },
  })
  t.equal(promote.statusCode, 200, 'ownership handed over in one transaction')
  const roles = await app.inject({ method: 'GET', url: '/v1/groups', headers: owner.auth })
  t.match(roles.json(), { groups: [{ id: groupId, role: 'admin', member_count: 2 }] }, 'the old owner is an admin')
  const removed = await app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}`, headers: member.auth })
  t.equal(removed.statusCode, 200, 'the new owner deletes the group')
  const left = await rows(`select id from ${schema}.messages where group_id = $1`, [groupId])
  t.same(left, [], 'its messages went with it')
})
