import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import websocket from '@fastify/websocket'
import type { FastifyInstance, RouteHandlerMethod } from 'fastify'
import { WebSocketServer } from 'ws'

/** The settings of the chat server's sockets. */
interface SocketOptions {
  maxPayload: number
  perMessageDeflate: false
}

/**
 * WebSocket support for the chat server's socket route, with its own limits: frames up to `maxFrameBytes`,
 * no compression (a frame is serialized once and the same bytes go to every socket).
 *
 * @fastify/websocket listens to every upgrade request on the HTTP server and dispatches it through the
 * whole router, so it must be registered once per server. Standalone, or in a host app without it, the
 * chat server registers it. In a host app that registered it (at its root, before the chat server), the
 * host's one dispatches the upgrades and the chat server's socket routes upgrade with a WebSocket server
 * of their own: the host's settings apply to the host's routes, ours to ours, and neither sees the
 * other's sockets.
 */
export async function supportWebSockets(fastify: FastifyInstance): Promise<void> {
  const options: SocketOptions = { maxPayload: fastify.chatConfig.maxFrameBytes, perMessageDeflate: false }
  if (fastify.hasDecorator('websocketServer')) {
    upgradeWithOwnServer(fastify, options)
    return
  }
  await fastify.register(websocket, { options })
  if (fastify.prefix !== '') endForeignUpgradesOnClose(fastify)
}

/** Routes with a `wsHandler` upgrade with a WebSocket server of the chat server's own. */
function upgradeWithOwnServer(fastify: FastifyInstance, options: SocketOptions): void {
  const server = new WebSocketServer({ ...options, noServer: true })
  // The bytes that came after the upgrade request's headers reach the 'upgrade' listeners, not the router:
  // keep them for the handshake. (Prepended, so they are kept before the host's listener routes the request.)
  const heads = new WeakMap<IncomingMessage, Buffer>()
  const keepHead = (request: IncomingMessage, _socket: Duplex, head: Buffer) => heads.set(request, head)
  fastify.server.prependListener('upgrade', keepHead)

  fastify.addHook('onRoute', (route) => {
    const { wsHandler } = route
    if (!wsHandler || [route.method].flat().every((method) => method === 'HEAD')) return
    // The host's @fastify/websocket has wrapped the handler already (its route hook runs before ours): for
    // a plain request the wrapper calls our HTTP handler; an upgrade request is ours to upgrade.
    const httpHandler = route.handler
    const handler: RouteHandlerMethod = function (request, reply) {
      if (!request.ws) return httpHandler.call(this, request, reply)
      reply.hijack()
      server.handleUpgrade(request.raw, request.raw.socket, heads.get(request.raw) ?? Buffer.alloc(0), (socket) => {
        server.emit('connection', socket, request.raw)
        try {
          const result = wsHandler.call(this, socket, request)
          if (result instanceof Promise) result.catch((error: unknown) => failed(error))
        } catch (error) {
          failed(error)
        }
        function failed(error: unknown) {
          request.log.error({ err: error }, 'socket handler failed')
          socket.terminate()
        }
      })
    }
    route.handler = handler
  })

  fastify.addHook('onClose', async () => {
    fastify.server.off('upgrade', keepHead)
    // The sockets have been closed (with 1001) by the socket guard; this frees the server itself.
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
}

/**
 * @fastify/websocket takes every upgrade request on the server, also those for a host app's own routes,
 * and ends those sockets only in this context's hooks. Under a prefix, end any left over from outside it
 * at shutdown, so the host still closes. (Our own sockets close with 1001.)
 */
function endForeignUpgradesOnClose(fastify: FastifyInstance): void {
  const foreignUpgrades = new Set<Duplex>()
  const trackUpgrade = (request: IncomingMessage, socket: Duplex) => {
    if (request.url?.startsWith(`${fastify.prefix}/`)) return
    foreignUpgrades.add(socket)
    socket.once('close', () => foreignUpgrades.delete(socket))
  }
  fastify.server.on('upgrade', trackUpgrade)
  fastify.addHook('preClose', async () => {
    fastify.server.off('upgrade', trackUpgrade)
    for (const socket of foreignUpgrades) socket.destroy()
  })
}
