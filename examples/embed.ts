// A host Fastify app with the chat server inside it, under /chat. The host has what a real app has of its
// own: an `authenticate` decorator and `request.user`, an error handler, an OpenAPI document, a WebSocket
// route and an audit log; none of it changes the chat server, and the chat server changes none of it.
// `npm test` type-checks this file and test/examples/embed.test.ts runs it.
import swagger from '@fastify/swagger'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
// In your app: import { chatServer, type ChatServerOptions } from 'chatserver'
import { chatServer, type ChatServerOptions } from '../src/index.js'

/** Who the host's own auth says the caller is. */
export interface HostUser {
  name: string
}

/** The host's own error body, unlike the chat server's. */
export interface HostErrorBody {
  ok: false
  problem: string
}

/** The host's API keys (a real app keeps them elsewhere). */
const API_KEYS = new Map([['host-key-1', { name: 'host-admin' }]])

/** The host's own `authenticate`: an `x-api-key` header, or 401. */
export async function hostAuthenticate(request: FastifyRequest): Promise<void> {
  const key = request.headers['x-api-key']
  const user = typeof key === 'string' ? API_KEYS.get(key) : undefined
  if (!user) throw Object.assign(new Error('An API key is required.'), { statusCode: 401 })
  request.user = user
}

/** Builds the host app with the chat server registered under `/chat`; call `listen` on it. */
export async function buildHostApp(
  chatOptions: ChatServerOptions,
  serverOptions: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify(serverOptions)

  // Your app declares `request.user` with `declare module 'fastify'`. Here the chat server's sources are
  // compiled with this file, and @fastify/jwt (which it uses internally) has typed `request.user` already.
  app.decorateRequest('user', null as unknown as HostUser)
  app.decorate('authenticate', hostAuthenticate)
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode ?? 500
    const body: HostErrorBody = { ok: false, problem: status < 500 ? error.message : 'Something broke.' }
    return reply.code(status).send(body)
  })
  // Every response is audited with the caller the host's auth knows of.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ audit: { user: request.user, status: reply.statusCode } }, 'audit')
  })

  // The host's own OpenAPI document and WebSocket, registered at the root before the chat server.
  await app.register(swagger, { openapi: { info: { title: 'host app', version: '1.0.0' } } })
  await app.register(websocket, { options: { maxPayload: 1024 * 1024, perMessageDeflate: true } })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get(
    '/api/me',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['host'],
        summary: 'The caller, as the host knows them',
        response: { 200: { type: 'object', properties: { user: { type: 'object', additionalProperties: true } } } },
      },
    },
    async (request) => ({ user: request.user }),
  )
  app.get('/api/boom', async () => {
    throw new Error('the host failed')
  })
  app.get('/live', { websocket: true }, (socket) => {
    socket.on('message', (data) => socket.send(`host got ${String(data).length} characters`))
  })

  // The chat server: REST at /chat/v1/…, its socket at /chat/ws, its docs at /chat/docs.
  await app.register(chatServer, { prefix: '/chat', ...chatOptions })
  return app
}
