import BetterSqlite3 from 'better-sqlite3'
import Fastify from 'fastify'

/**
 * Floor for sends and history pages: a bare Fastify app with one prepared better-sqlite3 statement per route,
 * on the server's own schema and SQLite settings (WAL, synchronous = NORMAL, foreign keys on), and nothing
 * else: no auth, no validation schema, no membership check, no fan-out.
 *
 *   node fastify-sqlite.js <insert-db|-> <history-db|->
 * <insert-db> has the server's tables (copied by the bench) with user 1 and group 1; <history-db> is the
 * pre-filled bench database, only read. `-` leaves a route out.
 */
const [insertFile = '-', historyFile = '-'] = process.argv.slice(2)

function open(file: string) {
  const db = new BetterSqlite3(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  return db
}

interface Row {
  id: number
  group_id: number
  sender_id: number
  kind: string
  content: string
  media_url: string | null
  reply_to_id: number | null
  client_msg_id: string | null
  created_at: string
  edited_at: string | null
  deleted_at: string | null
}

const toMessage = (row: Row) => ({
  id: row.id,
  group_id: row.group_id,
  sender_id: row.sender_id,
  kind: row.kind,
  content: row.content,
  media_url: row.media_url,
  reply_to_id: row.reply_to_id,
  client_msg_id: row.client_msg_id,
  timestamp: row.created_at,
  edited_at: row.edited_at,
  deleted: row.deleted_at !== null,
})

const insert =
  insertFile === '-'
    ? undefined
    : open(insertFile).prepare<[number, number, string, string], Row>(
        `insert into messages (group_id, sender_id, kind, content, created_at) values (?, ?, 'text', ?, ?) returning *`,
      )
const page =
  historyFile === '-'
    ? undefined
    : open(historyFile).prepare<[number, number, number], Row>(
        'select * from messages where group_id = ? and id < ? order by id desc limit ?',
      )

const app = Fastify({ logger: false })
app.get('/ping', async () => ({ message: 'pong' }))
if (insert) {
  app.post<{ Params: { id: string }; Body: { content: string } }>('/v1/messages/group/:id', async (request, reply) => {
    const row = insert.get(Number(request.params.id), 1, request.body.content, new Date().toISOString())!
    return reply.code(201).send(toMessage(row))
  })
}
if (page)
  app.get<{ Params: { id: string }; Querystring: { before_id?: string; limit?: string } }>(
    '/v1/groups/:id/messages',
    async (request) => {
      const limit = Number(request.query.limit ?? 50)
      const rows = page.all(
        Number(request.params.id),
        Number(request.query.before_id ?? Number.MAX_SAFE_INTEGER),
        limit + 1,
      )
      const messages = rows.slice(0, limit).reverse().map(toMessage)
      return { group_id: Number(request.params.id), messages, count: messages.length, has_more: rows.length > limit }
    },
  )

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
