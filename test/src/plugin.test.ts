import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import jwt from '@fastify/jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { chatServer } from '../../src/plugin.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import { listen, tempDir, TEST_SECRET, upgradeStatus } from '../helpers.js'

interface Session {
  token: string
  user: { id: number; username: string }
}

interface Account {
  id: number
  email: string
  token: string
  auth: { authorization: string }
}

const PREFIX = '/chat'
const HOST_GREETING = 'hello from the host'

/**
 * A host Fastify app with its own route, decorator, text body route and 404, embedding the chat
 * server under `/chat` on its own temporary SQLite file. Closed when the test ends.
 */
async function buildHost(t: Test): Promise<FastifyInstance> {
  const host = Fastify()
  host.decorate('hostGreeting', HOST_GREETING)
  host.get('/host', async function () {
    return { from: 'host', greeting: this.getDecorator<string>('hostGreeting') }
  })
  host.post('/host/echo', async (request) => ({ received: request.body }))
  await host.register(chatServer, {
    prefix: PREFIX,
    dbFile: join(tempDir(t), 'embedded.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  t.teardown(() => host.close())
  await host.ready()
  return host
}

let counter = 0
async function registerUnderPrefix(t: Test, host: FastifyInstance, name: string): Promise<Account> {
  counter += 1
  const username = `${name}${counter}`
  const res = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/users/register`,
    payload: { username, email: `${username}@example.com`, password: 'correct horse battery' },
  })
  t.equal(res.statusCode, 201, `${username} registers under the prefix`)
  const body = res.json<Session>()
  return {
    id: body.user.id,
    email: `${username}@example.com`,
    token: body.token,
    auth: { authorization: `Bearer ${body.token}` },
  }
}

async function groupUnderPrefix(t: Test, host: FastifyInstance, owner: Account, members: Account[]): Promise<number> {
  const res = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/groups`,
    headers: owner.auth,
    payload: { name: 'crew' },
  })
  t.equal(res.statusCode, 201, 'group created under the prefix')
  const groupId = res.json<{ id: number }>().id
  for (const member of members) {
    const added = await host.inject({
      method: 'POST',
      url: `${PREFIX}/v1/groups/${groupId}/members`,
      headers: owner.auth,
      payload: { user_id: member.id },
    })
    t.equal(added.statusCode, 200, 'member added under the prefix')
  }
  return groupId
}

t.test('register, log in and post work under the prefix', async (t) => {
  const host = await buildHost(t)
  const ava = await registerUnderPrefix(t, host, 'ava')
  const mike = await registerUnderPrefix(t, host, 'mike')

  const login = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/users/login`,
    payload: { email: ava.email, password: 'correct horse battery' },
  })
  t.equal(login.statusCode, 200, 'login works under the prefix')
  t.equal(login.json<Session>().user.id, ava.id)
  t.notOk(login.body.includes('$argon2'), 'no password hash in the login answer')

  const groupId = await groupUnderPrefix(t, host, ava, [mike])
  const posted = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/messages/group/${groupId}`,
    headers: { authorization: `Bearer ${login.json<Session>().token}` },
    payload: { content: 'embedded hello' },
  })
  t.equal(posted.statusCode, 201, 'posting works under the prefix')
  const stored = posted.json<{ id: number; sender_id: number; content: string }>()
  t.match(stored, { sender_id: ava.id, content: 'embedded hello' })

  const history = await host.inject({
    method: 'GET',
    url: `${PREFIX}/v1/groups/${groupId}/messages`,
    headers: mike.auth,
  })
  t.equal(history.statusCode, 200)
  t.same(
    history.json<{ messages: Array<{ id: number }> }>().messages.map((m) => m.id),
    [stored.id],
    'the message reads back under the prefix',
  )

  const unprefixed = await host.inject({
    method: 'POST',
    url: '/v1/users/login',
    payload: { email: ava.email, password: 'correct horse battery' },
  })
  t.equal(unprefixed.statusCode, 404, 'the chat routes are not at the host root')
})

t.test('the ping and the OpenAPI document answer under the prefix', async (t) => {
  const host = await buildHost(t)

  const ping = await host.inject({ method: 'GET', url: `${PREFIX}/ping` })
  t.equal(ping.statusCode, 200)
  t.equal(ping.json<{ message: string }>().message, 'pong')

  const docs = await host.inject({ method: 'GET', url: `${PREFIX}/docs/json` })
  t.equal(docs.statusCode, 200, 'the OpenAPI JSON is served under the prefix')
  const paths = Object.keys(docs.json<{ paths: Record<string, unknown> }>().paths)
  for (const path of ['/v1/users/register', '/v1/users/login', '/v1/groups', '/v1/messages/group/{groupID}', '/ping']) {
    t.ok(paths.includes(`${PREFIX}${path}`), `${PREFIX}${path} is listed, with the prefix a client must call`)
  }
  t.notOk(paths.includes('/host'), "the host's own route is not in the chat server's document")
})

t.test('the host keeps its own route, body parsing and 404; the chat server keeps its own 404', async (t) => {
  const host = await buildHost(t)

  const own = await host.inject({ method: 'GET', url: '/host' })
  t.equal(own.statusCode, 200)
  t.same(own.json(), { from: 'host', greeting: HOST_GREETING }, "the host's route answers with the host's decorator")

  const text = await host.inject({
    method: 'POST',
    url: '/host/echo',
    headers: { 'content-type': 'text/plain' },
    payload: 'plain words',
  })
  t.equal(text.statusCode, 200, 'the chat server removing text/plain does not leak into the host')
  t.same(text.json(), { received: 'plain words' })

  const big = { blob: 'x'.repeat(100 * 1024) }
  const hostBig = await host.inject({ method: 'POST', url: '/host/echo', payload: big })
  t.equal(hostBig.statusCode, 200, "the chat server's 64 KiB body limit does not apply to host routes")
  const chatBig = await host.inject({ method: 'POST', url: `${PREFIX}/v1/users/login`, payload: big })
  t.equal(chatBig.statusCode, 413, 'but it applies to chat routes')
  t.equal(chatBig.json<ErrorBody>().code, 'PAYLOAD_TOO_LARGE')

  const hostMissing = await host.inject({ method: 'GET', url: '/nope' })
  t.equal(hostMissing.statusCode, 404)
  const hostBody = hostMissing.json<Record<string, unknown>>()
  t.not(hostBody.code, 'ROUTE_NOT_FOUND', "an unknown host path gets the host's 404, not the chat server's")
  t.match(
    hostBody,
    { message: 'Route GET:/nope not found', error: 'Not Found', statusCode: 404 },
    "Fastify's default 404",
  )

  const chatMissing = await host.inject({ method: 'GET', url: `${PREFIX}/nope` })
  t.equal(chatMissing.statusCode, 404)
  const chatBody = chatMissing.json<ErrorBody>()
  t.equal(chatBody.code, 'ROUTE_NOT_FOUND', 'an unknown /chat path gets the chat server 404')
  t.equal(chatBody.statusCode, 404)
  t.type(chatBody.error, 'string')
})

t.test("the chat server's decorators stay inside it and the host's decorator does not break it", async (t) => {
  const host = await buildHost(t)
  for (const name of ['hub', 'store', 'chatConfig', 'db', 'authenticate', 'verifyToken']) {
    t.notOk(host.hasDecorator(name), `host has no ${name} decorator`)
    t.notOk(name in host, `host.${name} is not reachable`)
  }
  t.equal(host.getDecorator<string>('hostGreeting'), HOST_GREETING, "the host's decorator is intact")

  // The chat server still works end to end with the host's decorator around it.
  const ava = await registerUnderPrefix(t, host, 'ava')
  const me = await host.inject({ method: 'GET', url: `${PREFIX}/v1/users/${ava.id}`, headers: ava.auth })
  t.equal(me.statusCode, 200)
  t.equal(me.json<{ id: number }>().id, ava.id)
})

t.test('a host decorator with a name the chat server also uses does not break it', async (t) => {
  const host = Fastify()
  const hostDb = { owner: 'host' }
  // Names the chat server decorates its own instance with; typed loosely since the host's values differ.
  host.decorate('db' as string, hostDb)
  host.decorate('hub' as string, { owner: 'host' })
  await host.register(chatServer, {
    prefix: PREFIX,
    dbFile: join(tempDir(t), 'collide.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  t.teardown(() => host.close())
  await host.ready()

  t.equal(host.getDecorator<unknown>('db'), hostDb, "the host's db is still the host's")
  const ava = await registerUnderPrefix(t, host, 'ava')
  const groups = await host.inject({ method: 'GET', url: `${PREFIX}/v1/groups`, headers: ava.auth })
  t.equal(groups.statusCode, 200, 'authenticated chat routes work')
  t.equal(groups.json<{ count: number }>().count, 0)
})

t.test('the chat server starts inside a host that uses @fastify/jwt for its own routes', async (t) => {
  // A short plugin timeout so a start-up failure is reported here, not seconds later in another test.
  const host = Fastify({ pluginTimeout: 2000 })
  await host.register(jwt, { secret: 'the-host-has-its-own-secret-0123456789' })
  host.get('/host/me', { onRequest: (request) => request.jwtVerify() }, async (request) => ({ user: request.user }))
  // Not awaited: a start-up failure surfaces through ready() below.
  void host.register(chatServer, {
    prefix: PREFIX,
    dbFile: join(tempDir(t), 'host-auth.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  // When start-up fails, close() rejects with the same error; the assertion below reports it.
  t.teardown(() => host.close().then(undefined, () => undefined))
  const booted = await host.ready().then(
    () => true,
    (error: unknown) => String(error instanceof Error ? error.message : error),
  )
  t.equal(booted, true, 'the host with the chat server starts')
  if (booted !== true) return

  const ava = await registerUnderPrefix(t, host, 'ava')
  const groups = await host.inject({ method: 'GET', url: `${PREFIX}/v1/groups`, headers: ava.auth })
  t.equal(groups.statusCode, 200, 'authenticated chat routes work with the chat server secret')
  const hostToken = host.jwt.sign({ sub: 'host-user', username: 'h', jti: 'h' })
  const me = await host.inject({ method: 'GET', url: '/host/me', headers: { authorization: `Bearer ${hostToken}` } })
  t.equal(me.statusCode, 200, "the host's own JWT auth still works")
  const crossed = await host.inject({
    method: 'GET',
    url: `${PREFIX}/v1/groups`,
    headers: { authorization: `Bearer ${hostToken}` },
  })
  t.equal(crossed.statusCode, 401, 'a host token is not accepted by the chat server')
  t.equal(crossed.json<ErrorBody>().code, 'INVALID_TOKEN')
})

t.test('after upgrade requests to host paths the host still shuts down', async (t) => {
  const host = Fastify()
  host.get('/host', async () => ({ from: 'host' }))
  await host.register(chatServer, {
    prefix: PREFIX,
    dbFile: join(tempDir(t), 'upgrade.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  // Record the server side of every connection so that, if the server leaks one, the test can
  // still destroy it and end instead of hanging.
  const serverSockets: Socket[] = []
  host.server.on('connection', (socket: Socket) => serverSockets.push(socket))
  let closed = false
  t.teardown(async () => {
    if (closed) return
    for (const socket of serverSockets) socket.destroy()
    await host.close()
  })
  const port = await listen(host)

  for (const path of ['/nope', '/host']) {
    const client = connect(port, '127.0.0.1')
    t.teardown(() => client.destroy())
    const statusLine = new Promise<string>((resolve) => {
      let received = ''
      const timer = setTimeout(() => resolve(`no answer; got ${JSON.stringify(received)}`), 2000)
      client.on('data', (chunk) => {
        received += chunk.toString('latin1')
        if (received.includes('\r\n\r\n')) {
          clearTimeout(timer)
          resolve(received.split('\r\n')[0] ?? '')
        }
      })
    })
    client.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    )
    t.match(await statusLine, /^HTTP\/1\.1 (200|404|426) /, `an upgrade request to ${path} gets an HTTP answer`)
    client.destroy()
  }

  const shutdown = await Promise.race([
    Promise.resolve(host.close()).then(() => 'closed' as const),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2000)),
  ])
  t.equal(shutdown, 'closed', 'host.close() resolves after upgrade requests to host paths')
  closed = shutdown === 'closed'
})

t.test('the WebSocket under the prefix receives a group message posted over REST', async (t) => {
  const host = await buildHost(t)
  const port = await listen(host)
  const ava = await registerUnderPrefix(t, host, 'ava')
  const mike = await registerUnderPrefix(t, host, 'mike')
  const groupId = await groupUnderPrefix(t, host, ava, [mike])

  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}${PREFIX}/ws`), 401, 'no token: refused before the upgrade')

  const socket = new WebSocket(`ws://127.0.0.1:${port}${PREFIX}/ws?token=${encodeURIComponent(mike.token)}`)
  t.teardown(() => socket.terminate())
  const frames: Array<Record<string, unknown>> = []
  const arrived = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no group_message within 5 s; got ${JSON.stringify(frames)}`)),
      5000,
    )
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>
      frames.push(frame)
      if (frame.type === 'group_message') {
        clearTimeout(timer)
        resolve(frame)
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })

  const posted = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/messages/group/${groupId}`,
    headers: ava.auth,
    payload: { content: 'over the embedded socket' },
  })
  t.equal(posted.statusCode, 201)
  const stored = posted.json<{ id: number }>()

  const frame = await arrived
  t.match(frame, {
    type: 'group_message',
    id: stored.id,
    group_id: groupId,
    sender_id: ava.id,
    content: 'over the embedded socket',
  })
})
