import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { CLOSE_TOKEN_EXPIRED, CLOSE_TOKEN_REVOKED } from '../../plugins/revocation.js'
import { buildApp, type BuildAppOptions } from '../../src/app.js'
import type { ChatServerOptions } from '../../src/options.js'
import { chatServer } from '../../src/plugin.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import {
  build,
  Client,
  createGroup,
  listen,
  register,
  freshSchema,
  settle,
  tempDir,
  TEST_DATABASE_URL,
  TEST_ON_POSTGRES,
  TEST_SECRET,
  upgradeStatus,
  type Account,
} from '../helpers.js'

// Token expiry and revocation: at the upgrade, on open sockets, on every route, across a restart
// and across two server processes (two apps) sharing one database file.

const PASSWORD = 'correct horse battery'
const NEW_PASSWORD = 'a brand new passphrase'

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** Signs a token with the test secret, as the server would, with exactly the given claims. */
function forge(payload: Record<string, unknown>): string {
  const unsigned = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}`
  return `${unsigned}.${createHmac('sha256', TEST_SECRET).update(unsigned).digest('base64url')}`
}
const nowSeconds = () => Math.floor(Date.now() / 1000)

/** The account with another token of the same user, as a second device logging in would have. */
function withToken(account: Account, token: string): Account {
  return { ...account, token, auth: { authorization: `Bearer ${token}` } }
}

async function login(app: FastifyInstance, account: Account, password = PASSWORD): Promise<Account> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/users/login',
    payload: { email: `${account.username}@example.com`, password },
  })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return withToken(account, res.json<{ token: string }>().token)
}

function logout(app: FastifyInstance, who: Account) {
  return app.inject({ method: 'POST', url: '/v1/users/logout', headers: who.auth })
}

function changePassword(app: FastifyInstance, who: Account, from = PASSWORD, to = NEW_PASSWORD) {
  return app.inject({
    method: 'PATCH',
    url: '/v1/users/me',
    headers: who.auth,
    payload: { password: to, current_password: from },
  })
}

/** `GET /v1/users/me` with the account's token: its status and error code. */
async function meStatus(app: FastifyInstance, who: Account): Promise<[number, string | undefined]> {
  const res = await app.inject({ method: 'GET', url: '/v1/users/me', headers: who.auth })
  return [res.statusCode, res.statusCode === 200 ? undefined : res.json<ErrorBody>().code]
}

/** What the server answers an upgrade with this token: its status, and the error code when refused. */
async function upgradeRefusal(app: FastifyInstance, token: string): Promise<[number, string]> {
  const res = await app.inject({ method: 'GET', url: `/ws?token=${encodeURIComponent(token)}` })
  return [res.statusCode, res.json<ErrorBody>().code]
}

interface Closed {
  code: number
  reason: string
}

/** Resolves when the socket closes, with the close code and reason; rejects after `timeoutMs`. */
function closed(client: Client, timeoutMs = 10_000): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket was not closed within ${timeoutMs} ms`)), timeoutMs)
    client.socket.once('close', (code, reason) => {
      clearTimeout(timer)
      resolve({ code, reason: reason.toString() })
    })
  })
}

/** Resolves once `check` holds, polling briefly; fails after a few seconds. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`never happened: ${what}`)
}

/**
 * A database that several apps can open one after another or side by side, as server processes
 * would: a SQLite file, or a PostgreSQL schema under TEST_DATABASE=postgres.
 */
function sharedDatabase(t: Test): ChatServerOptions {
  return TEST_ON_POSTGRES
    ? { databaseUrl: TEST_DATABASE_URL, databaseSchema: freshSchema(t) }
    : { dbFile: join(tempDir(t), 'shared.db') }
}

/**
 * A chat server inside a host app, with the chat server's own instance, whose decorators
 * (`revocation`, `db`) are encapsulated away from the host.
 */
async function buildInside(t: Test, options: ChatServerOptions = {}): Promise<[FastifyInstance, FastifyInstance]> {
  let chat: FastifyInstance | undefined
  const host = Fastify()
  await host.register(async (instance) => {
    await chatServer(instance, {
      ...sharedDatabase(t),
      env: {},
      jwtSecret: TEST_SECRET,
      demoData: false,
      ...options,
    })
    chat = instance
  })
  t.teardown(() => host.close())
  await host.ready()
  if (!chat) throw new Error('the chat server did not load')
  return [host, chat]
}

/** Builds an app on the given database file; the caller closes it (or the test does). */
async function buildOn(t: Test, database: ChatServerOptions, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp({ ...database, env: {}, jwtSecret: TEST_SECRET, demoData: false, ...options })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

t.test('an expired token is refused at the upgrade with 401 TOKEN_EXPIRED', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const expired = forge({
    sub: String(ava.id),
    username: ava.username,
    jti: randomUUID(),
    iat: nowSeconds() - 120,
    exp: nowSeconds() - 60,
  })
  t.same(await upgradeRefusal(app, expired), [401, 'TOKEN_EXPIRED'])
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${expired}`), 401, 'a real upgrade is refused')
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${ava.token}`), 101, 'a live token upgrades')
})

t.test('an open socket is closed with 4001 TOKEN_EXPIRED when its token expires, not before', async (t) => {
  const [app, chat] = await buildInside(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const exp = nowSeconds() + 2
  const shortLived = forge({ sub: String(ava.id), username: ava.username, jti: randomUUID(), iat: nowSeconds(), exp })

  const expiring = await Client.connect(t, port, shortLived)
  const longLived = await Client.connect(t, port, ava.token)
  t.equal(chat.revocation.watchedSockets(), 2)
  const expiringClosed = closed(expiring)
  t.match(await expiring.request({ type: 'ping' }), { type: 'pong' }, 'the socket works while the token is valid')
  t.match(
    await expiring.request({ type: 'group_message', group_id: groupId, content: 'before expiry' }),
    { type: 'ack' },
    'and can send',
  )

  const { code, reason } = await expiringClosed
  const closedAt = Date.now()
  t.equal(code, CLOSE_TOKEN_EXPIRED)
  t.equal(code, 4001)
  t.equal(reason, 'TOKEN_EXPIRED')
  t.ok(closedAt >= exp * 1000, 'closed once the expiry passed, not before')
  t.match(expiring.frames.at(-1), { type: 'error', code: 'TOKEN_EXPIRED' }, 'an error frame says why first')

  t.match(await longLived.request({ type: 'ping' }), { type: 'pong' }, 'a socket of another token stays open')
  await eventually(() => chat.revocation.watchedSockets() === 1, 'the closed socket is forgotten with its timer')
  const rest = await app.inject({
    method: 'GET',
    url: '/v1/users/me',
    headers: { authorization: `Bearer ${shortLived}` },
  })
  t.equal(rest.statusCode, 401)
  t.equal(rest.json<ErrorBody>().code, 'TOKEN_EXPIRED')
})

t.test('a socket the client closes stops being watched', async (t) => {
  const [app, chat] = await buildInside(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const socket = await Client.connect(t, port, ava.token)
  t.equal(chat.revocation.watchedSockets(), 1)
  socket.socket.close()
  await eventually(() => chat.revocation.watchedSockets() === 0, 'the socket is forgotten')
  t.pass('its expiry timer is cleared with it')
})

t.test('logout revokes exactly the token it carries and closes every socket opened with it', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const avaLaptop = await login(app, ava)

  const phoneSockets = [await Client.connect(t, port, ava.token), await Client.connect(t, port, ava.token)]
  const laptopSocket = await Client.connect(t, port, avaLaptop.token)
  const mikeSocket = await Client.connect(t, port, mike.token)
  const phoneClosed = phoneSockets.map((socket) => closed(socket))

  const res = await logout(app, ava)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'Logged out.' })

  for (const [i, close] of phoneClosed.entries()) {
    t.same(
      await close,
      { code: CLOSE_TOKEN_REVOKED, reason: 'TOKEN_REVOKED' },
      `socket ${i} of the token closed with 4003`,
    )
    t.match(phoneSockets[i]!.frames.at(-1), { type: 'error', code: 'TOKEN_REVOKED' })
  }
  t.match(
    await laptopSocket.request({ type: 'ping' }),
    { type: 'pong' },
    'the same user’s other token keeps its socket',
  )
  t.match(await mikeSocket.request({ type: 'ping' }), { type: 'pong' }, 'another user’s socket is untouched')

  t.same(await meStatus(app, ava), [401, 'TOKEN_REVOKED'], 'the logged-out token is refused')
  t.same(await meStatus(app, avaLaptop), [200, undefined], 'the other token works')
  t.same(await upgradeRefusal(app, ava.token), [401, 'TOKEN_REVOKED'], 'and cannot open a socket')
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${ava.token}`), 401, 'a real upgrade is refused')
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${avaLaptop.token}`), 101)

  // Every route that needs a token refuses it: take them from the OpenAPI document.
  const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
    paths: Record<string, Record<string, { security?: unknown[] }>>
  }>()
  let checked = 0
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!operation.security?.length || path.endsWith('/ws')) continue
      const url = path.replace(/\{[^}]+\}/g, '1')
      const refused = await app.inject({
        method: method.toUpperCase() as 'GET',
        url,
        headers: ava.auth,
        ...(['post', 'put', 'patch'].includes(method) ? { payload: {} } : {}),
      })
      t.equal(refused.statusCode, 401, `${method.toUpperCase()} ${path} → 401`)
      t.equal(refused.json<ErrorBody>().code, 'TOKEN_REVOKED', `${method.toUpperCase()} ${path} → TOKEN_REVOKED`)
      checked += 1
    }
  }
  t.ok(checked >= 20, `every authenticated route refuses the token (${checked} checked)`)

  const sent = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: avaLaptop.auth,
    payload: { content: 'still here' },
  })
  t.equal(sent.statusCode, 201, 'the other token still sends')
  t.same(await logout(app, ava).then((r) => r.json<ErrorBody>().code), 'TOKEN_REVOKED', 'a second logout is 401')
})

t.test(
  'a password change revokes the user’s other tokens and closes their sockets; the one used keeps working',
  async (t) => {
    const app = await build(t)
    const port = await listen(app)
    const ava = await register(app, 'ava')
    const mike = await register(app, 'mike')
    const avaTablet = await login(app, ava)
    const avaLaptop = await login(app, ava)

    const keptSocket = await Client.connect(t, port, ava.token)
    const others = [await Client.connect(t, port, avaTablet.token), await Client.connect(t, port, avaLaptop.token)]
    const mikeSocket = await Client.connect(t, port, mike.token)
    const othersClosed = others.map((socket) => closed(socket))

    t.same(await meStatus(app, avaTablet), [200, undefined])
    t.equal(
      (
        await app.inject({
          method: 'PATCH',
          url: '/v1/users/me',
          headers: avaTablet.auth,
          payload: { username: 'ava_renamed' },
        })
      ).statusCode,
      200,
    )
    t.same(await meStatus(app, avaLaptop), [200, undefined], 'a rename revokes nothing')
    const wrong = await changePassword(app, avaTablet, 'not the password')
    t.equal(wrong.statusCode, 403, 'a wrong current password changes nothing')
    t.same(await meStatus(app, avaLaptop), [200, undefined], 'and revokes nothing')

    const changeStarted = Date.now()
    const res = await changePassword(app, ava)
    const changeEnded = Date.now()
    t.equal(res.statusCode, 200)
    // Logged in again in the same second as the change: still a valid token (issue times are in ms).
    const fresh = await login(app, ava, NEW_PASSWORD)

    for (const [i, close] of othersClosed.entries()) {
      t.same(await close, { code: CLOSE_TOKEN_REVOKED, reason: 'TOKEN_REVOKED' }, `other socket ${i} closed with 4003`)
    }
    t.match(await keptSocket.request({ type: 'ping' }), { type: 'pong' }, 'the socket of the token used stays open')
    t.match(await mikeSocket.request({ type: 'ping' }), { type: 'pong' }, 'another user is untouched')

    t.same(await meStatus(app, avaTablet), [401, 'TOKEN_REVOKED'])
    t.same(await meStatus(app, avaLaptop), [401, 'TOKEN_REVOKED'])
    t.same(await upgradeRefusal(app, avaLaptop.token), [401, 'TOKEN_REVOKED'])
    t.same(await meStatus(app, ava), [200, undefined], 'the token used for the change keeps working')
    t.same(await meStatus(app, fresh), [200, undefined], 'a token issued after the change works')
    // Issue times count in milliseconds: the second of the change does not decide.
    const claims = { sub: String(ava.id), username: ava.username, exp: nowSeconds() + 600 }
    const issuedAt = (ms: number) => ({ iat: Math.floor(ms / 1000), iat_ms: ms, jti: randomUUID() })
    const justBefore = withToken(ava, forge({ ...claims, ...issuedAt(changeStarted - 1) }))
    const justAfter = withToken(ava, forge({ ...claims, ...issuedAt(changeEnded + 1) }))
    const secondsOnly = withToken(
      ava,
      forge({ ...claims, iat: Math.floor(changeStarted / 1000) - 1, jti: randomUUID() }),
    )
    t.same(await meStatus(app, justBefore), [401, 'TOKEN_REVOKED'], 'issued a millisecond before the change: revoked')
    t.same(await meStatus(app, justAfter), [200, undefined], 'a millisecond after: valid')
    t.same(await meStatus(app, secondsOnly), [401, 'TOKEN_REVOKED'], 'a token with only `iat`, from before: revoked')
    t.same(await meStatus(app, mike), [200, undefined])
    t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${fresh.token}`), 101)

    // A second change made with the fresh token revokes the one used for the first.
    t.equal((await changePassword(app, fresh, NEW_PASSWORD, PASSWORD)).statusCode, 200)
    t.same(await keptSocket.waitFor((f) => f.code === 'TOKEN_REVOKED'), {
      type: 'error',
      code: 'TOKEN_REVOKED',
      error: 'The token has been revoked; log in again.',
    })
    t.same(await meStatus(app, ava), [401, 'TOKEN_REVOKED'], 'the first change’s token is now an other token')
    t.same(await meStatus(app, fresh), [200, undefined])
  },
)

/** A bare WebSocket client on TCP that never answers the server's close frame, as a hostile client would. */
async function rawSocket(t: Test, port: number, token: string) {
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let received = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk])
  })
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  socket.write(
    `GET /ws?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  await eventually(() => received.includes('\r\n\r\n'), 'the upgrade answer')
  if (!received.toString('latin1').startsWith('HTTP/1.1 101')) throw new Error('the upgrade was refused')
  return {
    /** Everything the server sent, as latin1 text. */
    text: () => received.toString('latin1'),
    /** Sends one masked text frame (under 64 KiB). */
    send(frame: unknown) {
      const payload = Buffer.from(JSON.stringify(frame))
      const mask = randomBytes(4)
      const length =
        payload.length < 126
          ? Buffer.from([0x80 | payload.length])
          : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff])
      const masked = payload.map((byte, i) => byte ^ mask[i % 4]!)
      socket.write(Buffer.concat([Buffer.from([0x81]), length, mask, masked]))
    },
  }
}

t.test('a client that ignores the close gets no further frame handled after its token is revoked', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const avaLaptop = await login(app, ava)
  const groupId = await createGroup(app, ava)
  const raw = await rawSocket(t, port, ava.token)
  raw.send({ type: 'ping', ref: 'before' })
  await eventually(() => raw.text().includes('"ref":"before"'), 'the pong before the logout')

  t.equal((await logout(app, ava)).statusCode, 200)
  // The close frame: code 4003 (0x0FA3), reason TOKEN_REVOKED.
  await eventually(() => raw.text().includes('\x0f\xa3TOKEN_REVOKED'), 'the close frame')
  raw.send({ type: 'group_message', group_id: groupId, content: 'sent after the logout', ref: 'after' })
  raw.send({ type: 'ping', ref: 'after-ping' })
  await settle(300)
  t.notOk(raw.text().includes('"ref":"after'), 'no answer to a frame sent after the close')
  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: avaLaptop.auth })
  t.equal(history.json<{ count: number }>().count, 0, 'and nothing stored')
})

t.test('revocations survive a restart on the same database file', async (t) => {
  const database = sharedDatabase(t)
  const first = await buildApp({ ...database, env: {}, jwtSecret: TEST_SECRET, demoData: false })
  await first.ready()
  const ava = await register(first, 'ava')
  const loggedOut = await login(first, ava)
  const other = await login(first, ava)
  const mike = await register(first, 'mike')
  t.equal((await logout(first, loggedOut)).statusCode, 200)
  t.equal((await changePassword(first, ava)).statusCode, 200)
  await first.close()

  const second = await buildOn(t, database)
  const port = await listen(second)
  t.same(await meStatus(second, loggedOut), [401, 'TOKEN_REVOKED'], 'the logged-out token stays revoked')
  t.same(await meStatus(second, other), [401, 'TOKEN_REVOKED'], 'the token revoked by the password change too')
  t.same(await meStatus(second, ava), [200, undefined], 'the token used for the change works')
  t.same(await meStatus(second, mike), [200, undefined])
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${loggedOut.token}`), 401)
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${other.token}`), 401)
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${ava.token}`), 101)
})

t.test('a revocation made through one process reaches the others on the same database', async (t) => {
  const database = sharedDatabase(t)
  const one = await buildOn(t, database, { revocationSyncMs: 20 })
  const two = await buildOn(t, database, { revocationSyncMs: 20 })
  const portOne = await listen(one)
  const portTwo = await listen(two)
  const ava = await register(one, 'ava')
  const avaLaptop = await login(two, ava)
  const avaTablet = await login(one, ava)

  // Logout on one: the socket that token opened on two is closed at two's next sync.
  const onTwo = await Client.connect(t, portTwo, ava.token)
  const laptopOnTwo = await Client.connect(t, portTwo, avaLaptop.token)
  const onTwoClosed = closed(onTwo)
  t.equal((await logout(one, ava)).statusCode, 200)
  t.same(await onTwoClosed, { code: CLOSE_TOKEN_REVOKED, reason: 'TOKEN_REVOKED' }, 'closed on the other process')
  t.same(await meStatus(two, ava), [401, 'TOKEN_REVOKED'], 'and refused there')
  t.same(await meStatus(one, ava), [401, 'TOKEN_REVOKED'])
  t.same(await meStatus(two, avaLaptop), [200, undefined], 'the other token works on both')
  t.same(await meStatus(one, avaLaptop), [200, undefined])

  // A password change on two: the tablet token's socket on one closes, the laptop token (used) stays.
  const tabletOnOne = await Client.connect(t, portOne, avaTablet.token)
  const laptopOnOne = await Client.connect(t, portOne, avaLaptop.token)
  const tabletClosed = closed(tabletOnOne)
  t.equal((await changePassword(two, avaLaptop)).statusCode, 200)
  t.same(await tabletClosed, { code: CLOSE_TOKEN_REVOKED, reason: 'TOKEN_REVOKED' }, 'closed on the other process')
  t.same(await meStatus(one, avaTablet), [401, 'TOKEN_REVOKED'])
  t.match(await laptopOnOne.request({ type: 'ping' }), { type: 'pong' })
  t.match(await laptopOnTwo.request({ type: 'ping' }), { type: 'pong' })
  t.same(await meStatus(one, avaLaptop), [200, undefined])
})

t.test('expired revocations are deleted, live ones kept', async (t) => {
  const [app, chat] = await buildInside(t)
  const ava = await register(app, 'ava')
  const past = new Date(Date.now() - 60_000).toISOString()
  await chat.db
    .insertInto('token_revocations')
    .values([
      { user_id: ava.id, jti: 'long-gone', issued_before: null, except_jti: null, expires_at: past, created_at: past },
      { user_id: ava.id, jti: null, issued_before: past, except_jti: 'x', expires_at: past, created_at: past },
    ])
    .execute()
  t.equal((await logout(app, ava)).statusCode, 200)
  await chat.revocation.reload()
  const left = await chat.db.selectFrom('token_revocations').select(['jti']).execute()
  const jti = (JSON.parse(Buffer.from(ava.token.split('.')[1] ?? '', 'base64url').toString()) as { jti: string }).jti
  t.same(left, [{ jti }], 'only the live revocation (the logout) is left')
  t.equal(chat.revocation.revocationsInMemory(), 1, 'and only it is held in memory')
  t.same(await meStatus(app, ava), [401, 'TOKEN_REVOKED'], 'which still refuses its token')
})

t.test('revocationSyncMs must be a positive whole number', async (t) => {
  await t.rejects(
    buildApp({ dbFile: ':memory:', env: {}, jwtSecret: TEST_SECRET, revocationSyncMs: 0 }),
    /revocationSyncMs/,
  )
  await t.rejects(
    buildApp({ dbFile: ':memory:', env: { REVOCATION_SYNC_MS: 'soon' }, jwtSecret: TEST_SECRET }),
    /REVOCATION_SYNC_MS/,
  )
})
