import fp from 'fastify-plugin'
import { SocketGuard } from './guard.js'
import { registerProtocolFrames } from './protocol.js'
import { Realtime } from './registry.js'
import { runSession, type OpenedSocket } from './session.js'
import { supportWebSockets } from './upgrade.js'

// The realtime socket, in one folder: the frame registry (registry.ts), the one frame parser (parser.ts),
// a socket's connection and its writes (connection.ts), its limits (guard.ts), its life from open to
// close (session.ts), the protocol's own frames (protocol.ts) and WebSocket support (upgrade.ts).
// Fan-out to the sockets is the hub's (plugins/hub/); the route is routes/ws/.

/** The open sockets, as the socket route sees them. */
export interface Sockets {
  /** Before the upgrade: throws 429 TOO_MANY_SOCKETS when the user already has the most sockets allowed. */
  admit(userId: number): void
  /** Runs a socket that has just opened until it closes; call it before anything awaits. */
  run(opened: OpenedSocket): void
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The socket protocol: route plugins register their frames and connection listeners here. */
    realtime: Realtime
    /** Every open socket: admitted, run, and closed with 1001 when the server stops. */
    sockets: Sockets
  }
}

/**
 * `fastify.realtime` and `fastify.sockets`, WebSocket support with the chat server's limits, and a
 * preClose hook that answers what the sockets sent, then closes each with 1001, before the server stops.
 */
export default fp(
  async (fastify) => {
    const { chatConfig, chatMetrics } = fastify
    const realtime = new Realtime()
    registerProtocolFrames(realtime, fastify.store.backlog, chatConfig.resumeLimit)
    const guard = new SocketGuard(chatConfig.sockets, fastify.log, (code) => chatMetrics.frameRejected(code))
    const ports = {
      realtime,
      guard,
      hub: fastify.hub,
      backlog: fastify.store.backlog,
      revocation: fastify.revocation,
      metrics: chatMetrics,
      resumeLimit: chatConfig.resumeLimit,
    }
    fastify.decorate('realtime', realtime)
    fastify.decorate<Sockets>('sockets', {
      admit: (userId) => guard.admitSocket(userId),
      run: (opened) => runSession(ports, opened),
    })
    // Added before @fastify/websocket's own preClose, so ours runs first and the sockets get our close code.
    fastify.addHook('preClose', () => guard.shutdown())
    await supportWebSockets(fastify)
  },
  {
    name: 'chatserver-realtime',
    dependencies: [
      'chatserver-config',
      'chatserver-metrics',
      'chatserver-store',
      'chatserver-hub',
      'chatserver-revocation',
    ],
  },
)
