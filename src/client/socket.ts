import { ChatSocketError } from './errors.js'
import type {
  ClientFrames,
  Conversation,
  Message,
  MessageInput,
  ServerFrame,
  ServerFrames,
  ServerFrameType,
} from './types.js'

/** What the client needs of a WebSocket: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
  addEventListener(type: 'error', listener: () => void): void
}
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** How the socket reconnects: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** The first wait, in ms (default 500). */
  initialDelayMs: number
  /** The longest wait, in ms (default 30,000). */
  maxDelayMs: number
  /** Each failed attempt multiplies the wait by this (default 2). */
  factor: number
  /** Up to this fraction of each wait is taken off at random, so clients do not return in step (default 0.5). */
  jitter: number
  /** Give up after this many attempts in a row (default: never). */
  maxAttempts: number
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Number.POSITIVE_INFINITY,
}

export interface ChatSocketOptions {
  /**
   * Resume from here: the id of the newest message you already have; everything after it is delivered, in
   * order, then live frames. Default: the newest message in your chat list when the socket first connects.
   */
  since?: number
  /** The WebSocket class (in Node 20: `import WebSocket from 'ws'`). Default: the client's, else the global one. */
  WebSocket?: WebSocketConstructor
  /** Reconnect settings, or `false` to stay closed after the first disconnect. */
  reconnect?: Partial<ReconnectOptions> | false
  /** How long a request waits for its answer, in ms, reconnects included (default 30,000). */
  requestTimeoutMs?: number
  /** Frames larger than this many bytes are refused before sending (default 64 KiB, the server's limit). */
  maxFrameBytes?: number
}

/** What the socket is doing: every change is told to `onConnection` listeners. */
export type ConnectionEvent =
  /** Connected (again). `since` is the id it resumed after; missed messages arrive first. */
  | { state: 'open'; since: number | undefined }
  /** Disconnected; the next attempt is in `delayMs`. Unanswered sends are kept and sent again. */
  | { state: 'reconnecting'; code: number; reason: string; attempt: number; delayMs: number }
  /**
   * Closed for good: by `close()`, after `maxAttempts`, or because the token was refused (`authFailed`,
   * with the server's code in `reason`: TOKEN_EXPIRED, TOKEN_REVOKED, INVALID_TOKEN…): log in and connect again.
   */
  | { state: 'closed'; code: number; reason: string; authFailed: boolean }

export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** What a `ChatSocket` needs from the REST client that opened it. */
export interface SocketBackend {
  /** The socket URL with the current token and `since`. */
  socketUrl(since: number | undefined): string
  /** The newest message id in the user's conversations, the default resume point. */
  newestMessageId(): Promise<number>
  /** After a connection failed before opening: the server's 401 code when the token is refused, else undefined. */
  tokenRefused(): Promise<string | undefined>
}

interface PendingRequest {
  frame: Record<string, unknown> & { ref: string }
  resolve: (frame: ServerFrame) => void
  reject: (error: ChatSocketError) => void
  /** Sent again after a reconnect (message sends, read markers); the others fail with DISCONNECTED. */
  resend: boolean
  timer: ReturnType<typeof setTimeout>
}

const OPEN = 1
/** Close codes after which reconnecting with the same token cannot help. */
const AUTH_CLOSE_CODES: Record<number, string> = { 4001: 'TOKEN_EXPIRED', 4003: 'TOKEN_REVOKED' }
/** How many message ids are remembered for de-duplication. */
const SEEN_IDS = 10_000
/** Sent by the client itself when it closes. */
const NORMAL_CLOSURE = 1000

let clientMsgIds = 0
/** A fresh `client_msg_id`: random where the platform has `crypto.randomUUID`, else time and a counter. */
function newClientMsgId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (crypto?.randomUUID) return crypto.randomUUID()
  clientMsgIds += 1
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${clientMsgIds}`
}

/** A read marker: the conversation (`group_id` or `user_id`) and the newest message id read in it. */
export type ReadMarker = NonNullable<ServerFrames['ack']['read']>

/** A client frame before the socket adds its `ref` (for each member of a union). */
type WithoutRef<Frame> = Frame extends unknown ? Omit<Frame, 'ref'> : never

type Listener<T extends ServerFrameType> = (frame: ServerFrames[T]) => void

/**
 * The realtime socket, kept open: reconnects with backoff, resumes after the last message it delivered, sends
 * each message with a `client_msg_id` (kept across reconnects, so a send retried after one is stored once), settles
 * each request by the `ack` or `error` carrying its `ref`, and delivers each message once. Made by `ChatClient.connect`.
 */
export class ChatSocket {
  private current: WebSocketLike | undefined
  private currentState: SocketState = 'connecting'
  private cursor: number | undefined
  private readonly seen = new Set<number>()
  private readonly pending = new Map<string, PendingRequest>()
  private readonly listeners = new Map<string, Set<(frame: ServerFrame) => void>>()
  private readonly connectionListeners = new Set<(event: ConnectionEvent) => void>()
  private readonly reconnect: ReconnectOptions | false
  private readonly requestTimeoutMs: number
  private readonly maxFrameBytes: number
  private readonly WebSocket: WebSocketConstructor | undefined
  private attempts = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private refs = 0

  constructor(
    private readonly backend: SocketBackend,
    options: ChatSocketOptions = {},
  ) {
    this.cursor = options.since
    this.reconnect = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect }
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000
    this.maxFrameBytes = options.maxFrameBytes ?? 64 * 1024
    this.WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    void this.open()
  }

  /** `connecting`, `open`, `reconnecting` or `closed`. */
  get state(): SocketState {
    return this.currentState
  }

  /** The id of the newest message delivered: where a reconnect resumes. */
  get lastMessageId(): number | undefined {
    return this.cursor
  }

  /** Calls `listener` with every frame of that type (each message once); returns the function that stops it. */
  on<T extends ServerFrameType>(type: T, listener: Listener<T>): () => void {
    let set = this.listeners.get(type)
    if (!set) {
      set = new Set()
      this.listeners.set(type, set)
    }
    const entry = listener as (frame: ServerFrame) => void
    set.add(entry)
    return () => set.delete(entry)
  }

  /** Calls `listener` on every change of the connection; returns the function that stops it. */
  onConnection(listener: (event: ConnectionEvent) => void): () => void {
    this.connectionListeners.add(listener)
    return () => this.connectionListeners.delete(listener)
  }

  /** Sends a message to a group; resolves the stored message once the server acknowledged it. */
  async sendGroupMessage(groupId: number, input: MessageInput | string): Promise<Message> {
    return this.sendMessage({ type: 'group_message', group_id: groupId, ...messageFields(input) })
  }

  /** Sends a direct message; resolves the stored message once the server acknowledged it. */
  async sendDirectMessage(recipientId: number, input: MessageInput | string): Promise<Message> {
    return this.sendMessage({ type: 'direct_message', recipient_id: recipientId, ...messageFields(input) })
  }

  /** Moves your read marker in a conversation forward (never back); resolves the marker after the move. */
  async markRead(conversation: Conversation, messageId: number): Promise<ReadMarker> {
    const frame: Omit<ClientFrames['read'], 'ref'> = { type: 'read', ...conversation, message_id: messageId }
    const { read } = (await this.request(frame, true)) as ServerFrames['ack']
    if (!read) throw new ChatSocketError('INVALID_ACK', 'The server acknowledged without the read marker.')
    return read
  }

  /**
   * Tells the conversation you are typing (`start`, repeated every few seconds while typing) or stopped.
   * Not acknowledged and not queued: dropped while the socket is not open.
   */
  typing(conversation: Conversation, state: 'start' | 'stop' = 'start'): void {
    const frame: ClientFrames['typing'] = { type: 'typing', ...conversation, state }
    if (this.current?.readyState === OPEN) this.current.send(JSON.stringify(frame))
  }

  /** Resolves with the server's `pong`. */
  async ping(): Promise<ServerFrames['pong']> {
    const frame: Omit<ClientFrames['ping'], 'ref'> = { type: 'ping' }
    return (await this.request(frame, false)) as ServerFrames['pong']
  }

  /** Closes the socket for good; requests still waiting reject with SOCKET_CLOSED. */
  close(): void {
    this.finish(NORMAL_CLOSURE, 'closed by the client', false)
  }

  private async sendMessage(frame: WithoutRef<ClientFrames['group_message'] | ClientFrames['direct_message']>) {
    const withId = { ...frame, client_msg_id: frame.client_msg_id ?? newClientMsgId() }
    const { message } = (await this.request(withId, true)) as ServerFrames['ack']
    if (!message) throw new ChatSocketError('INVALID_ACK', 'The server acknowledged without the message.')
    // Your own message is an event too, once: from its frame (a group's members all get one, and a resume
    // replays it), else from this ack (the socket a direct message came from gets no frame of it).
    if (!this.seen.has(message.id)) {
      this.remember(message.id)
      this.emit({ ...message, type: frame.type } as ServerFrame)
    }
    return message
  }

  /** Sends a frame with a fresh `ref` and resolves with the `ack` or `pong` carrying it. */
  private request(frame: Record<string, unknown>, resend: boolean): Promise<ServerFrame> {
    const clientMsgId = typeof frame.client_msg_id === 'string' ? frame.client_msg_id : undefined
    const details = clientMsgId === undefined ? {} : { clientMsgId }
    if (this.currentState === 'closed') {
      return Promise.reject(new ChatSocketError('SOCKET_CLOSED', 'The socket is closed.', details))
    }
    this.refs += 1
    const withRef = { ...frame, ref: `c${this.refs}` }
    if (new TextEncoder().encode(JSON.stringify(withRef)).length > this.maxFrameBytes) {
      const error = `The frame is larger than ${this.maxFrameBytes} bytes.`
      return Promise.reject(new ChatSocketError('FRAME_TOO_LARGE', error, details))
    }
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(withRef.ref)
        reject(new ChatSocketError('TIMEOUT', `No answer within ${this.requestTimeoutMs} ms.`, details))
      }, this.requestTimeoutMs)
      const request: PendingRequest = { frame: withRef, resolve, reject, resend, timer }
      this.pending.set(withRef.ref, request)
      this.write(request)
    })
  }

  private write(request: PendingRequest): void {
    if (this.current?.readyState !== OPEN || this.currentState !== 'open') return
    this.current.send(JSON.stringify(request.frame))
  }

  private async open(): Promise<void> {
    if (!this.WebSocket) {
      this.finish(0, 'No WebSocket class: pass one as the WebSocket option.', false)
      return
    }
    try {
      this.cursor ??= await this.backend.newestMessageId()
    } catch {
      await this.failedToOpen(1006, 'could not read the chat list')
      return
    }
    if (this.currentState === 'closed') return
    const since = this.cursor
    const socket = new this.WebSocket(this.backend.socketUrl(since))
    this.current = socket
    let opened = false
    socket.addEventListener('open', () => {
      if (socket !== this.current) return
      opened = true
      this.attempts = 0
      this.currentState = 'open'
      this.tell({ state: 'open', since })
      for (const request of this.pending.values()) this.write(request)
    })
    socket.addEventListener('message', (event) => {
      if (socket === this.current && typeof event.data === 'string') this.receive(event.data)
    })
    socket.addEventListener('close', (event) => {
      if (socket !== this.current) return
      this.current = undefined
      if (!opened) void this.failedToOpen(event.code, event.reason)
      else this.dropped(event.code, event.reason)
    })
    socket.addEventListener('error', () => undefined) // a `close` follows and decides
  }

  /** A connection that never opened: the token may have been refused (401 before the upgrade). */
  private async failedToOpen(code: number, reason: string): Promise<void> {
    const refused = await this.backend.tokenRefused().catch(() => undefined)
    if (refused !== undefined) this.finish(code, refused, true)
    else this.dropped(code, reason)
  }

  /** The connection ended: fail what is not re-sent, then reconnect unless the token was refused. */
  private dropped(code: number, reason: string): void {
    if (this.currentState === 'closed') return
    const authCode = AUTH_CLOSE_CODES[code]
    if (authCode !== undefined) {
      this.finish(code, authCode, true)
      return
    }
    for (const [ref, request] of this.pending) {
      if (!request.resend) {
        this.settle(ref, request, new ChatSocketError('DISCONNECTED', 'The socket dropped before the answer.'))
      }
    }
    const settings = this.reconnect
    if (settings === false || this.attempts >= settings.maxAttempts) {
      this.finish(code, reason, false)
      return
    }
    this.attempts += 1
    const base = Math.min(settings.maxDelayMs, settings.initialDelayMs * settings.factor ** (this.attempts - 1))
    const delayMs = Math.round(base * (1 - settings.jitter * Math.random()))
    this.currentState = 'reconnecting'
    this.tell({ state: 'reconnecting', code, reason, attempt: this.attempts, delayMs })
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      void this.open()
    }, delayMs)
  }

  /** Closes for good: every waiting request rejects, the app is told once. */
  private finish(code: number, reason: string, authFailed: boolean): void {
    if (this.currentState === 'closed') return
    this.currentState = 'closed'
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer)
    const socket = this.current
    this.current = undefined
    if (socket && socket.readyState <= OPEN) socket.close(NORMAL_CLOSURE)
    for (const [ref, request] of this.pending) {
      const clientMsgId = request.frame.client_msg_id
      const details = typeof clientMsgId === 'string' ? { clientMsgId } : {}
      const code = authFailed ? reason : 'SOCKET_CLOSED'
      this.settle(ref, request, new ChatSocketError(code, `The socket closed: ${reason}.`, details))
    }
    this.tell({ state: 'closed', code, reason, authFailed })
  }

  private receive(text: string): void {
    let frame: ServerFrame
    try {
      frame = JSON.parse(text) as ServerFrame
    } catch {
      return // not from this server
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') return
    if (frame.type === 'group_message' || frame.type === 'direct_message') {
      if (this.seen.has(frame.id)) return
      this.remember(frame.id)
      this.cursor = Math.max(this.cursor ?? 0, frame.id)
    }
    if (frame.type === 'ack' || frame.type === 'error' || frame.type === 'pong') this.answer(frame)
    this.emit(frame)
  }

  private emit(frame: ServerFrame): void {
    for (const listener of this.listeners.get(frame.type) ?? []) guarded(() => listener(frame))
  }

  /** Settles the request an `ack`, `error` or `pong` answers. */
  private answer(frame: ServerFrames['ack'] | ServerFrames['error'] | ServerFrames['pong']): void {
    const ref = typeof frame.ref === 'string' ? frame.ref : undefined
    const request = ref === undefined ? undefined : this.pending.get(ref)
    if (ref === undefined || !request) return
    if (frame.type !== 'error') {
      this.settle(ref, request, undefined, frame)
      return
    }
    // Not handled because the server is going down: kept, and sent again after the reconnect that follows.
    if (frame.code === 'SHUTTING_DOWN' && request.resend) return
    const clientMsgId = request.frame.client_msg_id
    const details = {
      ...(frame.retry_after_ms !== undefined ? { retryAfterMs: frame.retry_after_ms } : {}),
      ...(typeof clientMsgId === 'string' ? { clientMsgId } : {}),
    }
    this.settle(ref, request, new ChatSocketError(frame.code, frame.error, details))
  }

  private settle(ref: string, request: PendingRequest, error?: ChatSocketError, frame?: ServerFrame): void {
    this.pending.delete(ref)
    clearTimeout(request.timer)
    if (error) request.reject(error)
    else if (frame) request.resolve(frame)
  }

  /** Remembers a message id so a later copy (a replay, a frame after its ack) is not delivered again. */
  private remember(id: number): void {
    this.seen.add(id)
    if (this.seen.size > SEEN_IDS) {
      const oldest = this.seen.values().next().value
      if (oldest !== undefined) this.seen.delete(oldest)
    }
  }

  private tell(event: ConnectionEvent): void {
    for (const listener of this.connectionListeners) guarded(() => listener(event))
  }
}

/**
 * Runs an application's listener: one that throws neither stops the other listeners nor the socket's own
 * work; its error is thrown again on its own, where the platform reports uncaught errors.
 */
function guarded(run: () => void): void {
  try {
    run()
  } catch (error) {
    setTimeout(() => {
      throw error
    })
  }
}

/** The message fields of a socket frame: `type` (the REST body's other name for `kind`) becomes `kind`. */
function messageFields(input: MessageInput | string): Omit<ClientFrames['group_message'], 'type' | 'ref' | 'group_id'> {
  if (typeof input === 'string') return { content: input }
  const { type: kindAlias, kind, ...fields } = input
  const resolved = kind ?? kindAlias
  return resolved === undefined ? fields : { ...fields, kind: resolved }
}
