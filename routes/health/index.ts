import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

/** `GET /ping`: a liveness answer that needs no token. */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/ping',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness check',
        response: {
          200: Type.Object({ message: Type.Literal('pong'), timestamp: Type.String({ format: 'date-time' }) }),
        },
      },
    },
    async () => ({ message: 'pong' as const, timestamp: new Date().toISOString() }),
  )
}

export default health
