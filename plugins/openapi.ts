import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

/** The OpenAPI document, generated from the route schemas: JSON at `/docs/json`, Swagger UI at `/docs`. */
export default fp(
  async (fastify) => {
    await fastify.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'chatserver',
          version: '0.1.0',
          description:
            'Real-time group chat: register and log in for a JWT, create groups, send messages over REST ' +
            'or the WebSocket at `/ws?token=<JWT>`, and every connected member receives them at once. ' +
            'Every non-2xx response has the body `{error, code, statusCode}`.',
        },
        tags: [
          { name: 'users', description: 'Accounts and tokens' },
          { name: 'groups', description: 'Groups and their members' },
          { name: 'messages', description: 'Sending and reading messages' },
          { name: 'chats', description: 'The chat list, read markers and unread counts' },
          { name: 'realtime', description: 'The WebSocket' },
          { name: 'health', description: 'Liveness' },
        ],
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
      },
    })
    await fastify.register(swaggerUi, { routePrefix: '/docs' })
  },
  { name: 'chatserver-openapi' },
)
