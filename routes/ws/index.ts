import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { openSocket } from './schemas.js'

/** The HTTP response of each upgrade request, from its authentication to the socket's opening. */
const upgradeResponses = new WeakMap<IncomingMessage, ServerResponse>()

/**
 * `GET /ws?token=<JWT>`: the realtime channel. Authenticated before the upgrade; then the socket is
 * run by `fastify.sockets` (plugins/realtime/), which dispatches its frames to the registered handlers.
 */
const realtimeRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: 'GET',
    url: '/ws',
    schema: openSocket,
    preValidation: async (request, reply) => {
      request.chatUser = await fastify.verifyToken(request.query.token)
      fastify.sockets.admit(request.chatUser.id) // 429 TOO_MANY_SOCKETS past the per-user limit
      upgradeResponses.set(request.raw, reply.raw)
    },
    // A plain GET that does not ask to upgrade.
    handler: async (_request, reply) =>
      reply.code(426).header('upgrade', 'websocket').send({
        error: 'This endpoint speaks WebSocket: send an upgrade request.',
        code: 'UPGRADE_REQUIRED',
        statusCode: 426,
      }),
    wsHandler: (socket, request) => {
      const stream = request.raw.socket
      // Let the upgrade's request and response go once the socket is open: an idle socket should cost
      // only itself. @fastify/websocket leaves the HTTP response attached to the TCP socket, and its
      // 'error' listener closes over the request and the reply, for the socket's whole life; the
      // session's own listener logs the same errors (ws closes the socket itself after one).
      upgradeResponses.get(request.raw)?.detachSocket(stream)
      socket.removeAllListeners('error')
      fastify.sockets.run({ socket, stream, user: request.chatUser, since: request.query.since, log: request.log })
    },
  })
}

export default realtimeRoute
