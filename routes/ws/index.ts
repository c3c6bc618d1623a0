import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { RawData } from 'ws'
import { ChatError } from '../../src/domain/errors.js'
import { postGroupMessage } from '../../src/domain/messages.js'
import { errorResponses } from '../../src/schemas/common.js'
import type { GroupMessageIn } from '../../src/schemas/frames.js'
import { SocketConnection } from './connection.js'
import { parseClientFrame } from './frames.js'

const wsSchema = {
  tags: ['realtime'],
  summary: 'Open the realtime socket',
  description:
    'Upgrade to a WebSocket. The token goes in the query string; a missing, invalid, expired or foreign token ' +
    'is refused with 401 before the upgrade. Frames are JSON text: every message stored in one of your groups ' +
    'arrives as `{"type":"group_message", ...}`; send `group_message` or `ping` frames, each optionally with a ' +
    '`ref` that the `ack`/`error`/`pong` reply echoes.',
  querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 4096 })) }),
  response: {
    101: Type.Null({ description: 'Switching to the WebSocket protocol.' }),
    ...errorResponses(400, 401, 426),
  },
}

/** `GET /ws?token=<JWT>`: the realtime channel. Authenticated before the upgrade; frames validated by schema. */
const realtime: FastifyPluginAsyncTypebox = async (fastify) => {
  const ports = { groups: fastify.store.groups, messages: fastify.store.messages, hub: fastify.hub }

  async function handleFrame(connection: SocketConnection, data: RawData, isBinary: boolean): Promise<void> {
    if (isBinary) {
      connection.send({ type: 'error', code: 'INVALID_FRAME', error: 'Frames must be JSON text, not binary.' })
      return
    }
    const parsed = parseClientFrame(data.toString())
    const ref = parsed.ref === undefined ? {} : { ref: parsed.ref }
    if (!parsed.ok) {
      connection.send({ type: 'error', ...ref, code: parsed.code, error: parsed.error })
      return
    }
    try {
      switch (parsed.frame.type) {
        case 'ping':
          connection.send({ type: 'pong', ...ref, timestamp: new Date().toISOString() })
          return
        case 'group_message': {
          const { group_id, content, kind, media_url, reply_to_id, client_msg_id } =
            parsed.frame as unknown as GroupMessageIn
          const { message, created } = await postGroupMessage(ports, connection.userId, group_id, {
            content,
            ...(kind !== undefined ? { kind } : {}),
            ...(media_url !== undefined ? { media_url } : {}),
            ...(reply_to_id !== undefined ? { reply_to_id } : {}),
            ...(client_msg_id !== undefined ? { client_msg_id } : {}),
          })
          connection.send({ type: 'ack', ...ref, message, duplicate: !created })
          return
        }
      }
    } catch (error) {
      if (error instanceof ChatError) {
        connection.send({ type: 'error', ...ref, code: error.code, error: error.message })
        return
      }
      fastify.log.error({ err: error }, 'socket frame failed')
      connection.send({ type: 'error', ...ref, code: 'INTERNAL_ERROR', error: 'Internal server error.' })
    }
  }

  fastify.route({
    method: 'GET',
    url: '/ws',
    schema: wsSchema,
    preValidation: async (request) => {
      request.user = await fastify.verifyToken(request.query.token)
    },
    // A plain GET that does not ask to upgrade.
    handler: async (_request, reply) =>
      reply.code(426).header('upgrade', 'websocket').send({
        error: 'This endpoint speaks WebSocket: send an upgrade request.',
        code: 'UPGRADE_REQUIRED',
        statusCode: 426,
      }),
    wsHandler: (socket, request) => {
      const connection = new SocketConnection(request.user.id, request.user.jti, socket)
      // Listen before anything awaits, so no early frame is dropped.
      socket.on('message', (data, isBinary) => connection.enqueue(() => handleFrame(connection, data, isBinary)))
      const detach = fastify.hub.attach(connection)
      socket.on('close', detach)
      socket.on('error', (error) => request.log.warn({ err: error }, 'socket error'))
    },
  })
}

export default realtime
