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

type CheckResult = 'ok' | 'down'

/** `check`'s result, or `down` when it fails or has not answered within `timeoutMs`. */
async function within(timeoutMs: number, check: () => Promise<unknown>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve('down'), timeoutMs)
  })
  const answered = check().then(
    () => 'ok' as const,
    () => 'down' as const,
  )
  try {
    return await Promise.race([answered, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Liveness and readiness: `/ping` and `/health/live` need nothing; `/health/ready` checks what serving needs. */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readinessTimeoutMs } = fastify.chatConfig
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
          'connected to it and that it answers. 503 when either is down or has not answered within ' +
          '`READINESS_TIMEOUT_MS` (default 1 s), so a load balancer stops sending clients here.',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const { hub } = fastify
      const [database, brokerAnswers] = await Promise.all([
        within(readinessTimeoutMs, () => sql`select 1`.execute(fastify.db)),
        hub.ping ? within(readinessTimeoutMs, () => hub.ping?.() ?? Promise.resolve()) : Promise.resolve(undefined),
      ])
      const broker =
        hub.connected === undefined
          ? ('unused' as const)
          : hub.connected() && brokerAnswers !== 'down'
            ? ('ok' as const)
            : ('down' as const)
      const ready = database === 'ok' && broker !== 'down'
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ok' : 'unavailable', database, broker, sockets: hub.connectionCount() })
    },
  )
}

export default health
