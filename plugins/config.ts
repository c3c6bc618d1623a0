import fp from 'fastify-plugin'
import { resolveConfig, type ChatServerConfig, type ChatServerOptions } from '../src/options.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The resolved settings (environment, then options, then defaults), validated at start-up. */
    chatConfig: ChatServerConfig
  }
}

/** Resolves and validates the settings once, at start-up, and exposes them as `fastify.chatConfig`. */
export default fp<ChatServerOptions>(
  async (fastify, options) => {
    const config = resolveConfig(options)
    fastify.decorate('chatConfig', config)
    const { secretSource, weakSecret } = config.jwt
    if (secretSource === 'created-file') {
      fastify.log.warn(`No JWT_SECRET set: created one and kept it in ${config.dbFile}.jwt-secret`)
    } else if (secretSource === 'ephemeral') {
      fastify.log.warn('No JWT_SECRET set: using a random one for this process; tokens end with it')
    } else if (weakSecret) {
      fastify.log.warn('JWT_SECRET is weak; production would refuse it')
    }
  },
  { name: 'chatserver-config', fastify: '5.x' },
)
