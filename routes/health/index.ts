import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { sql } from 'kysely'

const Check = Type.Union([Type.Literal('ok'), Type.Literal('down'), Type.Literal('unused')])
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  database: Check,
  broker: Check,
  sockets: Type.Integer({ minimum: 0, description: 'Sockets open on this instance.' }),
})

/** Liveness and readiness: `/ping` and `/health/live` need nothing; `/health/ready` checks what serving needs. */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  const pong = async () => ({ message: 'pong' as const, timestamp: new Date().toISOString() })
  const Pong = Type.Object({ message: Type.Literal('pong'), timestamp: Type.String({ format: 'date-time' }) })

  fastify.get(
    '/ping',
    { schema: { tags: ['health'], summary: 'Liveness check', operationId: 'ping', response: { 200: Pong } } },
    pong,
  )
  fastify.get(
    '/health/live',
    {
      schema: {
        tags: ['health'],
        summary: 'Is the process up?',
        operationId: 'checkLiveness',
        response: { 200: Pong },
      },
    },
    pong,
  )

  fastify.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Can this instance serve?',
        operationId: 'checkReadiness',
        description:
          'Checks the database with a query and, when instances share a broker (Redis), that this instance is ' +
          'connected to it. 503 when either is down, so a load balancer stops sending clients here.',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const database = await sql`select 1`
        .execute(fastify.db)
        .then(() => 'ok' as const)
        .catch(() => 'down' as const)
      const { hub } = fastify
      const broker =
        hub.connected === undefined ? ('unused' as const) : hub.connected() ? ('ok' as const) : ('down' as const)
      const ready = database === 'ok' && broker !== 'down'
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ok' : 'unavailable', database, broker, sockets: hub.connectionCount() })
    },
  )
}

export default health
