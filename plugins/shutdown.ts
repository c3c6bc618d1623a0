import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/** What a client should wait, in seconds, before sending again (here, or to another instance). */
const RETRY_AFTER_SECONDS = 1
/** How long no connection must be open before the drain counts as done. */
const QUIET_MS = 100

const SHUTTING_DOWN = {
  error: 'The server is shutting down; retry shortly (another instance may answer).',
  code: 'SHUTTING_DOWN',
  statusCode: 503,
} as const

/** HTTP/2 has no `Connection` header; HTTP/1.x closes the connection after a response that carries this one. */
const closeAfter = (request: FastifyRequest, reply: FastifyReply) => {
  if (request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
}

/**
 * A shutdown that answers or refuses every request instead of resetting its connection.
 *
 * A keep-alive connection with nothing in flight looks idle to the server, yet its client may be sending the
 * next request at that very moment: closing it then (as `server.close()` does with idle connections) resets
 * a request the client cannot know the fate of. So on close, before the server stops listening:
 * - every request from then on is answered 503 SHUTTING_DOWN (nothing done, `Retry-After`), in our
 *   `{error, code, statusCode}` body: Fastify's own 503 (`return503OnClosing`) has no `code`, so the
 *   standalone app turns it off and this answers instead;
 * - every response, also of the requests already in flight, carries `Connection: close`, so its client
 *   stops using the connection and the server closes it once the response is out;
 * - the server waits up to `shutdownDrainMs` for the connections to go, and ends the wait once none has
 *   been open for 100 ms. Only connections that stayed idle through all of it are then closed by
 *   `server.close()`.
 * Upgraded connections (sockets) are not waited for: the socket guard closes them with 1001.
 */
export default fp(
  async (fastify) => {
    const { shutdownDrainMs } = fastify.chatConfig
    let closing = false

    // Only what the server accepted since this plugin started; tests that never listen have none.
    const connections = new Set<Duplex>()
    let drainTimer: NodeJS.Timeout | undefined
    let drained: (() => void) | undefined
    // The wait ends once no connection has been open for a moment: a client whose connection was just
    // closed after its answer may be opening the next one, which the kernel has accepted but the server has
    // not seen yet, and which would be reset if the server stopped listening now.
    const settle = () => {
      clearTimeout(drainTimer)
      if (closing && connections.size === 0 && drained) drainTimer = setTimeout(drained, QUIET_MS)
    }
    const forget = (socket: Duplex) => {
      connections.delete(socket)
      settle()
    }
    const track = (socket: Socket) => {
      connections.add(socket)
      clearTimeout(drainTimer)
      socket.once('close', () => forget(socket))
    }
    const upgraded = (_request: IncomingMessage, socket: Duplex) => forget(socket)
    fastify.server.on('connection', track)
    fastify.server.on('upgrade', upgraded)

    fastify.addHook('onRequest', (request, reply, done) => {
      if (!closing) {
        done()
        return
      }
      closeAfter(request, reply)
      void reply.code(503).header('retry-after', RETRY_AFTER_SECONDS).send(SHUTTING_DOWN)
    })
    fastify.addHook('onSend', (request, reply, payload, done) => {
      if (closing) closeAfter(request, reply)
      done(null, payload)
    })

    fastify.addHook('preClose', async () => {
      closing = true
      if (connections.size > 0 && shutdownDrainMs > 0) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>((resolve) => {
          drained = resolve
          timer = setTimeout(resolve, shutdownDrainMs)
        })
        clearTimeout(timer)
        clearTimeout(drainTimer)
      }
      fastify.server.off('connection', track)
      fastify.server.off('upgrade', upgraded)
    })
  },
  { name: 'chatserver-shutdown', dependencies: ['chatserver-config'] },
)
