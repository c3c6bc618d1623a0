import swagger, { type SwaggerTransform } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

/**
 * The OpenAPI document, generated from the route schemas: JSON at `/docs/json`, Swagger UI at `/docs`.
 * It lists the chat server's routes only, and a host app's own @fastify/swagger does not list them.
 */
export default fp(
  async (fastify) => {
    // Kept by reference: @fastify/swagger puts this very object into the document it builds, which is how
    // each route tells this document from a host app's.
    const info = {
      title: 'chatserver',
      version: '0.1.0',
      description:
        'Real-time group chat: register and log in for a JWT, create groups, send messages over REST ' +
        'or the WebSocket at `/ws?token=<JWT>`, and every connected member receives them at once. ' +
        'Every non-2xx response has the body `{error, code, statusCode}`.',
    }
    // A host's @fastify/swagger registered before the chat server collects our routes too (route hooks are
    // inherited), and would list them with a security scheme its document does not define. Each of our
    // routes hides itself from every document but ours.
    fastify.addHook('onRoute', (route) => {
      const onlyInOurs: SwaggerTransform = (document) => {
        const ours = 'openapiObject' in document && document.openapiObject.info === info
        return { schema: ours ? (route.schema ?? {}) : { hide: true }, url: route.url }
      }
      route.config = { ...route.config, swaggerTransform: onlyInOurs }
    })
    await fastify.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info,
        tags: [
          { name: 'users', description: 'Accounts and tokens' },
          { name: 'groups', description: 'Groups and their members' },
          { name: 'messages', description: 'Sending and reading messages' },
          { name: 'chats', description: 'The chat list, read markers and unread counts' },
          { name: 'realtime', description: 'The WebSocket' },
          { name: 'health', description: 'Liveness, readiness and metrics, for load balancers and monitoring' },
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
