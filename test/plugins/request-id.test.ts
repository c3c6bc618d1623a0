import t from 'tap'
import { build, register, settle } from '../helpers.js'

interface LogLine {
  msg: string
  reqId?: string
  req?: { url: string }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** An app that logs to memory at `info`. */
async function loggingApp(t: Parameters<typeof build>[0]) {
  const lines: LogLine[] = []
  const stream = { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }
  const app = await build(t, { logger: { level: 'info', stream } })
  return { app, lines }
}

t.test("a caller's safe x-request-id is the request's id, in every log line and echoed back", async (t) => {
  const { app, lines } = await loggingApp(t)
  const ava = await register(app, 'ava')
  for (const [url, id] of [
    ['/ping', 'client-id.42:7'],
    ['/v1/groups', 'f47ac10b-58cc-4372-a567-0e02b2c3d479'],
    ['/v1/groups/nope/members', 'x'.repeat(128)],
  ] as const) {
    const res = await app.inject({ method: 'GET', url, headers: { ...ava.auth, 'x-request-id': id } })
    t.equal(res.headers['x-request-id'], id, `${url}: the response echoes the caller's id`)
    await settle(10)
    const own = lines.filter((line) => line.reqId === id)
    t.same(
      own.map((line) => line.msg),
      ['incoming request', 'request completed'],
      `${url}: the request's log lines carry it as reqId`,
    )
    t.equal(own[0]?.req?.url, url)
  }
  t.ok(
    lines
      .filter((line) => line.req || line.msg === 'request completed')
      .every((line) => typeof line.reqId === 'string'),
    'every request log line has a reqId',
  )
})

t.test('an unsafe or missing x-request-id is replaced by a new id, which is echoed', async (t) => {
  const { app, lines } = await loggingApp(t)
  const bad = ['x'.repeat(129), 'two words', 'back\\slash', '"quoted"', '<script>', 'a;b', '']
  const seen = new Set<string>()
  for (const given of bad) {
    const res = await app.inject({ method: 'GET', url: '/ping', headers: { 'x-request-id': given } })
    const id = String(res.headers['x-request-id'])
    t.match(id, UUID, `${JSON.stringify(given.slice(0, 20))}: a new UUID instead`)
    seen.add(id)
  }
  const twice = await app.inject({ method: 'GET', url: '/ping', headers: { 'x-request-id': ['a', 'b'] } })
  t.match(String(twice.headers['x-request-id']), UUID, 'a repeated header is not trusted either')
  seen.add(String(twice.headers['x-request-id']))
  for (let i = 0; i < 3; i += 1) {
    const res = await app.inject({ method: 'GET', url: '/ping' })
    seen.add(String(res.headers['x-request-id']))
  }
  t.equal(seen.size, bad.length + 4, 'every request got an id of its own')
  await settle(10)
  const log = JSON.stringify(lines)
  t.notOk(log.includes('two words') || log.includes('<script>'), 'the refused values are not logged')
  t.ok(
    [...seen].every((id) => lines.some((line) => line.reqId === id)),
    'the new ids are the ones in the log',
  )
})

t.test('refusals echo the request id too', async (t) => {
  const { app } = await loggingApp(t)
  const missing = await app.inject({ method: 'GET', url: '/v1/groups', headers: { 'x-request-id': 'no-token-1' } })
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['x-request-id'], 'no-token-1', 'a 401 echoes the id')
  const unknown = await app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'lost-1' } })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.headers['x-request-id'], 'lost-1', 'a 404 echoes the id')
  const tooBig = await app.inject({
    method: 'POST',
    url: '/v1/users/login',
    headers: { 'x-request-id': 'big-1' },
    payload: { email: 'x'.repeat(70 * 1024), password: 'x' },
  })
  t.equal(tooBig.statusCode, 413)
  t.equal(tooBig.headers['x-request-id'], 'big-1', 'a 413 echoes the id')
})
