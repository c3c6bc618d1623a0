// examples/embed.ts run for real: the chat server under /chat inside a host app that has its own
// `authenticate`, `request.user`, error handler, @fastify/swagger and @fastify/websocket (with settings
// unlike the chat server's). Each side keeps its own; nothing leaks either way.
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { buildHostApp, hostAuthenticate, type HostErrorBody } from '../../examples/embed.js'
import { tempDir, TEST_SECRET } from '../helpers.js'

const PREFIX = '/chat'
const HOST_KEY = { 'x-api-key': 'host-key-1' }

interface ChatAccount {
  id: number
  token: string
  auth: { authorization: string }
}

interface LogLine {
  msg: string
  reqId?: string
  audit?: { user: unknown; status: number }
}

interface Host {
  host: FastifyInstance
  port: number
  logs: LogLine[]
}

async function startHost(t: Test): Promise<Host> {
  const logs: LogLine[] = []
  const stream = { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) }
  const host = await buildHostApp(
    { dbFile: join(tempDir(t), 'embedded.db'), env: {}, jwtSecret: TEST_SECRET, demoData: false },
    { logger: { level: 'info', stream } },
  )
  t.teardown(() => host.close())
  await host.listen({ port: 0, host: '127.0.0.1' })
  const address = host.server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  return { host, port: address.port, logs }
}

let counter = 0
async function registerChatUser(host: FastifyInstance, name: string): Promise<ChatAccount> {
  counter += 1
  const res = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/users/register`,
    payload: {
      username: `${name}${counter}`,
      email: `${name}${counter}@example.com`,
      password: 'correct horse battery',
    },
  })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  const body = res.json<{ token: string; user: { id: number } }>()
  return { id: body.user.id, token: body.token, auth: { authorization: `Bearer ${body.token}` } }
}

/** Opens a socket and resolves once it is open; it records the messages it gets. */
async function openSocket(t: Test, url: string): Promise<{ socket: WebSocket; received: string[] }> {
  const socket = new WebSocket(url)
  t.teardown(() => socket.terminate())
  const received: string[] = []
  socket.on('message', (data) => received.push(String(data)))
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return { socket, received }
}

async function nextMessage(socket: WebSocket, match: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching message within 5 s')), 5000)
    const onMessage = (data: WebSocket.RawData) => {
      const text = String(data)
      if (!match(text)) return
      clearTimeout(timer)
      socket.off('message', onMessage)
      resolve(text)
    }
    socket.on('message', onMessage)
  })
}

const closeCode = (socket: WebSocket) =>
  new Promise<number>((resolve) => {
    if (socket.readyState === socket.CLOSED) resolve(-1)
    socket.once('close', (code) => resolve(code))
  })

t.test("both WebSockets work side by side, each with its own settings, neither seeing the other's", async (t) => {
  const { host, port } = await startHost(t)
  const ava = await registerChatUser(host, 'ava')
  const mike = await registerChatUser(host, 'mike')
  const group = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/groups`,
    headers: ava.auth,
    payload: { name: 'g' },
  })
  const groupId = group.json<{ id: number }>().id
  await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/groups/${groupId}/members`,
    headers: ava.auth,
    payload: { user_id: mike.id },
  })

  const hostSocket = await openSocket(t, `ws://127.0.0.1:${port}/live`)
  t.equal(hostSocket.socket.extensions, 'permessage-deflate', "the host's socket has the host's compression")
  hostSocket.socket.send('x'.repeat(100 * 1024))
  t.equal(
    await nextMessage(hostSocket.socket, () => true),
    'host got 102400 characters',
    "the host's route answers, and takes a 100 KiB frame under the host's 1 MiB limit",
  )

  const chat = await openSocket(t, `ws://127.0.0.1:${port}${PREFIX}/ws?token=${encodeURIComponent(mike.token)}`)
  t.equal(chat.socket.extensions, '', 'the chat socket is not compressed, whatever the host chose')
  chat.socket.send(JSON.stringify({ type: 'ping', ref: 'p1' }))
  t.match(JSON.parse(await nextMessage(chat.socket, (text) => text.includes('"pong"'))), { type: 'pong', ref: 'p1' })

  const frame = nextMessage(chat.socket, (text) => text.includes('"group_message"'))
  const posted = await host.inject({
    method: 'POST',
    url: `${PREFIX}/v1/messages/group/${groupId}`,
    headers: ava.auth,
    payload: { content: 'inside the host' },
  })
  t.equal(posted.statusCode, 201)
  t.match(JSON.parse(await frame), { type: 'group_message', group_id: groupId, content: 'inside the host' })
  t.equal(host.websocketServer.clients.size, 1, "the host's WebSocket server holds only the host's socket")

  const refused = await new Promise<number>((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${PREFIX}/ws`)
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      socket.terminate()
    })
    socket.once('open', () => resolve(101))
    socket.once('error', () => undefined)
  })
  t.equal(refused, 401, 'the chat socket still refuses a missing token before the upgrade')

  // 64 KiB is the chat server's frame limit, not the host's 1 MiB: one byte over it closes the socket with 1009.
  const closed = closeCode(chat.socket)
  chat.socket.send('x'.repeat(64 * 1024 + 1))
  t.equal(await closed, 1009, 'a frame over 64 KiB closes the chat socket with 1009')
  hostSocket.socket.send('still here?')
  t.equal(await nextMessage(hostSocket.socket, () => true), 'host got 11 characters', "the host's socket is unaffected")

  const chatAgain = await openSocket(t, `ws://127.0.0.1:${port}${PREFIX}/ws?token=${encodeURIComponent(ava.token)}`)
  const shutdown = Promise.all([closeCode(chatAgain.socket), closeCode(hostSocket.socket)])
  const stopped = await Promise.race([
    host.close().then(() => 'closed' as const),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5000)),
  ])
  t.equal(stopped, 'closed', 'the host closes with both kinds of socket open')
  const [chatCode] = await shutdown
  t.equal(chatCode, 1001, 'the chat socket is closed with 1001, so its client resumes')
})

t.test('errors: the host formats its own, the chat server its own', async (t) => {
  const { host } = await startHost(t)

  const hostFailure = await host.inject({ method: 'GET', url: '/api/boom' })
  t.equal(hostFailure.statusCode, 500)
  t.same(hostFailure.json<HostErrorBody>(), { ok: false, problem: 'Something broke.' }, "the host's error body")

  const hostRefusal = await host.inject({ method: 'GET', url: '/api/me' })
  t.equal(hostRefusal.statusCode, 401)
  t.same(hostRefusal.json(), { ok: false, problem: 'An API key is required.' }, "the host's 401 from its auth")

  const chatRefusal = await host.inject({ method: 'GET', url: `${PREFIX}/v1/groups`, headers: HOST_KEY })
  t.equal(chatRefusal.statusCode, 401, "the host's API key does not open chat routes")
  t.same(chatRefusal.json(), {
    error: 'A bearer token is required.',
    code: 'MISSING_TOKEN',
    statusCode: 401,
  })
  const ava = await registerChatUser(host, 'ava')
  const invalid = await host.inject({ method: 'GET', url: `${PREFIX}/v1/groups/abc/members`, headers: ava.auth })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { code: 'VALIDATION_ERROR', statusCode: 400 }, 'a chat validation error has the chat body')
  t.notOk('ok' in invalid.json<Record<string, unknown>>(), "and nothing of the host's")
  const missing = await host.inject({ method: 'GET', url: `${PREFIX}/nope` })
  t.match(missing.json(), { code: 'ROUTE_NOT_FOUND', statusCode: 404 }, 'an unknown chat path gets the chat 404')
})

t.test("the host's authenticate and request.user stay the host's", async (t) => {
  const { host, logs } = await startHost(t)
  t.equal(host.authenticate, hostAuthenticate, "host.authenticate is the host's function")
  t.notOk(host.hasDecorator('chatConfig'), 'no chat server decorator reaches the host')

  const me = await host.inject({ method: 'GET', url: '/api/me', headers: HOST_KEY })
  t.equal(me.statusCode, 200)
  t.same(me.json(), { user: { name: 'host-admin' } }, "the host's auth sets the host's request.user")

  const ava = await registerChatUser(host, 'ava')
  const groups = await host.inject({ method: 'GET', url: `${PREFIX}/v1/groups`, headers: ava.auth })
  t.equal(groups.statusCode, 200, 'chat routes authenticate with chat tokens')
  const requestId = groups.headers['x-request-id']
  t.ok(requestId, 'a chat response carries its request id')
  const both = await host.inject({
    method: 'GET',
    url: `${PREFIX}/v1/users/me`,
    headers: { ...ava.auth, ...HOST_KEY },
  })
  t.equal(both.json<{ id: number }>().id, ava.id, 'the chat server answers for its own user')

  const audits = logs.filter((line) => line.msg === 'audit')
  t.ok(
    audits.some((line) => line.reqId === requestId && line.audit?.status === 200),
    "the host's id for the request: the one its own log lines carry",
  )
  const audited = audits.map((line) => line.audit?.user ?? null)
  t.same(
    audited,
    [{ name: 'host-admin' }, null, null, null],
    "the host's audit hook sees its own user on its route, and request.user untouched on chat routes",
  )
})

t.test("each OpenAPI document lists its own side's routes only", async (t) => {
  const { host } = await startHost(t)
  const chatDoc = await host.inject({ method: 'GET', url: `${PREFIX}/docs/json` })
  t.equal(chatDoc.statusCode, 200, 'the chat document is served under the prefix')
  const chatPaths = Object.keys(chatDoc.json<{ paths: Record<string, unknown> }>().paths)
  t.ok(chatPaths.length >= 25, `${chatPaths.length} chat paths`)
  t.same(
    chatPaths.filter((path) => !path.startsWith(`${PREFIX}/`)),
    [],
    'every path in the chat document is a chat path, with the prefix a client calls',
  )
  const validator = new Validator()
  const result = await validator.validate(chatDoc.json<Record<string, unknown>>())
  t.equal(result.valid, true, 'the chat document under a prefix is valid OpenAPI 3.1')

  const hostDoc = await host.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(hostDoc.statusCode, 200, "the host's own document builds")
  t.same(
    Object.keys(hostDoc.json<{ paths: Record<string, unknown> }>().paths),
    ['/api/me', '/api/boom'],
    "the host's document lists the host's routes and none of the chat server's",
  )
  t.equal(
    (await host.inject({ method: 'GET', url: `${PREFIX}/docs` })).statusCode,
    200,
    'Swagger UI is served under the prefix',
  )
})
