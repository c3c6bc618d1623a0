import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { HubConnection } from '../../src/domain/ports.js'
import type { ServerFrame } from '../../src/schemas/frames/index.js'

const TEXT_FRAME = { binary: false } as const

/**
 * A server-to-client WebSocket text frame around `payload` (RFC 6455 §5.2: FIN, opcode 1, unmasked).
 * Every receiver of a publish gets the same bytes, so they are framed once, not once per socket.
 */
export function encodeTextFrame(payload: Buffer): Buffer {
  const length = payload.length
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x81
  if (length < 126) {
    frame[1] = length
  } else if (length < 65_536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  payload.copy(frame, headerLength)
  return frame
}

// The hub hands the same payload to every receiving socket in a row: remember the last one framed.
let lastPayload: Buffer | undefined
let lastFrame: Buffer | undefined
function framed(payload: Buffer): Buffer {
  if (payload !== lastPayload) {
    lastFrame = encodeTextFrame(payload)
    lastPayload = payload
  }
  return lastFrame as Buffer
}

// Write coalescing. The first payload written in a turn of the event loop goes straight out to every
// socket (at a low rate each message is alone in its turn, and waiting for nothing is fastest). From the
// second payload of the same turn on — a burst: the publishes of one group commit — a socket's stream is
// corked, and every stream corked in the turn is uncorked together once the turn's work is done
// (process.nextTick runs after the current promise jobs), so each socket takes one writev for the rest of
// its frames of the turn instead of one write each. Everything written to a corked stream meanwhile —
// ws's own pings, replies and close frames too — keeps its order.
const corkedStreams: SocketConnection[] = []
/** The first payload written in this turn; undefined once the turn is over. */
let turnPayload: Buffer | undefined
function endTurn(): void {
  turnPayload = undefined
  for (const connection of corkedStreams) connection.uncork()
  corkedStreams.length = 0
}

const MESSAGE_FRAME = /^\{"type":"(?:group|direct)_message","id":(\d+)/

/** The message id of a serialized `group_message`/`direct_message` frame (they start with type and id). */
function messageIdOf(frame: Buffer): number | undefined {
  const match = MESSAGE_FRAME.exec(frame.subarray(0, 64).toString('latin1'))
  return match ? Number(match[1]) : undefined
}

/** One open socket: the hub writes pre-serialized frames to it; replies are serialized here. */
export class SocketConnection implements HubConnection {
  /** Client frames are handled one after another, in the order they arrived. */
  private pending: Promise<void> = Promise.resolve()

  /** Whether `stream` is corked until the end of this turn. */
  private corked = false

  /**
   * `stream` is the TCP (or TLS) socket under `socket`: frames from the hub are written to it
   * already framed. Without it they go through `socket.send`.
   */
  constructor(
    readonly userId: number,
    readonly tokenId: string,
    private readonly socket: WebSocket,
    private readonly stream?: Duplex,
  ) {}

  /** While a resume reads the backlog, live frames wait here instead of overtaking it. */
  private held: Buffer[] | undefined
  /** During a resume, the ids of the messages this socket has been sent, so none is sent twice. */
  private sentMessageIds: Set<number> | undefined

  sendSerialized(frame: Buffer): void {
    if (this.held) {
      this.held.push(frame)
      return
    }
    if (this.sentMessageIds && !this.firstSending(frame)) return
    this.write(frame)
  }

  private write(frame: Buffer): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    // The one check on the hot path: a client that stopped reading is closed, never buffered for without bound.
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.sendBufferFull(this)
      return
    }
    const stream = this.stream
    if (!stream) {
      this.socket.send(frame, TEXT_FRAME)
      return
    }
    if (!this.corked) {
      if (turnPayload === undefined) {
        turnPayload = frame
        process.nextTick(endTurn)
      }
      if (frame !== turnPayload) {
        this.corked = true
        stream.cork()
        corkedStreams.push(this)
      }
    }
    stream.write(framed(frame))
  }

  /** Sends what was written to the stream this turn, in one go. */
  uncork(): void {
    this.corked = false
    this.stream?.uncork()
  }

  /** Set by `limitSendBuffer` (the socket guard); unbounded until then. */
  private maxBufferedBytes = Number.POSITIVE_INFINITY
  private sendBufferFull: (connection: SocketConnection) => void = () => undefined

  /**
   * Bounds the socket's send buffer: once more than `maxBufferedBytes` wait to be written, a send
   * calls `onFull` (which closes the socket) instead of buffering more.
   */
  limitSendBuffer(maxBufferedBytes: number, onFull: (connection: SocketConnection) => void): void {
    this.maxBufferedBytes = maxBufferedBytes
    this.sendBufferFull = onFull
  }

  /** Resolves once every frame received so far has been handled (never rejects). */
  settled(): Promise<void> {
    return this.pending.then(
      () => undefined,
      () => undefined,
    )
  }

  /** Records a message frame's id; false when that message was already sent during the resume. */
  private firstSending(frame: Buffer): boolean {
    const id = messageIdOf(frame)
    if (id === undefined || !this.sentMessageIds) return true
    if (this.sentMessageIds.has(id)) return false
    this.sentMessageIds.add(id)
    return true
  }

  /**
   * Starts a resume: live frames are held back, and message frames are de-duplicated by id until
   * `endResume`. Call it before the backlog is read, so nothing committed meanwhile is missed.
   */
  beginResume(): void {
    this.held ??= []
    this.sentMessageIds ??= new Set()
  }

  /** Sends a backlog frame past the held live ones (still de-duplicated by message id). */
  replay(frame: ServerFrame): void {
    const serialized = Buffer.from(JSON.stringify(frame))
    if (this.firstSending(serialized)) this.write(serialized)
  }

  /** Sends the held live frames after the backlog, skipping messages the backlog already carried. */
  releaseHeld(): void {
    const held = this.held ?? []
    this.held = undefined
    for (const frame of held) if (this.firstSending(frame)) this.write(frame)
  }

  /** Ends the resume: from here on frames go straight out. */
  endResume(): void {
    this.releaseHeld()
    this.sentMessageIds = undefined
  }

  send(frame: ServerFrame): void {
    this.sendSerialized(Buffer.from(JSON.stringify(frame)))
  }

  /** Bytes waiting to be written to the socket. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason)
  }

  /** Queues work behind the frames already received on this socket. */
  enqueue(work: () => Promise<void>): void {
    // Work handles its own errors; should one slip through, it must not stop the frames after it.
    this.pending = this.pending.then(work).catch(() => undefined)
  }
}
