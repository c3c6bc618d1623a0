import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Hub, HubConnection } from '../src/domain/ports.js'
import type { ServerFrame } from '../src/schemas/frames/index.js'
import { MetricsServer } from './metrics-access.js'

/** A conversation a message is stored in. */
type Conversation = 'group' | 'direct'

/**
 * What the chat server measures. Each call costs a counter increment or a histogram observation; with
 * metrics off every call does nothing.
 */
export interface ChatMetrics {
  /** The registry `/metrics` serves; undefined when metrics are off. */
  readonly registry: Registry | undefined
  /** A message was stored (a retried send that returned the original is not counted). */
  messageStored(conversation: Conversation): void
  /** A client frame was not handled: refused (rate limit, shutdown) or answered with an `error` frame. */
  frameRejected(code: string): void
  /** Frames handed to local sockets by a hub that delivers what a broker brings (the Redis hub). */
  framesDelivered(sockets: number): void
  /** A publish to the broker failed (refused, or unanswered within the command timeout). */
  hubPublishFailed(): void
  /** The hub, with each publish timed and its deliveries counted (the hub itself when metrics are off). */
  meterHub(hub: Hub): Hub
}

declare module 'fastify' {
  interface FastifyInstance {
    chatMetrics: ChatMetrics
  }
}

const NO_METRICS: ChatMetrics = {
  registry: undefined,
  messageStored: () => undefined,
  frameRejected: () => undefined,
  framesDelivered: () => undefined,
  hubPublishFailed: () => undefined,
  meterHub: (hub) => hub,
}

/** Fan-out takes microseconds to milliseconds: buckets from 50 µs to 100 ms. */
const FANOUT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** A hub that times each publish and counts the sockets it reached, around any other hub. */
class MeteredHub implements Hub {
  readonly connected?: () => boolean
  readonly ping?: () => Promise<void>

  constructor(
    private readonly hub: Hub,
    private readonly published: (seconds: number, delivered: number | void) => void,
  ) {
    const connected = hub.connected?.bind(hub)
    if (connected) this.connected = connected
    const ping = hub.ping?.bind(hub)
    if (ping) this.ping = ping
  }

  attach(connection: HubConnection): () => void {
    return this.hub.attach(connection)
  }

  publish(userIds: Iterable<number>, frame: ServerFrame, except?: HubConnection): number | void {
    const started = performance.now()
    const delivered = this.hub.publish(userIds, frame, except)
    this.published((performance.now() - started) / 1000, delivered)
    return delivered
  }

  publishToUser(userId: number, frame: ServerFrame, except?: HubConnection): number | void {
    const started = performance.now()
    const delivered = this.hub.publishToUser(userId, frame, except)
    this.published((performance.now() - started) / 1000, delivered)
    return delivered
  }

  isOnline(userId: number): boolean {
    return this.hub.isOnline(userId)
  }

  connectionCount(): number {
    return this.hub.connectionCount()
  }
}

/** The Prometheus metrics of one chat server, in a registry of its own (never prom-client's global one). */
function createMetrics(): ChatMetrics & {
  readonly registry: Registry
  observeRequest(labels: RequestLabels, seconds: number): void
} {
  const registry = new Registry()
  const registers = [registry]
  let meteredHub: Hub | undefined
  new Gauge({
    name: 'chatserver_sockets_open',
    help: 'WebSockets open on this instance.',
    registers,
    collect() {
      this.set(meteredHub?.connectionCount() ?? 0)
    },
  })
  const stored = new Counter({
    name: 'chatserver_messages_stored_total',
    help: 'Messages stored, by conversation kind (a retried send that returned the original is not counted).',
    labelNames: ['conversation'] as const,
    registers,
  })
  const storedIn = { group: stored.labels('group'), direct: stored.labels('direct') }
  storedIn.group.inc(0)
  storedIn.direct.inc(0)
  const delivered = new Counter({
    name: 'chatserver_frames_delivered_total',
    help: 'Frames the hub handed to sockets on this instance, one per receiving socket.',
    registers,
  })
  const publishFailures = new Counter({
    name: 'chatserver_hub_publish_failures_total',
    help: 'Publishes to the broker (Redis) that failed or went unanswered: frames other instances did not get.',
    registers,
  })
  publishFailures.inc(0)
  const fanout = new Histogram({
    name: 'chatserver_fanout_duration_seconds',
    help:
      'Time from a hub publish call until the frame was handed to every receiving socket of this instance ' +
      '(with Redis: until it was handed to Redis).',
    buckets: FANOUT_BUCKETS,
    registers,
  })
  const rejected = new Counter({
    name: 'chatserver_ws_frames_rejected_total',
    help: 'Client frames not handled, by the code of the error frame or refusal they got.',
    labelNames: ['code'] as const,
    registers,
  })
  const requests = new Histogram({
    name: 'chatserver_http_request_duration_seconds',
    help: 'HTTP request duration, by method, route and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  })
  return {
    registry,
    messageStored: (conversation) => storedIn[conversation].inc(),
    frameRejected: (code) => rejected.inc({ code }),
    framesDelivered: (sockets) => delivered.inc(sockets),
    hubPublishFailed: () => publishFailures.inc(),
    meterHub(hub) {
      meteredHub = new MeteredHub(hub, (seconds, sockets) => {
        fanout.observe(seconds)
        if (sockets) delivered.inc(sockets)
      })
      return meteredHub
    },
    observeRequest: (labels, seconds) => requests.observe(labels, seconds),
  }
}

interface RequestLabels {
  method: string
  route: string
  status_code: number
}

/**
 * `fastify.chatMetrics`, and the duration of every HTTP request to the chat server's routes. Registered
 * before the hub, which it wraps. The `/metrics` route itself is in `routes/metrics`.
 */
export default fp(
  async (fastify) => {
    if (!fastify.chatConfig.metrics) {
      fastify.decorate('chatMetrics', NO_METRICS)
      return
    }
    const metrics = createMetrics()
    fastify.decorate('chatMetrics', metrics)
    const { metricsPort, metricsToken } = fastify.chatConfig
    if (metricsPort !== undefined) {
      // Served on a port of their own once the app listens, on the same address as the app.
      const portServer = new MetricsServer(metrics.registry, metricsToken)
      fastify.addHook('onListen', async () => {
        const address = fastify.server.address()
        const host = typeof address === 'object' && address ? address.address : '0.0.0.0'
        try {
          await portServer.listen(metricsPort, host)
          fastify.log.info(`Metrics served on port ${portServer.address()?.port ?? metricsPort} (METRICS_PORT)`)
        } catch (error) {
          fastify.log.error({ err: error }, `Metrics could not listen on port ${metricsPort} (METRICS_PORT)`)
        }
      })
      fastify.addHook('onClose', () => portServer.close())
    }
    fastify.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched'
      metrics.observeRequest({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000)
      done()
    })
  },
  { name: 'chatserver-metrics', dependencies: ['chatserver-config'] },
)
