import fp from 'fastify-plugin'

/**
 * Echoes each request's id in the `x-request-id` response header, so a client can quote it and an operator
 * find the request's log lines (`reqId`). The id is the server's: `buildApp` keeps a caller's safe
 * `x-request-id`; embedded, the host's `genReqId` decides.
 */
export default fp(
  async (fastify) => {
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id)
      done()
    })
  },
  { name: 'chatserver-request-id' },
)
