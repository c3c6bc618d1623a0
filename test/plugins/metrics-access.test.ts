import t from 'tap'
import { resolveConfig } from '../../src/options.js'
import { build, listen, TEST_SECRET } from '../helpers.js'

const METRICS_TOKEN = 'metrics-token-0123456789-abcdefghijklmnop'

t.test('in production /metrics is not public: without a token it is not served', async (t) => {
  const app = await build(t, { nodeEnv: 'production' })
  const res = await app.inject('/metrics')
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'ROUTE_NOT_FOUND', statusCode: 404 })
})

t.test('with METRICS_TOKEN, /metrics needs it as a bearer token', async (t) => {
  const app = await build(t, { nodeEnv: 'production', env: { METRICS_TOKEN } })
  const missing = await app.inject('/metrics')
  t.equal(missing.statusCode, 401)
  t.match(missing.json(), { code: 'MISSING_TOKEN', statusCode: 401 })
  const wrong = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.json(), { code: 'INVALID_TOKEN', statusCode: 401 })
  const basic = await app.inject({ url: '/metrics', headers: { authorization: `Basic ${METRICS_TOKEN}` } })
  t.equal(basic.statusCode, 401)
  const right = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  t.equal(right.statusCode, 200)
  t.match(right.body, /chatserver_messages_stored_total/)

  const doc = (await app.inject('/docs/json')).json<{
    paths: Record<string, { get?: { responses?: Record<string, unknown> } }>
  }>()
  t.ok(doc.paths['/metrics']?.get?.responses?.['401'], 'the document names the 401')
})

t.test('in development without a token /metrics stays open', async (t) => {
  const app = await build(t, { nodeEnv: 'development' })
  t.equal((await app.inject('/metrics')).statusCode, 200)
})

t.test('with METRICS_PORT the metrics are served on a port of their own, and only there', async (t) => {
  const lines: string[] = []
  const stream = { write: (line: string) => void lines.push(line) }
  const app = await build(t, {
    nodeEnv: 'production',
    metricsPort: 0,
    metricsToken: METRICS_TOKEN,
    logger: { level: 'info', stream },
  })
  const port = await listen(app)
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, 'not on the public port')
  // Port 0 took any free port: the start-up log says which.
  const metricsPort = Number(/Metrics served on port (\d+)/.exec(lines.join(''))?.[1])
  t.ok(metricsPort > 0, 'the metrics port listens once the app does')
  t.not(metricsPort, port)
  const base = `http://127.0.0.1:${metricsPort}`
  const anonymous = await fetch(`${base}/metrics`)
  t.equal(anonymous.status, 401, 'the token is required there too')
  t.match(await anonymous.json(), { code: 'MISSING_TOKEN', statusCode: 401 })
  const scraped = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  t.equal(scraped.status, 200)
  t.match(scraped.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.match(await scraped.text(), /chatserver_sockets_open/)
  t.equal((await fetch(`${base}/v1/users`)).status, 404, 'nothing else is served there')
  await app.close()
  await t.rejects(fetch(`${base}/metrics`), 'the metrics port closes with the app')
})

t.test('METRICS_TOKEN and METRICS_PORT come from the options over the variables', async (t) => {
  const base = { jwtSecret: TEST_SECRET, dbFile: ':memory:' }
  const none = resolveConfig({ ...base, env: {} })
  t.equal(none.metricsToken, undefined)
  t.equal(none.metricsPort, undefined)
  const fromEnv = resolveConfig({ ...base, env: { METRICS_TOKEN, METRICS_PORT: '9464' } })
  t.equal(fromEnv.metricsToken, METRICS_TOKEN)
  t.equal(fromEnv.metricsPort, 9464)
  t.equal(resolveConfig({ ...base, env: { METRICS_PORT: '9464' }, metricsPort: 9465 }).metricsPort, 9465)
  t.equal(resolveConfig({ ...base, env: { METRICS_TOKEN: '' } }).metricsToken, undefined, 'empty is none')
  t.throws(() => resolveConfig({ ...base, env: { METRICS_TOKEN: 'short' } }), /METRICS_TOKEN/)
  t.throws(() => resolveConfig({ ...base, env: { METRICS_PORT: 'ninety' } }), /METRICS_PORT/)
  t.throws(() => resolveConfig({ ...base, env: {}, metricsPort: 70_000 }), /metricsPort/)
})
