import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autoload from '@fastify/autoload'
import type { FastifyPluginAsync } from 'fastify'
import authPlugin from '../plugins/auth.js'
import configPlugin from '../plugins/config.js'
import dbPlugin from '../plugins/db.js'
import demoPlugin from '../plugins/demo.js'
import demoPagePlugin from '../plugins/demo-page.js'
import errorsPlugin from '../plugins/errors.js'
import hubPlugin from '../plugins/hub/index.js'
import metricsPlugin from '../plugins/metrics.js'
import openapiPlugin from '../plugins/openapi.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import realtimePlugin from '../plugins/realtime/index.js'
import requestIdPlugin from '../plugins/request-id.js'
import revocationPlugin from '../plugins/revocation.js'
import shutdownPlugin from '../plugins/shutdown.js'
import storePlugin from '../plugins/store/index.js'
import validationPlugin from '../plugins/validation.js'
import type { ChatServerOptions } from './options.js'

const routesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'routes')

/**
 * The whole chat server as one encapsulated Fastify plugin: register it in any Fastify 5 app,
 * under a prefix if you like. Infrastructure first (config, database, stores, auth, hub, errors,
 * OpenAPI), then every route plugin found in `routes/`.
 */
export const chatServer: FastifyPluginAsync<ChatServerOptions> = async (fastify, options) => {
  await fastify.register(configPlugin, options)
  await fastify.register(requestIdPlugin)
  await fastify.register(validationPlugin)
  await fastify.register(errorsPlugin)
  await fastify.register(shutdownPlugin)
  await fastify.register(dbPlugin, options.db ? { db: options.db } : {})
  // A database handle passed in may be written by its owner too: then member ids are read every time.
  await fastify.register(storePlugin, { cacheMembers: !options.db })
  await fastify.register(revocationPlugin)
  await fastify.register(authPlugin)
  await fastify.register(rateLimitPlugin)
  await fastify.register(metricsPlugin)
  await fastify.register(hubPlugin, options.hub ? { hub: options.hub } : {})
  await fastify.register(realtimePlugin)
  await fastify.register(demoPlugin)
  await fastify.register(openapiPlugin)
  await fastify.register(demoPagePlugin)
  // Bodies are JSON: without this, a text/plain body would be parsed as a string and fail validation
  // with a confusing 400 instead of the 415 that names the problem.
  fastify.removeContentTypeParser('text/plain')
  // Every route applies the configured body limit unless it sets its own.
  fastify.addHook('onRoute', (route) => {
    route.bodyLimit ??= fastify.chatConfig.bodyLimit
  })
  await fastify.register(autoload, { dir: routesDir, dirNameRoutePrefix: false, maxDepth: 1 })
}

export default chatServer
