import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { ChatError } from '../../src/domain/errors.js'
import type { SocketLimits } from '../../src/options.js'
import type { SocketConnection } from './connection.js'
import type { FrameRef } from './parser.js'

/**
 * Close codes the server uses on its own initiative. Clients should reconnect (with `since=<last id>`
 * to resume) after each of them.
 */
export const CloseCode = {
  /** The server is shutting down or restarting (RFC 6455 "going away"). */
  GOING_AWAY: 1001,
  /** Frames kept coming far over the rate limit, or one socket too many for the user (RFC 6455 "policy violation"). */
  POLICY_VIOLATION: 1008,
  /** The client did not read fast enough: more than `maxBufferedBytes` waited to be written to it. */
  SLOW_CONSUMER: 4008,
} as const

/**
 * One guarded socket. Its state is plain fields and the guard's methods act on it, so an idle socket
 * costs one small object here, not a set of closures.
 */
export interface Guarded {
  connection: SocketConnection
  socket: WebSocket
  /** Answered the last heartbeat ping. */
  alive: boolean
  /** Frames the socket may still send now; below zero, it is over its limit by that many. */
  tokens: number
  /** When `tokens` was last refilled (ms, monotonic). */
  refilledAt: number
  /** A resume (on connect or by a `resume` frame) is queued or replaying: another is refused. */
  resuming: boolean
}

/** Each guarded socket's record, for the one pong listener all sockets share. */
const guardedBySocket = new WeakMap<WebSocket, Guarded>()

function answeredPing(this: WebSocket): void {
  const guarded = guardedBySocket.get(this)
  if (guarded) guarded.alive = true
}

/** Resolves when the socket has closed. */
const closedOf = (socket: WebSocket) =>
  new Promise<void>((resolve) => {
    if (socket.readyState === socket.CLOSED) resolve()
    else socket.once('close', () => resolve())
  })

/**
 * Guards the realtime sockets against slow, dead, noisy and too many clients, and closes them all
 * on shutdown:
 * - heartbeat: a ping every `heartbeatIntervalMs`; a socket that has not answered by the next one is cut off;
 * - send buffer: more than `maxBufferedBytes` waiting to be written to a socket closes it with 4008;
 * - frame rate: a token bucket of `frameBurst` refilled at `maxFramesPerSecond`; a frame over it gets an
 *   `error` RATE_LIMITED and is not handled; more than twice the burst over it closes the socket with 1008;
 *   a resume also costs a frame per `resumeMessagesPerFrame` messages it replayed;
 * - resume: one at a time per socket; another meanwhile gets an `error` RESUME_IN_PROGRESS;
 * - sockets per user: past `maxSocketsPerUser` the upgrade is refused with 429 TOO_MANY_SOCKETS;
 * - shutdown: frames already received are answered, then every socket is closed with 1001.
 */
export class SocketGuard {
  private readonly guarded = new Set<Guarded>()
  private readonly socketsByUser = new Map<number, number>()
  private heartbeat: NodeJS.Timeout | undefined
  private closing = false

  constructor(
    readonly limits: SocketLimits,
    private readonly log: FastifyBaseLogger,
    /** Told the code of each frame the guard refuses (for the metrics). */
    private readonly onRefused: (code: 'RATE_LIMITED' | 'SHUTTING_DOWN' | 'RESUME_IN_PROGRESS') => void = () =>
      undefined,
  ) {}

  /** Before the upgrade: throws 429 TOO_MANY_SOCKETS when the user already has the most sockets allowed. */
  admitSocket(userId: number): void {
    const max = this.limits.maxSocketsPerUser
    if (max > 0 && (this.socketsByUser.get(userId) ?? 0) >= max) {
      throw new ChatError(
        429,
        'TOO_MANY_SOCKETS',
        `You have ${max} sockets open, the most allowed: close one before opening another.`,
      )
    }
  }

  /** Closes a socket whose client stopped reading: shared by every socket's send-buffer limit. */
  private readonly closeSlowConsumer = (connection: SocketConnection): void => {
    this.log.warn(
      { userId: connection.userId, bufferedBytes: connection.bufferedAmount },
      'closing a socket that stopped reading',
    )
    connection.close(CloseCode.SLOW_CONSUMER, 'slow consumer')
  }

  /**
   * Guards a socket that has just opened (call it before any frame can arrive). Pass each of its frames
   * to `admit`, and call `release` once it has closed.
   */
  watch(connection: SocketConnection, socket: WebSocket): Guarded {
    const { maxBufferedBytes, frameBurst, maxSocketsPerUser } = this.limits
    const userId = connection.userId
    const open = (this.socketsByUser.get(userId) ?? 0) + 1
    this.socketsByUser.set(userId, open)
    const guarded: Guarded = {
      connection,
      socket,
      alive: true,
      tokens: frameBurst,
      refilledAt: performance.now(),
      resuming: false,
    }
    this.guarded.add(guarded)
    guardedBySocket.set(socket, guarded)
    socket.on('pong', answeredPing)
    if (maxBufferedBytes > 0) connection.limitSendBuffer(maxBufferedBytes, this.closeSlowConsumer)
    this.startHeartbeat()

    if (this.closing) {
      socket.close(CloseCode.GOING_AWAY, 'server shutting down')
    } else if (maxSocketsPerUser > 0 && open > maxSocketsPerUser) {
      // Upgrades that passed the check together: the ones past the limit are closed at once.
      socket.close(CloseCode.POLICY_VIOLATION, 'too many sockets')
    }
    return guarded
  }

  /** Forgets a socket that has closed: it no longer counts against its user's limit. */
  release(guarded: Guarded): void {
    if (!this.guarded.delete(guarded)) return
    const userId = guarded.connection.userId
    const left = (this.socketsByUser.get(userId) ?? 1) - 1
    if (left > 0) this.socketsByUser.set(userId, left)
    else this.socketsByUser.delete(userId)
  }

  /**
   * True when the socket's frame may be handled; otherwise the client has been told why, with the
   * frame's `ref` (or the socket is closing).
   */
  admit(guarded: Guarded, ref: FrameRef | undefined): boolean {
    const { connection, socket } = guarded
    // After the close frame nothing more is handled: its answer could not be sent.
    if (socket.readyState !== socket.OPEN) return false
    if (this.closing) {
      this.onRefused('SHUTTING_DOWN')
      connection.send({
        type: 'error',
        ...(ref === undefined ? {} : { ref }),
        code: 'SHUTTING_DOWN',
        error: 'The server is shutting down: the frame was not handled; send it again after reconnecting.',
      })
      return false
    }
    const { maxFramesPerSecond, frameBurst } = this.limits
    if (maxFramesPerSecond <= 0) return true
    const refillPerMs = maxFramesPerSecond / 1000
    this.refill(guarded)
    guarded.tokens -= 1
    if (guarded.tokens >= 0) return true
    this.onRefused('RATE_LIMITED')
    if (guarded.tokens < -2 * frameBurst) {
      this.log.warn({ userId: connection.userId }, 'closing a socket that kept sending over its frame rate limit')
      socket.close(CloseCode.POLICY_VIOLATION, 'rate limited')
      return false
    }
    connection.send({
      type: 'error',
      ...(ref === undefined ? {} : { ref }),
      code: 'RATE_LIMITED',
      error: `Too many frames: at most ${maxFramesPerSecond} a second (${frameBurst} at once); not handled.`,
      retry_after_ms: Math.ceil((1 - guarded.tokens) / refillPerMs),
    })
    return false
  }

  /**
   * Before a resume (admitted as a frame already): true when none is queued or replaying on this socket,
   * and from here one is; otherwise the client gets an `error` RESUME_IN_PROGRESS. Call `resumed` after it.
   */
  beginResume(guarded: Guarded, ref: FrameRef | undefined): boolean {
    if (!guarded.resuming) {
      guarded.resuming = true
      return true
    }
    this.onRefused('RESUME_IN_PROGRESS')
    guarded.connection.send({
      type: 'error',
      ...(ref === undefined ? {} : { ref }),
      code: 'RESUME_IN_PROGRESS',
      error: 'A resume is already running on this socket: wait for its RESUME_COMPLETE before sending another.',
    })
    return false
  }

  /**
   * After a resume: another may start, and the messages it replayed are charged to the socket's frame rate
   * limit, one frame per `resumeMessagesPerFrame` of them, so that replaying is never cheaper than sending.
   * The debt stops at one burst below zero: the socket's next frames are refused until it is paid back,
   * but the socket is not closed for a resume it was allowed.
   */
  resumed(guarded: Guarded, replayed: number): void {
    guarded.resuming = false
    const { maxFramesPerSecond, frameBurst, resumeMessagesPerFrame } = this.limits
    if (maxFramesPerSecond <= 0 || resumeMessagesPerFrame <= 0 || replayed <= 0) return
    const cost = Math.ceil(replayed / resumeMessagesPerFrame)
    this.refill(guarded)
    guarded.tokens = Math.max(-frameBurst, guarded.tokens - cost)
  }

  /** Adds the tokens earned since the last refill, up to the burst. */
  private refill(guarded: Guarded): void {
    const { maxFramesPerSecond, frameBurst } = this.limits
    const now = performance.now()
    guarded.tokens = Math.min(frameBurst, guarded.tokens + ((now - guarded.refilledAt) * maxFramesPerSecond) / 1000)
    guarded.refilledAt = now
  }

  /** One heartbeat timer for all sockets, started with the first; it never keeps the process alive. */
  private startHeartbeat(): void {
    const interval = this.limits.heartbeatIntervalMs
    if (this.heartbeat || interval <= 0 || this.closing) return
    this.heartbeat = setInterval(() => {
      for (const guarded of this.guarded) {
        if (!guarded.alive) {
          this.log.info({ userId: guarded.connection.userId }, 'cutting off a socket that missed its heartbeat')
          guarded.socket.terminate()
          continue
        }
        guarded.alive = false
        guarded.socket.ping()
      }
    }, interval)
    this.heartbeat.unref()
  }

  /**
   * Closes every socket for a shutdown: new frames are refused with SHUTTING_DOWN; the frames already
   * received are handled and answered (for up to `shutdownGraceMs`); then each socket is closed with
   * 1001 and has up to `shutdownGraceMs` more to complete the closing handshake before it is cut off.
   */
  async shutdown(): Promise<void> {
    this.closing = true
    clearInterval(this.heartbeat)
    this.heartbeat = undefined
    const sockets = [...this.guarded]
    if (sockets.length === 0) return
    await this.withinGrace(Promise.all(sockets.map((guarded) => guarded.connection.settled())))
    for (const { socket } of sockets) socket.close(CloseCode.GOING_AWAY, 'server shutting down')
    await this.withinGrace(Promise.all(sockets.map((guarded) => closedOf(guarded.socket))))
    for (const { socket } of this.guarded) socket.terminate()
  }

  /** Waits for `work`, or for `shutdownGraceMs`, whichever ends first. */
  private async withinGrace(work: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.limits.shutdownGraceMs)
    })
    try {
      await Promise.race([work, graceOver])
    } finally {
      clearTimeout(timer)
    }
  }
}
