import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData } from 'ws'
import { SocketConnection } from '../../plugins/hub/connection.js'
import { ChatError } from '../../src/domain/errors.js'
import { replayMissed } from '../../src/domain/resume.js'
import { AckOut, ErrorOut, PingIn, PongOut, ResumeIn, SystemOut } from '../../src/schemas/frames.js'
import { parseClientFrame } from './frames.js'
import { openSocket } from './schemas.js'

/** The HTTP response of each upgrade request, from its authentication to the socket's opening. */
const upgradeResponses = new WeakMap<IncomingMessage, ServerResponse>()

/** `GET /ws?token=<JWT>`: the realtime channel. Authenticated before the upgrade; frames validated by schema. */
const realtimeRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { realtime, hub, socketGuard } = fastify

  // Frames of the protocol itself; every other server frame is registered by the plugin that sends it.
  realtime.serverFrame('ack', AckOut)
  realtime.serverFrame('error', ErrorOut)
  realtime.serverFrame('pong', PongOut)
  realtime.serverFrame('system', SystemOut)

  realtime.frame('ping', PingIn, () => ({ type: 'pong', timestamp: new Date().toISOString() }))

  const resumeLimit = fastify.chatConfig.resumeLimit
  realtime.frame('resume', ResumeIn, async (frame, connection) => {
    try {
      const result = await replayMissed(fastify.store.backlog, connection, frame.since, resumeLimit)
      return { type: 'ack', ...result }
    } finally {
      connection.endResume()
    }
  })

  const { chatMetrics } = fastify

  /** Handles one client frame; `log` is the upgrade request's logger, so its lines carry that request's id. */
  async function handleFrame(
    connection: SocketConnection,
    data: RawData,
    isBinary: boolean,
    log: FastifyBaseLogger,
  ): Promise<void> {
    if (isBinary) {
      chatMetrics.frameRejected('INVALID_FRAME')
      connection.send({ type: 'error', code: 'INVALID_FRAME', error: 'Frames must be JSON text, not binary.' })
      return
    }
    const parsed = parseClientFrame(realtime, data.toString())
    const ref = parsed.ref === undefined ? {} : { ref: parsed.ref }
    if (!parsed.ok) {
      chatMetrics.frameRejected(parsed.code)
      connection.send({ type: 'error', ...ref, code: parsed.code, error: parsed.error })
      return
    }
    try {
      const reply = await parsed.handler.handle(parsed.frame, connection)
      if (reply) connection.send({ ...reply, ...ref })
    } catch (error) {
      if (error instanceof ChatError) {
        chatMetrics.frameRejected(error.code)
        connection.send({ type: 'error', ...ref, code: error.code, error: error.message })
        return
      }
      chatMetrics.frameRejected('INTERNAL_ERROR')
      log.error({ err: error }, 'socket frame failed')
      connection.send({ type: 'error', ...ref, code: 'INTERNAL_ERROR', error: 'Internal server error.' })
    }
  }

  async function runListeners(
    kind: 'connect' | 'disconnect',
    connection: SocketConnection,
    log: FastifyBaseLogger,
  ): Promise<void> {
    const listeners = kind === 'connect' ? realtime.connectListeners : realtime.disconnectListeners
    for (const listener of listeners) {
      try {
        await listener(connection)
      } catch (error) {
        log.error({ err: error }, `socket ${kind} listener failed`)
      }
    }
  }

  fastify.route({
    method: 'GET',
    url: '/ws',
    schema: openSocket,
    preValidation: async (request, reply) => {
      request.chatUser = await fastify.verifyToken(request.query.token)
      fastify.socketGuard.admitSocket(request.chatUser.id) // 429 TOO_MANY_SOCKETS past the per-user limit
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
      // 'error' listener closes over the request and the reply, for the socket's whole life; ours
      // below logs the same errors (ws closes the socket itself after one).
      upgradeResponses.get(request.raw)?.detachSocket(stream)
      socket.removeAllListeners('error')
      const log = request.log
      const connection = new SocketConnection(request.chatUser.id, request.chatUser.jti, socket, stream)
      const guarded = socketGuard.watch(connection, socket) // heartbeat, send buffer and frame rate limits
      // Listen before anything awaits, so no early frame is dropped; frames wait for the connect work.
      socket.on('message', (data, isBinary) => {
        if (socketGuard.admit(guarded, data)) connection.enqueue(() => handleFrame(connection, data, isBinary, log))
      })
      // Resume: hold live frames from the moment of attaching, so the backlog read after it goes first.
      const { since } = request.query
      if (since !== undefined) connection.beginResume()
      const detach = hub.attach(connection)
      connection.enqueue(async () => {
        try {
          if (since !== undefined) await replayMissed(fastify.store.backlog, connection, since, resumeLimit)
        } catch (error) {
          // The client cannot be told what it missed: close so it reconnects and resumes again.
          log.error({ err: error }, 'resume failed')
          connection.endResume()
          socket.close(1011, 'resume failed')
          return
        }
        await runListeners('connect', connection, log)
        connection.endResume()
      })
      socket.on('close', () => {
        socketGuard.release(guarded)
        detach()
        void runListeners('disconnect', connection, log)
      })
      socket.on('error', (error) => log.warn({ err: error }, 'socket error'))
      fastify.revocation.watch(socket, request.chatUser) // closed with 4001 on expiry, 4003 on revocation
    },
  })
}

export default realtimeRoute
