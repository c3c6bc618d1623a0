import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import { resolveConfig } from '../../src/options.js'
import { FreezableProxy } from '../freezable-proxy.js'
import { build, Client, createGroup, listen, register, settle, TEST_SECRET, type Account } from '../helpers.js'

// A Redis that keeps its connections open but stops answering (hung, paused, or behind a network that drops
// everything): the real one behind a proxy the test freezes. Login and sends must keep working (the rate
// limits let requests through, fan-out to other instances is reported as failing), readiness must say the
// broker is down, and all must come back once Redis answers.

const REDIS_URL = new URL(process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379')
const COMMAND_TIMEOUT_MS = 300

async function needsRedis(): Promise<{ skip?: string }> {
  const probe = new Redis(REDIS_URL.toString(), { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null })
  probe.on('error', () => undefined)
  try {
    await probe.connect()
    await probe.ping()
    return {}
  } catch {
    if (process.env.CI === 'true') throw new Error(`Redis is unreachable at ${REDIS_URL.host}, and CI=true requires it`)
    return { skip: `Redis is unreachable at ${REDIS_URL.host} (set TEST_REDIS_URL)` }
  } finally {
    probe.disconnect()
  }
}
const onRedis = await needsRedis()

/** The result and duration of `work`, or a rejection naming `what` once `limitMs` has passed. */
async function bounded<T>(what: string, limitMs: number, work: Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${limitMs} ms`)), limitMs)
  })
  try {
    const result = await Promise.race([work, late])
    return { result, ms: performance.now() - started }
  } finally {
    clearTimeout(timer)
  }
}

const post = (app: FastifyInstance, account: Account, groupId: number, content: string) =>
  app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: account.auth,
    payload: { content, client_msg_id: content },
  })

t.test('a Redis that stops answering slows nothing down for long and is reported', onRedis, async (t) => {
  const proxy = await FreezableProxy.start(Number(REDIS_URL.port || 6379), REDIS_URL.hostname)
  t.teardown(() => proxy.close())
  const redisUrl = new URL(REDIS_URL.toString())
  redisUrl.hostname = '127.0.0.1'
  redisUrl.port = String(proxy.port)
  const app = await build(t, {
    redisUrl: redisUrl.toString(),
    redis: {
      channelPrefix: `test-${randomBytes(6).toString('hex')}`,
      announceIntervalMs: 200,
      presenceExpiryMs: 1_000,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    },
    readinessTimeoutMs: 1_000,
  })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const socket = await Client.connect(t, port, ava.token)
  t.equal((await post(app, ava, groupId, 'before')).statusCode, 201)
  await socket.waitFor((frame) => frame.type === 'group_message' && frame.content === 'before')
  t.equal((await app.inject('/health/ready')).statusCode, 200)

  proxy.freeze()

  // Login counts against two limits in Redis: each count gives up after the command timeout.
  const login = await bounded(
    'login',
    5_000,
    app.inject({
      method: 'POST',
      url: '/v1/users/login',
      payload: { email: `${ava.username}@example.com`, password: 'correct horse battery' },
    }),
  )
  t.comment(`login took ${Math.round(login.ms)} ms against a frozen Redis`)
  t.equal(login.result.statusCode, 200, 'login works while Redis does not answer')

  const send = await bounded('REST send', 5_000, post(app, ava, groupId, 'while frozen'))
  t.comment(`a send took ${Math.round(send.ms)} ms against a frozen Redis`)
  t.equal(send.result.statusCode, 201, 'a send is stored while Redis does not answer')
  t.match(
    (
      await bounded(
        'socket send',
        5_000,
        socket.request({ type: 'group_message', group_id: groupId, content: 'socket' }),
      )
    ).result,
    { type: 'ack' },
    'a socket send is acknowledged too',
  )

  const ready = await bounded('readiness', 5_000, app.inject('/health/ready'))
  t.comment(`/health/ready took ${Math.round(ready.ms)} ms against a frozen Redis`)
  t.equal(ready.result.statusCode, 503, 'readiness notices')
  t.match(ready.result.json(), { status: 'unavailable', broker: 'down' })
  t.ok(ready.ms < 2_000, 'within two seconds')

  await settle(COMMAND_TIMEOUT_MS + 200)
  const metrics = await app.inject('/metrics')
  const failures = Number(/^chatserver_hub_publish_failures_total (\d+)$/m.exec(metrics.body)?.[1])
  t.ok(failures > 0, `the failed fan-out is counted (${failures})`)

  proxy.thaw()
  let status = 0
  for (let tries = 0; tries < 50 && status !== 200; tries += 1) {
    status = (await app.inject('/health/ready')).statusCode
    if (status !== 200) await settle(100)
  }
  t.equal(status, 200, 'ready again once Redis answers')
  t.equal((await post(app, ava, groupId, 'after')).statusCode, 201)
  await socket.waitFor((frame) => frame.type === 'group_message' && frame.content === 'after')
  const history = await app.inject({ url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.same(
    history.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content),
    ['before', 'while frozen', 'socket', 'after'],
    'every acknowledged message is stored',
  )
})

t.test('REDIS_COMMAND_TIMEOUT_MS: the option over the variable over 1,000', async (t) => {
  const base = { jwtSecret: TEST_SECRET, dbFile: ':memory:' }
  t.equal(resolveConfig({ ...base, env: { REDIS_URL: 'redis://r' } }).redis?.commandTimeoutMs, 1_000)
  const env = { REDIS_URL: 'redis://r', REDIS_COMMAND_TIMEOUT_MS: '250' }
  t.equal(resolveConfig({ ...base, env }).redis?.commandTimeoutMs, 250)
  t.equal(resolveConfig({ ...base, env, redis: { commandTimeoutMs: 400 } }).redis?.commandTimeoutMs, 400)
  t.throws(() => resolveConfig({ ...base, env: { ...env, REDIS_COMMAND_TIMEOUT_MS: '0' } }), /REDIS_COMMAND_TIMEOUT_MS/)
  t.throws(() => resolveConfig({ ...base, env, redis: { commandTimeoutMs: 0.5 } }), /commandTimeoutMs/)
})
