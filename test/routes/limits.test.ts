import { join } from 'node:path'
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { DEFAULT_MAX_GROUP_MEMBERS, DEFAULT_RATE_LIMITS, resolveConfig } from '../../src/options.js'
import { chatServer } from '../../src/plugin.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import { build, Client, createGroup, listen, register, settle, tempDir, TEST_SECRET, type Account } from '../helpers.js'

const FAR = '10.1.1.1'
const ELSEWHERE = '10.2.2.2'

/** A 429 carries `Retry-After` in whole seconds and exactly the shared error body. */
function assertRateLimited(t: Test, res: LightMyRequestResponse, what: string) {
  t.equal(res.statusCode, 429, `${what}: 429`)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${what}: Retry-After is a whole number of seconds`)
  t.equal(res.headers['x-ratelimit-remaining'], '0', `${what}: nothing remains`)
  const body = res.json<Record<string, unknown>>()
  t.same(Object.keys(body).sort(), ['code', 'error', 'statusCode'], `${what}: only the error fields`)
  t.match(body, { code: 'RATE_LIMITED', statusCode: 429, error: /retry in \d+ s/ }, `${what}: the body`)
}

let counter = 0
const signUp = (app: FastifyInstance, remoteAddress: string, name = 'user') => {
  counter += 1
  const username = `${name}${counter}`
  return app.inject({
    method: 'POST',
    url: '/v1/users/register',
    remoteAddress,
    payload: { username, email: `${username}@example.com`, password: 'correct horse battery' },
  })
}

const logIn = (app: FastifyInstance, remoteAddress: string, email: string, password = 'correct horse battery') =>
  app.inject({ method: 'POST', url: '/v1/users/login', remoteAddress, payload: { email, password } })

const sendToGroup = (app: FastifyInstance, sender: Account, groupId: number, content: string, remoteAddress?: string) =>
  app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: sender.auth,
    payload: { content, client_msg_id: `cm-${content}` },
    ...(remoteAddress ? { remoteAddress } : {}),
  })

const sendDirect = (app: FastifyInstance, sender: Account, recipient: Account, content: string) =>
  app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${recipient.id}`,
    headers: sender.auth,
    payload: { content },
  })

async function groupContents(app: FastifyInstance, reader: Account, groupId: number): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: reader.auth })
  return res.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content)
}

t.test('register is limited per client address: 429 with Retry-After, other addresses unaffected', async (t) => {
  const app = await build(t, { rateLimits: { register: { max: 2, timeWindow: 60_000 } } })

  const first = await signUp(app, FAR)
  t.equal(first.statusCode, 201)
  t.equal(first.headers['x-ratelimit-limit'], '2', 'the limit is announced')
  t.equal(first.headers['x-ratelimit-remaining'], '1')
  t.equal((await signUp(app, FAR)).statusCode, 201)

  counter += 1
  const refusedName = `refused${counter}`
  const refused = await app.inject({
    method: 'POST',
    url: '/v1/users/register',
    remoteAddress: FAR,
    payload: { username: refusedName, email: `${refusedName}@example.com`, password: 'correct horse battery' },
  })
  assertRateLimited(t, refused, 'the third sign-up from one address')
  const login = await logIn(app, ELSEWHERE, `${refusedName}@example.com`)
  t.equal(login.json<ErrorBody>().code, 'INVALID_CREDENTIALS', 'the refused sign-up created no account')

  t.equal((await signUp(app, ELSEWHERE)).statusCode, 201, 'another address still signs up')
  t.equal((await signUp(app, FAR)).statusCode, 429, 'the first address stays refused')
})

t.test('login is limited per client address', async (t) => {
  const app = await build(t, { rateLimits: { login: { max: 3, timeWindow: 60_000 }, loginEmail: false } })
  const ava = await register(app, 'ava')
  const email = `${ava.username}@example.com`

  t.equal((await logIn(app, FAR, email, 'wrong password')).statusCode, 401)
  t.equal((await logIn(app, FAR, email, 'wrong password')).statusCode, 401)
  t.equal((await logIn(app, FAR, email)).statusCode, 200)
  assertRateLimited(t, await logIn(app, FAR, email), 'a fourth login from one address, right password and all')
  t.equal((await logIn(app, ELSEWHERE, email)).statusCode, 200, 'another address still logs in')
})

t.test('login is limited per email address, across client addresses and letter case', async (t) => {
  const app = await build(t, { rateLimits: { login: false, loginEmail: { max: 2, timeWindow: 60_000 } } })
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const email = `${ava.username}@example.com`

  t.equal((await logIn(app, FAR, email, 'guess one')).statusCode, 401)
  t.equal((await logIn(app, ELSEWHERE, email.toUpperCase(), 'guess two')).statusCode, 401)
  assertRateLimited(t, await logIn(app, '10.3.3.3', ` ${email} `), 'a third try at one account from a third address')
  const other = await logIn(app, FAR, `${mike.username}@example.com`)
  t.equal(other.statusCode, 200, 'another account still logs in from the same address')
  const invalid = await app.inject({ method: 'POST', url: '/v1/users/login', remoteAddress: FAR, payload: {} })
  t.equal(invalid.statusCode, 400, 'a body without an email is refused by validation, not counted')
})

t.test('login shows the limit closer to refusing', async (t) => {
  const app = await build(t, {
    rateLimits: { login: { max: 5, timeWindow: 60_000 }, loginEmail: { max: 2, timeWindow: 60_000 } },
  })
  const ava = await register(app, 'ava')
  const res = await logIn(app, FAR, `${ava.username}@example.com`)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-ratelimit-limit'], '2', 'the per-email limit is the tighter one')
  t.equal(res.headers['x-ratelimit-remaining'], '1')
})

t.test('sends are limited per user, group and direct together; a refused send stores nothing', async (t) => {
  const app = await build(t, { rateLimits: { send: { max: 3, timeWindow: 60_000 } } })
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])

  t.equal((await sendToGroup(app, ava, groupId, 'one')).statusCode, 201)
  t.equal((await sendDirect(app, ava, mike, 'direct one')).statusCode, 201)
  const third = await sendToGroup(app, ava, groupId, 'two')
  t.equal(third.statusCode, 201)
  t.equal(third.headers['x-ratelimit-remaining'], '0', 'the last allowed send says nothing remains')

  assertRateLimited(t, await sendToGroup(app, ava, groupId, 'three'), 'a fourth group send')
  assertRateLimited(t, await sendDirect(app, ava, mike, 'direct two'), 'a direct send in the same window')
  const elsewhere = await sendToGroup(app, ava, groupId, 'four', ELSEWHERE)
  t.equal(elsewhere.statusCode, 429, 'the limit follows the user, not the address')

  t.same(await groupContents(app, mike, groupId), ['one', 'two'], 'the refused group sends were not stored')
  const direct = await app.inject({ method: 'GET', url: `/v1/messages/history/${ava.id}`, headers: mike.auth })
  t.same(
    direct.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content),
    ['direct one'],
    'the refused direct send was not stored',
  )

  const mikeSends = await sendToGroup(app, mike, groupId, 'from mike')
  t.equal(mikeSends.statusCode, 201, 'another user on the same address still sends')
  t.equal(mikeSends.headers['x-ratelimit-remaining'], '2', 'with a budget of his own')

  const unauthenticated = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    payload: { content: 'anon' },
  })
  t.equal(unauthenticated.json<ErrorBody>().code, 'MISSING_TOKEN', 'a send without a token is refused before the limit')
})

t.test('a send refused by the limit is not delivered to the group’s sockets', async (t) => {
  const app = await build(t, { rateLimits: { send: { max: 1, timeWindow: 60_000 } } })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const mikeSocket = await Client.connect(t, port, mike.token)

  t.equal((await sendToGroup(app, ava, groupId, 'allowed')).statusCode, 201)
  t.equal((await sendToGroup(app, ava, groupId, 'refused')).statusCode, 429)
  await mikeSocket.waitFor((f) => f.type === 'group_message' && f.content === 'allowed')
  await settle()
  t.same(
    mikeSocket.frames.filter((f) => f.type === 'group_message').map((f) => f.content),
    ['allowed'],
    'only the allowed message arrives',
  )
})

t.test('the limit resets after its window', async (t) => {
  const timeWindow = 400
  const app = await build(t, { rateLimits: { send: { max: 2, timeWindow } } })
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)

  let refused: LightMyRequestResponse | undefined
  for (let i = 0; i < 50 && !refused; i++) {
    const res = await sendToGroup(app, ava, groupId, `burst ${i}`)
    if (res.statusCode === 429) refused = res
    else t.equal(res.statusCode, 201, `burst ${i} is stored`)
  }
  if (!refused) throw new Error('the limit never refused a send')
  assertRateLimited(t, refused, 'a send over the limit')
  await new Promise((resolve) => setTimeout(resolve, timeWindow + 50))
  const after = await sendToGroup(app, ava, groupId, 'after the window')
  t.equal(after.statusCode, 201, 'a send after the window is accepted')
  t.equal(after.headers['x-ratelimit-remaining'], '1', 'with a fresh budget')
})

t.test(
  'the defaults: 10 sign-ups and 10 logins a minute per address, 10 logins per 5 minutes per email, 60 sends per 10 s per user',
  async (t) => {
    t.same(DEFAULT_RATE_LIMITS, {
      register: { max: 10, timeWindow: 60_000 },
      login: { max: 10, timeWindow: 60_000 },
      loginEmail: { max: 10, timeWindow: 300_000 },
      send: { max: 60, timeWindow: 10_000 },
      passwordCheck: { max: 10, timeWindow: 300_000 },
      memberAdds: { max: 30, timeWindow: 60_000 },
    })
    t.equal(DEFAULT_MAX_GROUP_MEMBERS, 10_000)
    const config = resolveConfig({ env: {}, dbFile: ':memory:' })
    t.same(config.rateLimits, DEFAULT_RATE_LIMITS, 'apply without options or variables')
    t.equal(config.maxGroupMembers, 10_000)

    const app = await build(t)
    const ava = await register(app, 'ava')
    const groupId = await createGroup(app, ava)
    const registered = await signUp(app, FAR)
    t.equal(registered.headers['x-ratelimit-limit'], '10', 'register')
    const login = await logIn(app, FAR, `${ava.username}@example.com`)
    t.equal(login.headers['x-ratelimit-limit'], '10', 'login')
    t.equal(login.headers['x-ratelimit-remaining'], '9')
    t.equal((await sendToGroup(app, ava, groupId, 'hi')).headers['x-ratelimit-limit'], '60', 'send')
    const list = await app.inject({ method: 'GET', url: '/v1/groups', headers: ava.auth })
    t.equal(list.headers['x-ratelimit-limit'], undefined, 'routes without a limit of their own have none')
  },
)

t.test('limits come from options over RATE_LIMIT_* variables; off and false turn them off', async (t) => {
  const fromEnv = (env: Record<string, string>, options = {}) => resolveConfig({ env, dbFile: ':memory:', ...options })
  t.same(fromEnv({ RATE_LIMIT_SEND: '5/2s' }).rateLimits.send, { max: 5, timeWindow: 2000 })
  t.same(fromEnv({ RATE_LIMIT_REGISTER: '3 / 1h' }).rateLimits.register, { max: 3, timeWindow: 3_600_000 })
  t.same(fromEnv({ RATE_LIMIT_LOGIN: '20/90s' }).rateLimits.login, { max: 20, timeWindow: 90_000 })
  t.same(fromEnv({ RATE_LIMIT_LOGIN_EMAIL: '7/250ms' }).rateLimits.loginEmail, { max: 7, timeWindow: 250 })
  t.equal(fromEnv({ RATE_LIMIT_SEND: 'off' }).rateLimits.send, false)
  t.same(fromEnv({ RATE_LIMIT_SEND: '5/2s' }, { rateLimits: { send: { max: 9 } } }).rateLimits.send, {
    max: 9,
    timeWindow: 2000,
  })
  t.same(
    fromEnv({ RATE_LIMIT_SEND: 'off' }, { rateLimits: { send: { max: 9 } } }).rateLimits.send,
    { max: 9, timeWindow: 10_000 },
    'an option turns a limit back on over off',
  )
  t.same(
    fromEnv({}, { rateLimits: false }).rateLimits,
    { register: false, login: false, loginEmail: false, send: false, passwordCheck: false, memberAdds: false },
    'rateLimits: false turns every one off',
  )
  t.equal(fromEnv({ MAX_GROUP_MEMBERS: '1000' }).maxGroupMembers, 1000)
  t.equal(fromEnv({ MAX_GROUP_MEMBERS: '1000' }, { maxGroupMembers: 5 }).maxGroupMembers, 5)

  t.throws(() => fromEnv({ RATE_LIMIT_SEND: 'lots' }), /RATE_LIMIT_SEND/, 'a bad variable is named')
  t.throws(() => fromEnv({ RATE_LIMIT_SEND: '0/1s' }), /rateLimits\.send/, 'a zero max is refused')
  t.throws(() => fromEnv({ MAX_GROUP_MEMBERS: '0' }), /MAX_GROUP_MEMBERS/)
  t.throws(() => fromEnv({}, { rateLimits: { login: { timeWindow: 0.5 } } }), /rateLimits\.login/)
  t.throws(() => fromEnv({}, { maxGroupMembers: -1 }), /maxGroupMembers/)

  const app = await build(t, { rateLimits: false })
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const sent = await sendToGroup(app, ava, groupId, 'unlimited')
  t.equal(sent.statusCode, 201)
  t.equal(sent.headers['x-ratelimit-limit'], undefined, 'no limit, no headers')

  const viaEnv = await buildApp({
    dbFile: join(tempDir(t), 'env.db'),
    env: { RATE_LIMIT_SEND: '1/1m' },
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  t.teardown(() => viaEnv.close())
  const bob = await register(viaEnv, 'bob')
  const bobsGroup = await createGroup(viaEnv, bob)
  t.equal((await sendToGroup(viaEnv, bob, bobsGroup, 'one')).statusCode, 201)
  t.equal((await sendToGroup(viaEnv, bob, bobsGroup, 'two')).statusCode, 429, 'RATE_LIMIT_SEND applies')
})

t.test('embedded, the limits stay inside the chat server: a host’s routes are never limited', async (t) => {
  const host = Fastify()
  host.get('/host', async () => ({ from: 'host' }))
  const tight = { max: 1, timeWindow: 60_000 }
  await host.register(chatServer, {
    prefix: '/chat',
    dbFile: join(tempDir(t), 'embedded.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
    rateLimits: { register: tight, login: tight, loginEmail: tight, send: tight },
  })
  // Declared after the chat server: had its @fastify/rate-limit leaked to the host, this config would apply.
  host.get('/host/configured', { config: { rateLimit: { max: 1, timeWindow: 60_000 } } }, async () => ({ ok: true }))
  t.teardown(() => host.close())
  await host.ready()

  for (let i = 0; i < 5; i++) {
    const own = await host.inject({ method: 'GET', url: '/host' })
    t.equal(own.statusCode, 200, `host route, request ${i + 1}`)
    t.equal(own.headers['x-ratelimit-limit'], undefined, 'no rate limit headers on a host route')
    const configured = await host.inject({ method: 'GET', url: '/host/configured' })
    t.equal(configured.statusCode, 200, `host route with its own rateLimit config, request ${i + 1}`)
  }
  t.equal(host.hasDecorator('createRateLimit'), false, 'the host gets no rate-limit decorator')

  const payload = (name: string) => ({
    username: name,
    email: `${name}@example.com`,
    password: 'correct horse battery',
  })
  const first = await host.inject({ method: 'POST', url: '/chat/v1/users/register', payload: payload('embedded1') })
  t.equal(first.statusCode, 201)
  const second = await host.inject({ method: 'POST', url: '/chat/v1/users/register', payload: payload('embedded2') })
  assertRateLimited(t, second, 'the chat server’s own register under the prefix')
  t.equal((await host.inject({ method: 'GET', url: '/host' })).statusCode, 200, 'the host is still fine')
})

t.test(
  'a host that registered @fastify/rate-limit itself keeps its limits and the chat server keeps its own',
  async (t) => {
    const host = Fastify()
    await host.register(rateLimit, { global: false })
    host.get('/host', { config: { rateLimit: { max: 2, timeWindow: 60_000 } } }, async () => ({ from: 'host' }))
    await host.register(chatServer, {
      prefix: '/chat',
      dbFile: join(tempDir(t), 'embedded.db'),
      env: {},
      jwtSecret: TEST_SECRET,
      demoData: false,
      rateLimits: { register: { max: 1, timeWindow: 60_000 } },
    })
    t.teardown(() => host.close())
    await host.ready()

    t.equal((await host.inject({ method: 'GET', url: '/host' })).statusCode, 200)
    t.equal((await host.inject({ method: 'GET', url: '/host' })).statusCode, 200)
    t.equal((await host.inject({ method: 'GET', url: '/host' })).statusCode, 429, 'the host’s own limit holds')
    const payload = (name: string) => ({
      username: name,
      email: `${name}@example.com`,
      password: 'correct horse battery',
    })
    const first = await host.inject({ method: 'POST', url: '/chat/v1/users/register', payload: payload('hosted1') })
    t.equal(first.statusCode, 201)
    const second = await host.inject({ method: 'POST', url: '/chat/v1/users/register', payload: payload('hosted2') })
    assertRateLimited(t, second, 'the chat server’s register')
  },
)

async function members(app: FastifyInstance, reader: Account, groupId: number): Promise<number[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/members`, headers: reader.auth })
  return res.json<{ members: number[] }>().members
}

const addMember = (app: FastifyInstance, by: Account, groupId: number, user: Account) =>
  app.inject({ method: 'POST', url: `/v1/groups/${groupId}/members`, headers: by.auth, payload: { user_id: user.id } })

t.test('a full group refuses a new member with 409 GROUP_FULL and changes nothing', async (t) => {
  const app = await build(t, { maxGroupMembers: 3 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const bob = await register(app, 'bob')
  const groupId = await createGroup(app, ava, [mike, zoe])
  const avaSocket = await Client.connect(t, port, ava.token)
  const bobSocket = await Client.connect(t, port, bob.token)

  const refused = await addMember(app, ava, groupId, bob)
  t.equal(refused.statusCode, 409)
  t.same(refused.json(), {
    error: 'The group is full: a group holds at most 3 members.',
    code: 'GROUP_FULL',
    statusCode: 409,
  })
  t.same(
    await members(app, ava, groupId),
    [ava.id, mike.id, zoe.id].sort((a, b) => a - b),
    'the members are unchanged',
  )
  const bobsGroups = await app.inject({ method: 'GET', url: '/v1/groups', headers: bob.auth })
  t.same(bobsGroups.json<{ groups: unknown[] }>().groups, [], 'bob is in no group')
  const posted = await sendToGroup(app, bob, groupId, 'let me in')
  t.equal(posted.json<ErrorBody>().code, 'NOT_A_MEMBER', 'bob cannot post to it')

  const again = await addMember(app, ava, groupId, mike)
  t.equal(again.statusCode, 200, 'adding an existing member of a full group is still fine')
  t.equal(again.json<{ added: boolean }>().added, false)

  await settle()
  t.notOk(
    [...avaSocket.frames, ...bobSocket.frames].some((f) => f.type === 'member_added'),
    'no member_added was announced',
  )

  const left = await app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}/members/${zoe.id}`, headers: zoe.auth })
  t.equal(left.statusCode, 200, 'zoe leaves')
  const added = await addMember(app, ava, groupId, bob)
  t.equal(added.statusCode, 200, 'with room again, bob is added')
  t.equal(added.json<{ added: boolean }>().added, true)
  await bobSocket.waitFor((f) => f.type === 'member_added' && f.user_id === bob.id)
})

t.test('MAX_GROUP_MEMBERS sets the group size', async (t) => {
  const app = await buildApp({
    dbFile: join(tempDir(t), 'size.db'),
    env: { MAX_GROUP_MEMBERS: '2' },
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  t.teardown(() => app.close())
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const groupId = await createGroup(app, ava, [mike])
  const res = await addMember(app, ava, groupId, zoe)
  t.equal(res.statusCode, 409)
  t.equal(res.json<ErrorBody>().code, 'GROUP_FULL')
})
