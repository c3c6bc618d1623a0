import { Agent, request } from 'node:http'
import t from 'tap'
import { resolveConfig } from '../../src/options.js'
import { build, listen, settle, TEST_SECRET } from '../helpers.js'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function get(agent: Agent, port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, path }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test(
  'a request that arrives while the server closes gets a 503 with a code, and its connection closes',
  async (t) => {
    const app = await build(t, { shutdownDrainMs: 5_000 })
    const port = await listen(app)
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.teardown(() => agent.destroy())

    const before = await get(agent, port, '/ping')
    t.equal(before.status, 200)
    t.not(before.headers.connection, 'close', 'the connection is kept alive for the next request')

    const started = Date.now()
    const closed = app.close()
    // The keep-alive connection holds the drain open: the next request on it is answered, not reset.
    await settle(50)
    const during = await get(agent, port, '/ping')
    t.equal(during.status, 503)
    t.same(JSON.parse(during.body), {
      error: 'The server is shutting down; retry shortly (another instance may answer).',
      code: 'SHUTTING_DOWN',
      statusCode: 503,
    })
    t.equal(during.headers.connection, 'close', 'the answer closes the connection')
    t.equal(during.headers['retry-after'], '1')
    t.equal(during.headers['content-type'], 'application/json; charset=utf-8')

    await closed
    t.ok(Date.now() - started < 3_000, 'the close did not wait the whole drain once no connection was left')
  },
)

t.test('an idle keep-alive connection holds the close for the drain time at most', async (t) => {
  const app = await build(t, { shutdownDrainMs: 300 })
  const port = await listen(app)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  t.equal((await get(agent, port, '/ping')).status, 200)

  const started = Date.now()
  await app.close()
  const took = Date.now() - started
  t.ok(took >= 250, `the idle connection was given the drain time (${took} ms)`)
  t.ok(took < 3_000, 'and no more')
})

t.test('without connections the close does not wait', async (t) => {
  const app = await build(t, { shutdownDrainMs: 10_000 })
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 2_000)
})

t.test('shutdownDrainMs comes from the option over SHUTDOWN_DRAIN_MS over 1,000', async (t) => {
  const base = { jwtSecret: TEST_SECRET, dbFile: ':memory:' }
  t.equal(resolveConfig({ ...base, env: {} }).shutdownDrainMs, 1_000)
  t.equal(resolveConfig({ ...base, env: { SHUTDOWN_DRAIN_MS: '250' } }).shutdownDrainMs, 250)
  t.equal(resolveConfig({ ...base, env: { SHUTDOWN_DRAIN_MS: '250' }, shutdownDrainMs: 0 }).shutdownDrainMs, 0)
  t.throws(() => resolveConfig({ ...base, env: { SHUTDOWN_DRAIN_MS: 'soon' } }), /SHUTDOWN_DRAIN_MS/)
  t.throws(() => resolveConfig({ ...base, env: {}, shutdownDrainMs: -1 }), /shutdownDrainMs/)
})

t.test('the OpenAPI document names the 503 on every operation', async (t) => {
  const app = await build(t)
  const doc = (await app.inject('/docs/json')).json<{
    paths: Record<string, Record<string, { responses?: Record<string, { content?: unknown }> }>>
  }>()
  const missing: string[] = []
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!operation.responses?.['503']) missing.push(`${method.toUpperCase()} ${path}`)
    }
  }
  t.same(missing, [], 'every operation documents 503')
  const ping = doc.paths['/ping']?.get?.responses?.['503']
  t.match(ping, { content: { 'application/json': { schema: { required: ['error', 'code', 'statusCode'] } } } })
})
