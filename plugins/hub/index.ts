import fp from 'fastify-plugin'
import type { Hub } from '../../src/domain/ports.js'
import { LocalHub } from './local-hub.js'
import { RedisHub } from './redis-hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Realtime fan-out: routes persist first, then publish here. */
    hub: Hub
  }
}

/**
 * `fastify.hub`: realtime fan-out. A hub passed in wins; else Redis pub/sub between instances when a Redis
 * URL is configured (`REDIS_URL`, `redisUrl`); else in-process.
 */
export default fp<{ hub?: Hub }>(
  async (fastify, options) => {
    // Each publish is timed and counted for the metrics (the hub is used as it is when they are off).
    const metered = (hub: Hub) => fastify.chatMetrics.meterHub(hub)
    if (options.hub) {
      fastify.decorate('hub', metered(options.hub))
      return
    }
    const redis = fastify.chatConfig.redis
    if (!redis) {
      fastify.decorate('hub', metered(new LocalHub()))
      return
    }
    const log = fastify.log.child({ component: 'redis-hub' })
    const hub = new RedisHub({
      ...redis,
      log: {
        info: (message) => log.info(message),
        warn: (message) => log.warn(message),
        error: (object, message) => log.error(object, message),
      },
      onDelivered: (sockets) => fastify.chatMetrics.framesDelivered(sockets),
      onPublishFailed: () => fastify.chatMetrics.hubPublishFailed(),
    })
    await hub.start()
    fastify.decorate('hub', metered(hub))
    fastify.addHook('onClose', () => hub.close())
  },
  { name: 'chatserver-hub', dependencies: ['chatserver-metrics'] },
)
