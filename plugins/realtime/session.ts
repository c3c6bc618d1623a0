import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { ChatError } from '../../src/domain/errors.js'
import { RateLimitedError } from '../../src/domain/limits.js'
import type { BacklogStore, Hub } from '../../src/domain/ports.js'
import { replayMissed } from '../../src/domain/resume.js'
import type { ChatMetrics } from '../metrics.js'
import type { AuthUser } from '../auth.js'
import type { TokenGuard } from '../revocation.js'
import { SocketConnection } from './connection.js'
import type { Guarded, SocketGuard } from './guard.js'
import { parseClientFrame, type FrameRef, type ParsedFrame } from './parser.js'
import type { ConnectionListener, Realtime } from './registry.js'

/** What a socket's life touches besides the socket itself. */
export interface SessionPorts {
  realtime: Realtime
  guard: SocketGuard
  hub: Hub
  backlog: BacklogStore
  revocation: TokenGuard
  metrics: ChatMetrics
  resumeLimit: number
}

/** A socket that has just opened: who it belongs to, where it resumes from, and its request's logger. */
export interface OpenedSocket {
  socket: WebSocket
  /** The TCP (or TLS) stream under the socket, for writes framed once per publish. */
  stream?: Duplex
  user: AuthUser
  since: number | undefined
  log: FastifyBaseLogger
}

/**
 * Runs a socket from its opening to its close: guards it, attaches it to the hub, replays what it
 * missed when it resumes, dispatches its frames one after another to the handlers registered with
 * `realtime`, and runs the connect and disconnect listeners. Call it before anything awaits, so no early
 * frame is dropped.
 */
export function runSession(ports: SessionPorts, opened: OpenedSocket): void {
  const { realtime, guard, hub, backlog, revocation, resumeLimit } = ports
  const { socket, user, since, log } = opened
  const connection = new SocketConnection(user.id, user.jti, socket, opened.stream)
  const guarded = guard.watch(connection, socket) // heartbeat, send buffer and frame rate limits
  // Listen before anything awaits; frames wait behind the connect work.
  socket.on('message', (data, isBinary) => received(ports, guarded, data, isBinary, log))
  // Resume: hold live frames from the moment of attaching, so the backlog read after it goes first.
  if (since !== undefined) {
    connection.beginResume()
    guard.beginResume(guarded, undefined) // the socket's first resume: a `resume` frame meanwhile is refused
  }
  const detach = hub.attach(connection)
  connection.enqueue(async () => {
    try {
      if (since !== undefined) {
        const { replayed } = await replayMissed(backlog, connection, since, resumeLimit)
        guard.resumed(guarded, replayed)
      }
    } catch (error) {
      // The client cannot be told what it missed: close so it reconnects and resumes again.
      log.error({ err: error }, 'resume failed')
      connection.endResume()
      socket.close(1011, 'resume failed')
      return
    }
    await runListeners(realtime.connectListeners, 'connect', connection, log)
    connection.endResume()
  })
  socket.on('close', () => {
    guard.release(guarded)
    detach()
    void runListeners(realtime.disconnectListeners, 'disconnect', connection, log)
  })
  socket.on('error', (error) => log.warn({ err: error }, 'socket error'))
  revocation.watch(socket, user) // closed with 4001 on expiry, 4003 on revocation
}

/** One client frame: read once, admitted by the guard, then handled in arrival order. */
function received(ports: SessionPorts, guarded: Guarded, data: RawData, isBinary: boolean, log: FastifyBaseLogger) {
  const parsed = parseClientFrame(ports.realtime, data, isBinary)
  if (!ports.guard.admit(guarded, parsed.ref)) return
  // One resume at a time per socket, and each charged by what it replayed.
  const resume = parsed.ok && parsed.frame.type === 'resume'
  if (resume && !ports.guard.beginResume(guarded, parsed.ref)) return
  const { connection } = guarded
  // Answered in arrival order, refusals too, behind the frames before it.
  connection.enqueue(async () => {
    let replayed = 0
    try {
      replayed = await handle(ports, connection, parsed, log)
    } finally {
      if (resume) ports.guard.resumed(guarded, replayed)
    }
  })
}

/** Handles one received frame and sends its answer; resolves how many messages it replayed (a `resume`). */
async function handle(
  ports: SessionPorts,
  connection: SocketConnection,
  parsed: ParsedFrame,
  log: FastifyBaseLogger,
): Promise<number> {
  const ref = refField(parsed.ref)
  if (!parsed.ok) {
    ports.metrics.frameRejected(parsed.code)
    connection.send({ type: 'error', ...ref, code: parsed.code, error: parsed.error })
    return 0
  }
  try {
    const reply = await parsed.handler.handle(parsed.frame, connection)
    if (reply) connection.send({ ...reply, ...ref })
    return reply?.type === 'ack' ? (reply.replayed ?? 0) : 0
  } catch (error) {
    if (error instanceof ChatError) {
      ports.metrics.frameRejected(error.code)
      const wait = error instanceof RateLimitedError ? { retry_after_ms: Math.max(0, error.retryAfterMs) } : {}
      connection.send({ type: 'error', ...ref, code: error.code, error: error.message, ...wait })
      return 0
    }
    ports.metrics.frameRejected('INTERNAL_ERROR')
    log.error({ err: error }, 'socket frame failed')
    connection.send({ type: 'error', ...ref, code: 'INTERNAL_ERROR', error: 'Internal server error.' })
    return 0
  }
}

const refField = (ref: FrameRef | undefined): { ref?: FrameRef } => (ref === undefined ? {} : { ref })

async function runListeners(
  listeners: readonly ConnectionListener[],
  kind: 'connect' | 'disconnect',
  connection: SocketConnection,
  log: FastifyBaseLogger,
): Promise<void> {
  for (const listener of listeners) {
    try {
      await listener(connection)
    } catch (error) {
      log.error({ err: error }, `socket ${kind} listener failed`)
    }
  }
}
