import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import { openPostgres } from '../../plugins/db.js'
import { resolveConfig } from '../../src/options.js'
import { FreezableProxy } from '../freezable-proxy.js'
import {
  build,
  createGroup,
  freshSchema,
  needsPostgres,
  register,
  settle,
  TEST_DATABASE_URL,
  TEST_SECRET,
  type Account,
} from '../helpers.js'

// A PostgreSQL that accepts connections but never answers (hung, or behind a network that drops
// everything): the real one behind a proxy that the test freezes. Readiness must say so within a second or
// two, sends must fail cleanly within their timeouts, and all must work again once it answers.

const testUrl = new URL(TEST_DATABASE_URL)
const onPostgres = await needsPostgres()

/** The test database's URL, through the proxy. */
function urlThrough(proxy: FreezableProxy): string {
  const url = new URL(TEST_DATABASE_URL)
  url.hostname = '127.0.0.1'
  url.port = String(proxy.port)
  return url.toString()
}

async function timed<T>(work: Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now()
  const result = await work
  return { result, ms: performance.now() - started }
}

const post = (app: FastifyInstance, account: Account, groupId: number, content: string) =>
  app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: account.auth,
    payload: { content, client_msg_id: content },
  })

t.test(
  'a PostgreSQL that stops answering: readiness says so at once, sends fail in bounded time',
  onPostgres,
  async (t) => {
    const proxy = await FreezableProxy.start(Number(testUrl.port || 5432), testUrl.hostname)
    t.teardown(() => proxy.close())
    const schema = freshSchema(t)
    const app = await build(t, {
      databaseUrl: urlThrough(proxy),
      databaseSchema: schema,
      databaseTimeouts: { connectMs: 500, statementMs: 800, queryMs: 1_000 },
      readinessTimeoutMs: 1_000,
    })
    const ava = await register(app, 'ava')
    const groupId = await createGroup(app, ava)
    t.equal((await post(app, ava, groupId, 'before')).statusCode, 201)
    t.equal((await app.inject('/health/ready')).statusCode, 200)

    proxy.freeze()

    const ready = await timed(app.inject('/health/ready'))
    t.comment(`/health/ready took ${Math.round(ready.ms)} ms against a frozen PostgreSQL`)
    t.equal(ready.result.statusCode, 503)
    t.match(ready.result.json(), { status: 'unavailable', database: 'down' })
    t.ok(ready.ms < 2_000, 'readiness answered within two seconds')
    t.equal((await timed(app.inject('/ping'))).result.statusCode, 200)

    const send = await timed(post(app, ava, groupId, 'while frozen'))
    t.comment(`a send took ${Math.round(send.ms)} ms against a frozen PostgreSQL`)
    t.equal(send.result.statusCode, 503)
    t.match(send.result.json(), { code: 'DATABASE_UNAVAILABLE', statusCode: 503 })
    t.equal(send.result.headers['retry-after'], '5')
    t.ok(send.ms < 4_000, 'the send failed within its timeouts')

    // With the pool's connections given up on, the next request waits for a new one: the connect timeout.
    const next = await timed(app.inject({ url: `/v1/groups/${groupId}/messages`, headers: ava.auth }))
    t.equal(next.result.statusCode, 503)
    t.ok(next.ms < 4_000, 'a read failed within its timeouts too')

    proxy.thaw()
    let back = 0
    for (let tries = 0; tries < 50 && back !== 200; tries += 1) {
      back = (await app.inject('/health/ready')).statusCode
      if (back !== 200) await settle(100)
    }
    t.equal(back, 200, 'ready again once PostgreSQL answers')
    // The answer to the timed-out send is unknown to its client: it retries with the same client_msg_id.
    const retried = (await post(app, ava, groupId, 'while frozen')).statusCode
    t.ok(retried === 201 || retried === 200, `the retry was stored or found stored (${retried})`)
    t.equal((await post(app, ava, groupId, 'after')).statusCode, 201)
    const history = await app.inject({ url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
    t.same(
      history.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content),
      ['before', 'while frozen', 'after'],
      'nothing lost, nothing twice',
    )
  },
)

t.test(
  'statement_timeout is set on every pooled connection, and a cancelled statement is a 503',
  onPostgres,
  async (t) => {
    const db = openPostgres({ url: TEST_DATABASE_URL, timeouts: { statementMs: 300 } })
    t.teardown(() => db.destroy())
    const { rows } = await sql<{ timeout: string }>`select current_setting('statement_timeout') as timeout`.execute(db)
    t.equal(rows[0]?.timeout, '300ms')
    await t.rejects(sql`select pg_sleep(2)`.execute(db), { statusCode: 503, code: 'DATABASE_UNAVAILABLE' })
    t.same((await sql<{ one: number }>`select 1 as one`.execute(db)).rows, [{ one: 1 }], 'the connection goes on')
  },
)

t.test('the database timeouts and the readiness timeout come from options over variables over defaults', async (t) => {
  const base = { jwtSecret: TEST_SECRET, dbFile: ':memory:' }
  const defaults = resolveConfig({ ...base, env: {} })
  t.same(defaults.databaseTimeouts, { connectMs: 5_000, statementMs: 10_000, queryMs: 15_000 })
  t.equal(defaults.readinessTimeoutMs, 1_000)
  const env = {
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    DATABASE_STATEMENT_TIMEOUT_MS: '0',
    DATABASE_QUERY_TIMEOUT_MS: '3000',
    READINESS_TIMEOUT_MS: '500',
  }
  const fromEnv = resolveConfig({ ...base, env })
  t.same(fromEnv.databaseTimeouts, { connectMs: 1_000, statementMs: 0, queryMs: 3_000 })
  t.equal(fromEnv.readinessTimeoutMs, 500)
  const mixed = resolveConfig({ ...base, env, databaseTimeouts: { queryMs: 4_000 }, readinessTimeoutMs: 2_000 })
  t.same(mixed.databaseTimeouts, { connectMs: 1_000, statementMs: 0, queryMs: 4_000 }, 'an option wins field by field')
  t.equal(mixed.readinessTimeoutMs, 2_000)
  t.throws(() => resolveConfig({ ...base, env: { DATABASE_QUERY_TIMEOUT_MS: 'never' } }), /DATABASE_QUERY_TIMEOUT_MS/)
  t.throws(() => resolveConfig({ ...base, env: {}, databaseTimeouts: { connectMs: -1 } }), /connectMs/)
  t.throws(() => resolveConfig({ ...base, env: { READINESS_TIMEOUT_MS: '0' } }), /READINESS_TIMEOUT_MS/)
})
