// `/asyncapi.json`: the AsyncAPI 3 document of the socket, checked with the official parser (@asyncapi/parser,
// which validates against the AsyncAPI specification's JSON schemas and its rules), against the frame registry
// it is generated from, and by using it: a client that reads only the document reaches the socket.
import { join } from 'node:path'
import { Parser } from '@asyncapi/parser'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { chatServer } from '../../src/plugin.js'
import { serverContext } from '../property/support.js'
import { build, listen, register, tempDir, TEST_SECRET } from '../helpers.js'

interface AsyncApiMessage {
  name: string
  title: string
  description?: string
  payload: Record<string, unknown>
}
interface AsyncApiDocument {
  asyncapi: string
  servers?: Record<string, { host: string; protocol: string; security: unknown[] }>
  channels: Record<
    string,
    {
      address: string
      messages: Record<string, unknown>
      bindings: { ws: { method: string; query: { properties: Record<string, unknown> } } }
    }
  >
  operations: Record<string, { action: string; messages: unknown[]; reply?: { messages: Array<{ $ref: string }> } }>
  components: { messages: Record<string, AsyncApiMessage>; securitySchemes: Record<string, Record<string, string>> }
}

const WARNING = 1 // DiagnosticSeverity: 0 error, 1 warning, 2 information, 3 hint
const parser = new Parser()

/** The parser's errors and warnings for a document (information, such as "3.1.0 exists", and hints pass). */
async function parseErrors(document: unknown): Promise<string[]> {
  const { diagnostics } = await parser.parse(JSON.stringify(document))
  return diagnostics
    .filter((diagnostic) => (diagnostic.severity as number) <= WARNING)
    .map((diagnostic) => `${diagnostic.code}: ${diagnostic.message} at ${diagnostic.path.join('.')}`)
}

async function fetchDocument(t: Test, app: FastifyInstance, url = '/asyncapi.json'): Promise<AsyncApiDocument> {
  const res = await app.inject({ method: 'GET', url, headers: { host: 'chat.example.test:8080' } })
  t.equal(res.statusCode, 200, `${url} is served`)
  t.match(res.headers['content-type'], /^application\/json/, 'as JSON')
  return res.json<AsyncApiDocument>()
}

t.test('the document is valid AsyncAPI 3.0.0 and describes every frame with the schema the server uses', async (t) => {
  const app = await build(t)
  const document = await fetchDocument(t, app)
  t.equal(document.asyncapi, '3.0.0')
  t.same(await parseErrors(document), [], 'the official parser finds no error and no warning')
  const parsed = await parser.parse(JSON.stringify(document))
  t.ok(parsed.document, 'the parser builds a document model')
  t.equal(parsed.document?.channels().get('ws')?.address(), '/ws', 'the channel is /ws')

  const { realtime } = serverContext(app)
  const { messages } = document.components
  const channel = document.channels.ws!
  for (const [type, registered] of realtime.frames) {
    const message = messages[`client_${type}`]
    t.ok(message, `client frame ${type} is a message`)
    t.same(message?.payload, JSON.parse(JSON.stringify(registered.schema)), `${type}: the schema that validates it`)
    t.type(message?.description, 'string', `${type}: described`)
    t.equal(document.operations[`receive_${type}`]?.action, 'receive', `${type}: the server receives it`)
    const replies = document.operations[`receive_${type}`]?.reply?.messages.map((m) => m.$ref.split('/').at(-1))
    t.same(
      replies,
      type === 'ping' ? ['server_pong', 'server_error'] : ['server_ack', 'server_error'],
      `${type}: replies`,
    )
  }
  for (const [type, schema] of realtime.serverFrames) {
    const message = messages[`server_${type}`]
    t.same(message?.payload, JSON.parse(JSON.stringify(schema)), `server frame ${type}: its registered schema`)
    t.type(message?.description, 'string', `${type}: described`)
    t.equal(document.operations[`send_${type}`]?.action, 'send', `${type}: the server sends it`)
  }
  t.equal(
    Object.keys(messages).length,
    realtime.frames.size + realtime.serverFrames.size,
    'no message besides the registered frames',
  )
  t.same(Object.keys(channel.messages).sort(), Object.keys(messages).sort(), 'the channel carries every message')
  t.same(Object.keys(channel.bindings.ws.query.properties).sort(), ['since', 'token'], 'the query parameters')
  t.equal(channel.bindings.ws.method, 'GET')
  t.match(document.components.securitySchemes.token, { type: 'httpApiKey', in: 'query', name: 'token' })
  t.match(document.servers, { chatserver: { host: 'chat.example.test:8080', protocol: 'ws' } }, 'the host asked for')
})

t.test('the parser test fails on an invalid document', async (t) => {
  const app = await build(t)
  const document = await fetchDocument(t, app)
  const dangling = structuredClone(document)
  delete dangling.components.messages.server_ack
  t.not((await parseErrors(dangling)).length, 0, 'a reference to a missing message is an error')
  const badAction = structuredClone(document)
  badAction.operations.send_pong!.action = 'publish'
  t.not((await parseErrors(badAction)).length, 0, 'an AsyncAPI 2 action is an error')
  const noVersion = structuredClone(document) as Partial<AsyncApiDocument>
  delete noVersion.asyncapi
  t.not((await parseErrors(noVersion)).length, 0, 'a document without a version is an error')
})

t.test('the OpenAPI document lists the AsyncAPI route', async (t) => {
  const app = await build(t)
  const openapi = await app.inject({ method: 'GET', url: '/docs/json' })
  const paths = openapi.json<{ paths: Record<string, { get?: { summary?: string; tags?: string[] } }> }>().paths
  t.match(paths['/asyncapi.json']?.get, { tags: ['realtime'], summary: /AsyncAPI/ })
})

t.test('embedded under a prefix, the document names the prefixed socket, and a client reaches it', async (t) => {
  const host = Fastify()
  host.get('/asyncapi.json', async () => ({ from: 'host' }))
  await host.register(chatServer, {
    prefix: '/chat',
    dbFile: join(tempDir(t), 'embedded.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  t.teardown(() => host.close())
  const port = await listen(host)
  t.same((await host.inject({ url: '/asyncapi.json' })).json(), { from: 'host' }, 'the host keeps its own route')

  const res = await fetch(`http://127.0.0.1:${port}/chat/asyncapi.json`)
  t.equal(res.status, 200)
  const document = (await res.json()) as AsyncApiDocument
  t.same(await parseErrors(document), [], 'valid')
  t.equal(document.channels.ws?.address, '/chat/ws', 'the socket under the prefix')

  // Only what the document says: the server's host and protocol, the channel's address, the token scheme.
  const server = document.servers!.chatserver!
  t.equal(server.host, `127.0.0.1:${port}`)
  const scheme = document.components.securitySchemes.token!
  const registered = await fetch(`http://127.0.0.1:${port}/chat/v1/users/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'reader', email: 'reader@example.com', password: 'correct horse battery' }),
  })
  const { token } = (await registered.json()) as { token: string }
  const url = `${server.protocol}://${server.host}${document.channels.ws!.address}?${scheme.name}=${token}`
  const socket = new WebSocket(url)
  t.teardown(() => socket.terminate())
  const pong = await new Promise<Record<string, unknown>>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'ping', ref: 1 })))
    socket.once('message', (data) => resolve(JSON.parse(data.toString()) as Record<string, unknown>))
    socket.once('error', reject)
  })
  t.match(pong, { type: 'pong', ref: 1 }, 'the socket answers')
})

t.test('a request without a Host gets the document without servers', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  t.ok(ava.token)
  // HTTP/1.0 needs no Host header.
  const { connect } = await import('node:net')
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end('GET /asyncapi.json HTTP/1.0\r\n\r\n'))
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString()))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
  t.match(raw, /^HTTP\/1\.[01] 200/)
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as AsyncApiDocument
  t.equal(body.servers, undefined, 'no server is guessed')
  t.same(await parseErrors(body), [], 'still valid')
})
