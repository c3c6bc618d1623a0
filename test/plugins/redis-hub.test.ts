import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { RedisHub, SERVICE_RESTART } from '../../plugins/hub/redis-hub.js'
import type { ChatServerOptions } from '../../src/options.js'
import { resolveConfig } from '../../src/options.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import {
  build,
  Client,
  createGroup,
  freshSchema,
  listen,
  needsPostgres,
  register,
  TEST_DATABASE_URL,
  TEST_SECRET,
  type Account,
  type Frame,
} from '../helpers.js'

// Two app instances on one PostgreSQL schema and one Redis channel, as two servers behind a load balancer
// would be. Each test uses a channel prefix of its own, so tests running in parallel never hear each other.

const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379'
const ANNOUNCE_MS = 100
const EXPIRY_MS = 600

/** `{ skip }` when Redis does not answer; under CI=true its absence throws, and fails the run. */
async function needsRedis(): Promise<{ skip?: string }> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null })
  probe.on('error', () => undefined)
  try {
    await probe.connect()
    await probe.ping()
    return {}
  } catch {
    const where = REDIS_URL.replace(/\/\/[^@/]*@/, '//')
    if (process.env.CI === 'true') throw new Error(`Redis is unreachable at ${where}, and CI=true requires it`)
    return { skip: `Redis is unreachable at ${where} (set TEST_REDIS_URL)` }
  } finally {
    probe.disconnect()
  }
}

const services = await (async () => {
  const postgres = await needsPostgres()
  if (postgres.skip) return postgres
  return needsRedis()
})()

interface Pair {
  a: FastifyInstance
  b: FastifyInstance
  portA: number
  portB: number
  channelPrefix: string
  schema: string
}

/** Two listening instances sharing a fresh schema and a fresh Redis channel. */
async function pair(t: Test, overrides: ChatServerOptions = {}): Promise<Pair> {
  const channelPrefix = `test-${randomBytes(6).toString('hex')}`
  const schema = freshSchema(t)
  const options: ChatServerOptions = {
    databaseUrl: TEST_DATABASE_URL,
    databaseSchema: schema,
    redisUrl: REDIS_URL,
    redis: { channelPrefix, announceIntervalMs: ANNOUNCE_MS, presenceExpiryMs: EXPIRY_MS },
    rateLimits: false,
    ...overrides,
  }
  const a = await build(t, options)
  const b = await build(t, options)
  return { a, b, portA: await listen(a), portB: await listen(b), channelPrefix, schema }
}

async function post(app: FastifyInstance, sender: Account, groupId: number, content: string): Promise<number> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: sender.auth,
    payload: { content },
  })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json<{ id: number }>().id
}

const messageIds = (client: Client) => client.frames.filter((f) => f.type === 'group_message').map((f) => f.id)

/** Waits until the client has received `count` group messages. */
async function receivedMessages(client: Client, count: number, timeoutMs = 5000): Promise<unknown[]> {
  const deadline = Date.now() + timeoutMs
  while (messageIds(client).length < count) {
    if (Date.now() > deadline) throw new Error(`got ${messageIds(client).length} of ${count} messages`)
    await client.waitFor((f) => f.type === 'group_message' && messageIds(client).length >= count, 100).catch(() => {})
  }
  return messageIds(client)
}

/** Polls until `check` holds; resolves with the ms it took, rejects after `timeoutMs`. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<number> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now() - start
}

async function presence(app: FastifyInstance, viewer: Account, userId: number): Promise<boolean> {
  const res = await app.inject({ url: `/v1/users/${userId}/presence`, headers: viewer.auth })
  return res.json<{ online: boolean }>().online
}

t.test('configuration: REDIS_URL or redisUrl selects the Redis hub; bad values stop', async (t) => {
  const jwtSecret = TEST_SECRET
  t.equal(resolveConfig({ env: {}, jwtSecret }).redis, undefined, 'no URL: the in-process hub')
  t.same(
    resolveConfig({ env: { REDIS_URL: 'redis://r:6379' }, jwtSecret }).redis,
    {
      url: 'redis://r:6379',
      channelPrefix: 'chatserver',
      announceIntervalMs: 5000,
      presenceExpiryMs: 15000,
      commandTimeoutMs: 1000,
    },
    'REDIS_URL with the defaults',
  )
  t.match(
    resolveConfig({
      env: { REDIS_URL: 'redis://env' },
      redisUrl: 'rediss://option',
      redis: { channelPrefix: 'x' },
      jwtSecret,
    }).redis,
    { url: 'rediss://option', channelPrefix: 'x' },
    'the option wins over the variable',
  )
  t.match(
    resolveConfig({ env: { REDIS_URL: 'redis://r', REDIS_CHANNEL_PREFIX: 'team-a' }, jwtSecret }).redis,
    { channelPrefix: 'team-a' },
    'REDIS_CHANNEL_PREFIX names the channel',
  )
  t.match(
    resolveConfig({
      env: { REDIS_URL: 'redis://r', REDIS_CHANNEL_PREFIX: 'team-a' },
      redis: { channelPrefix: 'x' },
      jwtSecret,
    }).redis,
    { channelPrefix: 'x' },
    'the option wins over REDIS_CHANNEL_PREFIX',
  )
  t.throws(
    () => resolveConfig({ env: { REDIS_URL: 'redis://r', REDIS_CHANNEL_PREFIX: 'a b' }, jwtSecret }),
    /REDIS_CHANNEL_PREFIX/,
  )
  t.throws(() => resolveConfig({ env: { REDIS_URL: 'http://r' }, jwtSecret }), /REDIS_URL/)
  t.throws(
    () =>
      resolveConfig({
        env: {},
        redisUrl: 'redis://r',
        redis: { presenceExpiryMs: 10, announceIntervalMs: 10 },
        jwtSecret,
      }),
    /presenceExpiryMs/,
  )
  t.throws(
    () => resolveConfig({ env: {}, redisUrl: 'redis://r', redis: { channelPrefix: 'a b' }, jwtSecret }),
    /channelPrefix/,
  )
})

t.test('an unreachable Redis stops the start with a message', services, async (t) => {
  const hub = new RedisHub({
    url: 'redis://127.0.0.1:1',
    channelPrefix: 'x',
    announceIntervalMs: 100,
    presenceExpiryMs: 300,
  })
  await t.rejects(hub.start(), /Redis is unreachable at redis:\/\/127\.0\.0\.1:1/)
})

t.test('a socket on one instance receives what is posted to either, in the one order', services, async (t) => {
  const { a, b, portA, portB } = await pair(t)
  const [ava, mike, zoe] = [await register(a, 'ava'), await register(b, 'mike'), await register(a, 'zoe')]
  const groupId = await createGroup(b, mike, [ava, zoe])
  const onA = await Client.connect(t, portA, ava.token)
  const onB = await Client.connect(t, portB, zoe.token)

  // One after another, alternating instances: each socket gets them in id order.
  const sequential: number[] = []
  for (let i = 0; i < 10; i++) sequential.push(await post(i % 2 ? a : b, mike, groupId, `seq ${i}`))
  t.same(await receivedMessages(onA, 10), sequential, 'the socket on A, in order')
  t.same(await receivedMessages(onB, 10), sequential, 'the socket on B, in order')

  // At once on both instances: every socket gets each once, and both in the same order.
  const concurrent = await Promise.all(
    Array.from({ length: 30 }, (_, i) => post(i % 2 ? a : b, i % 3 ? mike : ava, groupId, `burst ${i}`)),
  )
  const gotA = (await receivedMessages(onA, 40)).slice(10)
  const gotB = (await receivedMessages(onB, 40)).slice(10)
  t.same([...gotA].sort(), [...concurrent].sort(), 'A got each concurrent message once')
  t.same(gotA, gotB, 'both instances delivered them in the same order')
})

t.test('a frame from a socket skips that socket only, also across instances', services, async (t) => {
  const { a, portA, portB } = await pair(t)
  const [ava, mike] = [await register(a, 'ava'), await register(a, 'mike')]
  await createGroup(a, ava, [mike])
  const avaOnA = await Client.connect(t, portA, ava.token)
  const avaOnB = await Client.connect(t, portB, ava.token)
  const mikeOnB = await Client.connect(t, portB, mike.token)
  const ack = await avaOnA.request({ type: 'direct_message', recipient_id: mike.id, content: 'from a socket' })
  const id = (ack.message as { id: number }).id
  t.match(await avaOnB.waitFor((f) => f.type === 'direct_message'), { id }, "the sender's other socket, on B")
  t.match(await mikeOnB.waitFor((f) => f.type === 'direct_message'), { id }, 'the recipient, on B')
  await avaOnA.request({ type: 'ping' })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(
    avaOnA.frames.filter((f) => f.type === 'direct_message'),
    [],
    'the sending socket got the ack, not the frame',
  )
})

t.test('a client moving from A to B resumes with since= without gap or duplicate', services, async (t) => {
  const { a, b, portA, portB } = await pair(t)
  const [ava, mike] = [await register(a, 'ava'), await register(b, 'mike')]
  const groupId = await createGroup(a, ava, [mike])
  const onA = await Client.connect(t, portA, ava.token)
  const before: number[] = []
  for (let i = 0; i < 3; i++) before.push(await post(i % 2 ? a : b, mike, groupId, `before ${i}`))
  t.same(await receivedMessages(onA, 3), before)
  const since = before.at(-1)
  const closed = new Promise((resolve) => onA.socket.once('close', resolve))
  onA.socket.close()
  await closed

  const missed: number[] = []
  for (let i = 0; i < 4; i++) missed.push(await post(i % 2 ? a : b, mike, groupId, `missed ${i}`))
  // Posted while the client reconnects to B: each arrives through the backlog or live, once.
  const during = Promise.all(Array.from({ length: 6 }, (_, i) => post(i % 2 ? a : b, mike, groupId, `during ${i}`)))
  const onB = await Client.connect(t, portB, ava.token, `&since=${since}`)
  const duringIds = await during
  await onB.waitFor((f) => f.type === 'system' && f.code === 'RESUME_COMPLETE')
  const after = [await post(a, mike, groupId, 'after')]

  const all = [...missed, ...duringIds, ...after].sort((x, y) => x - y)
  const got = (await receivedMessages(onB, all.length)) as number[]
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.same(messageIds(onB), got, 'nothing more came')
  t.same(
    [...got].sort((x, y) => x - y),
    all,
    'every message after the cursor, once',
  )
  t.same(got.slice(0, missed.length), missed, 'the messages missed before reconnecting come first, in order')
})

t.test('a user connected to A is online on B, and offline once they leave', services, async (t) => {
  const { a, b, portA, portB } = await pair(t)
  const [ava, mike] = [await register(a, 'ava'), await register(b, 'mike')]
  await createGroup(a, ava, [mike])
  const mikeOnB = await Client.connect(t, portB, mike.token)
  t.equal(await presence(b, mike, ava.id), false, 'offline before connecting')

  const avaOnA = await Client.connect(t, portA, ava.token)
  await eventually(() => presence(b, mike, ava.id))
  t.pass('B reports Ava online')
  t.match(
    await mikeOnB.waitFor((f) => f.type === 'presence' && f.user_id === ava.id),
    { online: true },
    'a contact on B hears Ava come online on A',
  )

  // isOnline drives direct delivery: sent on B to a user on A, it is SENT and arrives.
  const res = await b.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${ava.id}`,
    headers: mike.auth,
    payload: { content: 'across' },
  })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { status: 'SENT' }, 'the recipient counts as online')
  t.match(await avaOnA.waitFor((f: Frame) => f.type === 'direct_message'), { content: 'across' })

  avaOnA.socket.close()
  await eventually(async () => !(await presence(b, mike, ava.id)))
  t.pass('B reports Ava offline after her last socket closed')
})

t.test("an instance's users stop being online elsewhere when it closes, or goes quiet", services, async (t) => {
  const { a, b, portA, channelPrefix } = await pair(t)
  const [ava, mike, zoe] = [await register(a, 'ava'), await register(b, 'mike'), await register(b, 'zoe')]
  await createGroup(b, mike, [ava, zoe])
  await Client.connect(t, portA, ava.token)
  await eventually(() => presence(b, mike, ava.id))
  await a.close()
  const closedAfter = await eventually(async () => !(await presence(b, mike, ava.id)))
  t.ok(closedAfter < EXPIRY_MS, `a closed instance says goodbye: offline on B after ${closedAfter} ms`)

  // An instance that dies says nothing more: what it last announced expires.
  const ghost = new Redis(REDIS_URL)
  t.teardown(() => ghost.disconnect())
  const announce = () =>
    ghost.publish(`${channelPrefix}:hub`, JSON.stringify({ type: 'users', from: 'ghost', users: [zoe.id] }))
  await announce()
  await eventually(() => presence(b, mike, zoe.id))
  await announce()
  const lastWord = Date.now()
  await new Promise((resolve) => setTimeout(resolve, EXPIRY_MS / 2))
  t.ok(await presence(b, mike, zoe.id), 'still online before the expiry')
  await eventually(async () => !(await presence(b, mike, zoe.id)), EXPIRY_MS * 3)
  const gone = Date.now() - lastWord
  t.ok(gone >= EXPIRY_MS - 50 && gone < EXPIRY_MS + 400, `offline ${gone} ms after its last announcement`)
})

t.test('after a Redis drop, an instance closes its sockets with 1012 so they resume', services, async (t) => {
  const { b, schema, channelPrefix } = await pair(t)
  // A third instance on a hub the test holds, to find its subscriber connection and cut it.
  const hub = new RedisHub({
    url: REDIS_URL,
    channelPrefix,
    announceIntervalMs: ANNOUNCE_MS,
    presenceExpiryMs: EXPIRY_MS,
  })
  await hub.start()
  t.teardown(() => hub.close())
  const a = await build(t, { databaseUrl: TEST_DATABASE_URL, databaseSchema: schema, hub, rateLimits: false })
  const portA = await listen(a)
  const [ava, mike] = [await register(a, 'ava'), await register(a, 'mike')]
  const groupId = await createGroup(a, ava, [mike])
  const onA = await Client.connect(t, portA, ava.token)
  const first = await post(b, mike, groupId, 'before the drop')
  await receivedMessages(onA, 1)
  const closed = new Promise<number>((resolve) => onA.socket.once('close', (code) => resolve(code)))

  const admin = new Redis(REDIS_URL)
  t.teardown(() => admin.disconnect())
  const name = `chatserver-${hub.instanceId}-sub`
  const clients = (await admin.client('LIST')) as string
  const killed = [...clients.matchAll(/id=(\d+) [^\n]*name=(\S+)/g)].filter((m) => m[2] === name).map((m) => m[1])
  t.equal(killed.length, 1, "found A's subscriber connection")
  await admin.client('KILL', 'ID', killed[0] as string)
  const missed = await post(b, mike, groupId, 'while A was not listening')

  t.equal(await closed, SERVICE_RESTART, 'closed with 1012 once reconnected')
  const again = await Client.connect(t, portA, ava.token, `&since=${first}`)
  const live = await post(b, mike, groupId, 'after the reconnect')
  t.same(await receivedMessages(again, 2), [missed, live], 'the resume brought what was missed, then live')
})

t.test('with Redis, each instance counts the frames it hands its own sockets', services, async (t) => {
  const { a, b, portB } = await pair(t)
  const ava = await register(a, 'ava')
  const mike = await register(a, 'mike')
  const groupId = await createGroup(a, ava, [mike])
  const delivered = async (app: FastifyInstance) => {
    const page = await app.inject({ method: 'GET', url: '/metrics' })
    return Number(/^chatserver_frames_delivered_total (\d+)$/m.exec(page.body)?.[1])
  }
  const mikeOnB = await Client.connect(t, portB, mike.token)
  await eventually(async () => (await presence(a, ava, mike.id)) === true)
  const [aBefore, bBefore] = [await delivered(a), await delivered(b)]
  await post(a, ava, groupId, 'posted on A, delivered on B')
  await receivedMessages(mikeOnB, 1)
  await eventually(async () => (await delivered(b)) === bBefore + 1)
  t.equal(await delivered(b), bBefore + 1, 'B counts the frame it handed to Mike’s socket')
  t.equal(await delivered(a), aBefore, 'A, with no socket of a member, counts none')
  const fanouts = /^chatserver_fanout_duration_seconds_count (\d+)$/m.exec(
    (await a.inject({ method: 'GET', url: '/metrics' })).body,
  )
  t.ok(Number(fanouts?.[1]) >= 1, 'A timed its publish')
})

t.test('a rate limit holds across instances: their counters are kept in Redis', services, async (t) => {
  const { a, b } = await pair(t, { rateLimits: { send: { max: 3, timeWindow: 60_000 } } })
  const ava = await register(a, 'ava')
  const groupId = await createGroup(a, ava)
  const send = (app: FastifyInstance, content: string) =>
    app.inject({ method: 'POST', url: `/v1/messages/group/${groupId}`, headers: ava.auth, payload: { content } })
  const statuses: number[] = []
  for (const app of [a, b, a]) statuses.push((await send(app, `m${statuses.length}`)).statusCode)
  t.same(statuses, [201, 201, 201], 'three sends over two instances')
  const refused = await send(b, 'a fourth')
  t.equal(refused.statusCode, 429, 'the fourth is refused, on the instance that had seen only one')
  t.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After')
  t.equal(refused.json<ErrorBody>().code, 'RATE_LIMITED')
})

t.test('the send budget holds across instances for socket and REST sends together', services, async (t) => {
  const { a, b, portA, portB } = await pair(t, { rateLimits: { send: { max: 3, timeWindow: 60_000 } } })
  const ava = await register(a, 'ava')
  const groupId = await createGroup(a, ava)
  const onA = await Client.connect(t, portA, ava.token)
  const onB = await Client.connect(t, portB, ava.token)
  const frame = (content: string) => ({ type: 'group_message', group_id: groupId, content })

  t.equal((await onA.request(frame('one'))).type, 'ack')
  t.equal((await onB.request(frame('two'))).type, 'ack')
  const rest = await a.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: ava.auth,
    payload: { content: 'three' },
  })
  t.equal(rest.statusCode, 201, 'a REST send takes the third')
  const refused = await onB.request(frame('four'))
  t.match(refused, { type: 'error', code: 'RATE_LIMITED' }, 'B’s socket is refused: the budget is shared in Redis')
  t.ok(typeof refused.retry_after_ms === 'number' && refused.retry_after_ms > 0, 'with retry_after_ms')
  t.match(await onA.request(frame('five')), { type: 'error', code: 'RATE_LIMITED' }, 'and A’s')
  const history = await b.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.same(
    history.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content),
    ['one', 'two', 'three'],
    'nothing refused was stored',
  )
})
