import type { TSchema } from '@sinclair/typebox'
import type { Realtime } from '../../plugins/realtime/registry.js'
import { SocketQuery } from '../ws/schemas.js'

/** The AsyncAPI version the document follows. */
export const ASYNCAPI_VERSION = '3.0.0' as const

const CHANNEL = 'ws'
const SECURITY = { $ref: '#/components/securitySchemes/token' }

/** The frames each client frame is answered with; `ack` or `error` unless listed here. */
const REPLIES: Record<string, string[]> = { ping: ['pong', 'error'] }
const DEFAULT_REPLIES = ['ack', 'error']

const DESCRIPTION = `The chat server's WebSocket protocol. This document describes the server: it **receives** the
client frames and **sends** the server frames. Open the socket with \`GET <prefix>/ws?token=<JWT>\` (add
\`&since=<last message id seen>\` to resume); every frame either way is one JSON text object whose \`type\` names it.
Each frame a client sends may carry a \`ref\` (a string or an integer) that the \`ack\`, \`error\` or \`pong\`
answering it echoes. Frames from one socket are handled in the order they arrive.

| close code | meaning | what a client does |
|---|---|---|
| 1001 | the server is shutting down or restarting | reconnect with \`since=\` |
| 1006 | (seen by the client) the server dropped a socket that missed a heartbeat | reconnect with \`since=\` |
| 1008 | too many frames, or too many sockets for this user | slow down; reconnect later |
| 1009 | a frame over 64 KiB | send smaller frames |
| 1011 | the server could not replay the backlog | reconnect with \`since=\` |
| 1012 | the instance lost and regained its Redis link and may have missed frames | reconnect with \`since=\` |
| 4001 | the token expired while the socket was open | log in again, reconnect with \`since=\` |
| 4003 | the token was revoked (logout, password change) | log in again |
| 4008 | slow consumer: too much unsent data waiting | read faster; reconnect with \`since=\` |`

/** Where the socket is reached, taken from the request for the document. */
export interface SocketServer {
  /** `host[:port]` as the client asked for it; no `servers` entry without one. */
  host: string
  protocol: 'ws' | 'wss'
}

/** A JSON copy of a TypeBox schema (TypeBox's own symbol keys left out). */
const json = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema))

const messageRef = (id: string) => ({ $ref: `#/channels/${CHANNEL}/messages/${id}` })
const clientMessageId = (type: string) => `client_${type}`
const serverMessageId = (type: string) => `server_${type}`

/**
 * The AsyncAPI 3 document of the socket, generated from the frame schemas in the registry: the client
 * frames the route plugins registered (the schemas that validate them) and the server frames they send.
 * `prefix` is where the chat server is mounted ('' at the root). Everything but `servers` is fixed once
 * every route plugin has registered its frames.
 */
export function asyncApiDocument(realtime: Realtime, prefix: string) {
  const messages: Record<string, unknown> = {}
  const operations: Record<string, unknown> = {}

  for (const [type, registered] of realtime.frames) {
    const id = clientMessageId(type)
    messages[id] = {
      name: type,
      title: `${type} (client → server)`,
      description: registered.schema.description,
      payload: json(registered.schema),
    }
    const replies = (REPLIES[type] ?? DEFAULT_REPLIES).filter((reply) => realtime.serverFrames.has(reply))
    operations[`receive_${type}`] = {
      action: 'receive',
      title: `Receive ${type}`,
      channel: { $ref: `#/channels/${CHANNEL}` },
      messages: [messageRef(id)],
      reply: {
        channel: { $ref: `#/channels/${CHANNEL}` },
        messages: replies.map((r) => messageRef(serverMessageId(r))),
      },
    }
  }
  for (const [type, schema] of realtime.serverFrames) {
    const id = serverMessageId(type)
    messages[id] = {
      name: type,
      title: `${type} (server → client)`,
      description: schema.description,
      payload: json(schema),
    }
    operations[`send_${type}`] = {
      action: 'send',
      title: `Send ${type}`,
      channel: { $ref: `#/channels/${CHANNEL}` },
      messages: [messageRef(id)],
    }
  }

  return {
    asyncapi: ASYNCAPI_VERSION,
    info: { title: 'chatserver realtime socket', version: '0.1.0', description: DESCRIPTION },
    defaultContentType: 'application/json',
    channels: {
      [CHANNEL]: {
        address: `${prefix}/ws`,
        title: 'The realtime socket',
        description:
          'One socket per client. Every message stored in one of your conversations arrives here, also those sent ' +
          'over REST; ephemeral events (typing, presence) are never stored.',
        messages: Object.fromEntries(Object.keys(messages).map((id) => [id, { $ref: `#/components/messages/${id}` }])),
        bindings: { ws: { method: 'GET', query: json(SocketQuery), bindingVersion: '0.1.0' } },
      },
    },
    operations,
    components: {
      messages,
      securitySchemes: {
        token: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'The JWT from `POST /v1/users/register` or `/v1/users/login`, as `?token=`.',
        },
      },
    },
  }
}

/** The `servers` entry for the socket as this request reached it (none without a Host). */
export function socketServers(server: SocketServer) {
  if (server.host === '') return {}
  return { servers: { chatserver: { host: server.host, protocol: server.protocol, security: [SECURITY] } } }
}
