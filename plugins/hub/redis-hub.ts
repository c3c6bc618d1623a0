import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Hub, HubConnection } from '../../src/domain/ports.js'
import { DEFAULT_REDIS_SETTINGS, type RedisSettings } from '../../src/options.js'
import type { ServerFrame } from '../../src/schemas/frames/index.js'
import { LocalHub } from './local-hub.js'

/** WebSocket close code 1012 "service restart": the client reconnects with `since=` and misses nothing. */
export const SERVICE_RESTART = 1012

/**
 * What instances say to each other on the one channel `<prefix>:hub`, as one JSON line. A `frame` line is
 * followed by a newline and the serialized frame itself (JSON never holds a raw newline), so the frame is
 * serialized once, by the publishing instance, and its bytes go to every socket unchanged.
 */
type Announcement =
  /** Deliver the frame after the line to the local sockets of `users`, except connection `except` of `from`. */
  | { type: 'frame'; from: string; users: number[]; except: number | null }
  /** `user` opened their first socket on `from`. */
  | { type: 'online'; from: string; user: number }
  /** `user` closed their last socket on `from`. */
  | { type: 'offline'; from: string; user: number }
  /** Every user with a socket on `from`, now: replaces what was known of `from` (sent every announce interval). */
  | { type: 'users'; from: string; users: number[] }
  /** `from` has just (re)joined and knows nothing: everyone announces their users at once. */
  | { type: 'hello'; from: string }
  /** `from` is shutting down: forget its users now rather than at expiry. */
  | { type: 'bye'; from: string }

interface RemoteInstance {
  users: Set<number>
  /** When it stops counting (ms since the epoch) unless heard from again. */
  expiresAt: number
}

export interface RedisHubLogger {
  info(message: string): void
  warn(message: string): void
  error(object: unknown, message: string): void
}

export interface RedisHubOptions extends Omit<RedisSettings, 'commandTimeoutMs'> {
  /** Default: `DEFAULT_REDIS_SETTINGS.commandTimeoutMs`. */
  commandTimeoutMs?: number
  log?: RedisHubLogger
  /** Called with the number of local sockets each frame from the channel was handed to (for the metrics). */
  onDelivered?: (sockets: number) => void
  /** Called for each publish that Redis did not take (refused, or unanswered within the command timeout). */
  onPublishFailed?: () => void
}

const silent: RedisHubLogger = { info: () => undefined, warn: () => undefined, error: () => undefined }

/**
 * Fan-out between instances through Redis pub/sub. `publish` only sends the frame to Redis; every
 * instance, this one included, delivers what comes back from the channel to its own sockets (through a
 * LocalHub). With a single delivery path, every socket on every instance gets the frames in the one order
 * Redis gave them.
 *
 * `isOnline` stays synchronous: each instance keeps a view of the users online on the others, fed by their
 * `online`/`offline` announcements and a full `users` list every `announceIntervalMs`. An instance not
 * heard from for `presenceExpiryMs` (it died) counts as gone with its users.
 *
 * When the subscriber connection drops, frames published meanwhile are lost to this instance's sockets:
 * once ioredis has reconnected and the channel is subscribed again, every local socket is closed with
 * 1012, so each client reconnects with `since=` and gets what it missed from the database.
 */
export class RedisHub implements Hub {
  /** This instance's id on the channel. */
  readonly instanceId = randomBytes(8).toString('hex')
  readonly channel: string
  private readonly local = new LocalHub()
  private readonly publisher: Redis
  private readonly subscriber: Redis
  private readonly log: RedisHubLogger
  /** Local connections by the id other instances' frames name them with (for `except`). */
  private readonly connectionIds = new WeakMap<HubConnection, number>()
  private readonly connectionsById = new Map<number, HubConnection>()
  private nextConnectionId = 1
  private readonly remote = new Map<string, RemoteInstance>()
  private timer: NodeJS.Timeout | undefined
  /** Subscribed at least once; a drop after that means frames may have been lost. */
  private subscribed = false
  private lost = false
  private closing = false
  /** Publishes are failing (Redis refuses them or does not answer): fan-out to the other instances is down. */
  private publishFailing = false
  private failedPublishes = 0

  constructor(private readonly settings: RedisHubOptions) {
    this.channel = `${settings.channelPrefix}:hub`
    this.log = settings.log ?? silent
    // Every command has a deadline: a Redis that keeps its connections but stops answering must not leave
    // publishes (and readiness) waiting forever.
    const commandTimeout = settings.commandTimeoutMs ?? DEFAULT_REDIS_SETTINGS.commandTimeoutMs
    const common = { lazyConnect: true, connectTimeout: 5_000, commandTimeout }
    // The publisher keeps commands in ioredis' offline queue while disconnected: sent late beats never sent.
    this.publisher = new Redis(settings.url, { ...common, connectionName: `chatserver-${this.instanceId}-pub` })
    // The subscriber subscribes itself after each (re)connect, to know when it is listening again.
    this.subscriber = new Redis(settings.url, {
      ...common,
      connectionName: `chatserver-${this.instanceId}-sub`,
      autoResubscribe: false,
    })
    for (const [name, connection] of [
      ['publisher', this.publisher],
      ['subscriber', this.subscriber],
    ] as const) {
      connection.on('error', (error: Error) => this.log.warn(`Redis ${name}: ${error.message}`))
    }
    this.subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.receive(message))
    this.subscriber.on('close', () => {
      if (this.subscribed && !this.closing && !this.lost) {
        this.lost = true
        this.log.warn('Redis subscriber disconnected; reconnecting')
      }
    })
    this.subscriber.on('ready', () => {
      if (this.lost && !this.closing) void this.recover()
    })
  }

  /** Connects both connections and subscribes; rejects (and stops trying) when Redis does not answer. */
  async start(): Promise<void> {
    try {
      await Promise.all([this.publisher.connect(), this.subscriber.connect()])
      await this.subscriber.subscribe(this.channel)
    } catch (error) {
      this.publisher.disconnect()
      this.subscriber.disconnect()
      const where = this.settings.url.replace(/\/\/[^@/]*@/, '//')
      throw new Error(`Redis is unreachable at ${where}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      })
    }
    this.subscribed = true
    this.timer = setInterval(() => this.tick(), this.settings.announceIntervalMs)
    this.timer.unref()
    this.send({ type: 'hello', from: this.instanceId })
  }

  /** After a drop: listen again, then make every local socket resume, and re-learn who is online where. */
  private async recover(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel)
    } catch (error) {
      this.log.error({ err: error }, 'Redis resubscribe failed; retrying on the next reconnect')
      this.subscriber.disconnect(true)
      return
    }
    this.lost = false
    this.log.warn('Redis subscriber reconnected: closing local sockets with 1012 so their clients resume')
    for (const connection of [...this.connectionsById.values()]) {
      connection.close?.(SERVICE_RESTART, 'hub reconnected: resume with since=')
    }
    this.remote.clear()
    this.send({ type: 'hello', from: this.instanceId })
    this.announceUsers()
  }

  /** Says goodbye and closes both connections. */
  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.timer)
    if (this.publisher.status === 'ready' && this.subscribed) {
      await this.publisher.publish(this.channel, JSON.stringify({ type: 'bye', from: this.instanceId })).catch(() => {})
    }
    await Promise.all(
      [this.publisher, this.subscriber].map(async (connection) => {
        if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect())
        else connection.disconnect()
      }),
    )
  }

  attach(connection: HubConnection): () => void {
    const { userId } = connection
    const wasOnline = this.local.isOnline(userId)
    const detach = this.local.attach(connection)
    const id = this.nextConnectionId++
    this.connectionIds.set(connection, id)
    this.connectionsById.set(id, connection)
    if (!wasOnline) this.send({ type: 'online', from: this.instanceId, user: userId })
    return () => {
      if (!this.connectionsById.delete(id)) return
      detach()
      if (!this.local.isOnline(userId)) this.send({ type: 'offline', from: this.instanceId, user: userId })
    }
  }

  publish(userIds: Iterable<number>, frame: ServerFrame, except?: HubConnection): void {
    const users = [...userIds]
    if (users.length === 0) return
    const line: Announcement = {
      type: 'frame',
      from: this.instanceId,
      users,
      except: (except && this.connectionIds.get(except)) ?? null,
    }
    this.sendRaw(`${JSON.stringify(line)}\n${JSON.stringify(frame)}`)
  }

  publishToUser(userId: number, frame: ServerFrame, except?: HubConnection): void {
    this.publish([userId], frame, except)
  }

  isOnline(userId: number): boolean {
    if (this.local.isOnline(userId)) return true
    const now = Date.now()
    for (const instance of this.remote.values()) {
      if (instance.expiresAt > now && instance.users.has(userId)) return true
    }
    return false
  }

  /** The number of open sockets on this instance. */
  connectionCount(): number {
    return this.local.connectionCount()
  }

  /** Whether both Redis connections are up and publishes go through (for health reports). */
  connected(): boolean {
    return this.publisher.status === 'ready' && this.subscriber.status === 'ready' && !this.lost && !this.publishFailing
  }

  /** A round trip on both connections, each within the command timeout; rejects when either fails. */
  async ping(): Promise<void> {
    await Promise.all([this.publisher.ping(), this.subscriber.ping()])
  }

  /** Every announce interval: tell the others who is online here, and forget instances that went quiet. */
  private tick(): void {
    this.announceUsers()
    const now = Date.now()
    for (const [id, instance] of this.remote) if (instance.expiresAt <= now) this.remote.delete(id)
  }

  private announceUsers(): void {
    const users = new Set<number>()
    for (const connection of this.connectionsById.values()) users.add(connection.userId)
    this.send({ type: 'users', from: this.instanceId, users: [...users] })
  }

  private send(line: Announcement): void {
    this.sendRaw(JSON.stringify(line))
  }

  /**
   * Publishes without waiting: a send never waits on Redis. A failed publish (refused, or unanswered within
   * the command timeout) is counted and reported once per spell of failures, and makes the hub report itself
   * down until a publish goes through again. (A publish that timed out may still reach Redis once it answers.)
   */
  private sendRaw(message: string): void {
    if (this.closing) return
    this.publisher.publish(this.channel, message).then(
      () => {
        if (!this.publishFailing) return
        this.publishFailing = false
        this.log.warn(`Redis publishes go through again (${this.failedPublishes} failed meanwhile)`)
        this.failedPublishes = 0
      },
      (error: unknown) => {
        this.settings.onPublishFailed?.()
        this.failedPublishes += 1
        if (this.publishFailing || this.closing) return
        this.publishFailing = true
        this.log.error({ err: error }, 'Redis publish failed: fan-out to the other instances is down')
      },
    )
  }

  private receive(message: Buffer): void {
    const newline = message.indexOf(10)
    let line: Announcement
    try {
      line = JSON.parse(message.toString('utf8', 0, newline === -1 ? message.length : newline)) as Announcement
    } catch {
      this.log.warn(`ignored a message on ${this.channel} that is not the hub's`)
      return
    }
    const own = line.from === this.instanceId
    if (line.type === 'frame') {
      if (newline === -1) return
      const except = own && line.except !== null ? this.connectionsById.get(line.except) : undefined
      const delivered = this.local.deliver(line.users, message.subarray(newline + 1), except)
      this.settings.onDelivered?.(delivered)
      if (!own) this.heardFrom(line.from)
      return
    }
    if (own) return
    switch (line.type) {
      case 'online':
        this.heardFrom(line.from).users.add(line.user)
        break
      case 'offline':
        this.heardFrom(line.from).users.delete(line.user)
        break
      case 'users':
        this.heardFrom(line.from).users = new Set(line.users)
        break
      case 'hello':
        this.heardFrom(line.from)
        this.announceUsers()
        break
      case 'bye':
        this.remote.delete(line.from)
        break
    }
  }

  /** Records that an instance is alive, and returns what is known of it. */
  private heardFrom(instanceId: string): RemoteInstance {
    const expiresAt = Date.now() + this.settings.presenceExpiryMs
    let instance = this.remote.get(instanceId)
    if (!instance) {
      instance = { users: new Set(), expiresAt }
      this.remote.set(instanceId, instance)
    } else {
      instance.expiresAt = expiresAt
    }
    return instance
  }
}
