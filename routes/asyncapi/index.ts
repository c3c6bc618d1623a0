import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { asyncApiDocument, ASYNCAPI_VERSION, socketServers } from './document.js'

const getAsyncApi = {
  tags: ['realtime'],
  summary: 'The socket protocol as an AsyncAPI 3 document',
  operationId: 'getAsyncApi',
  description:
    'Every frame a client may send on `/ws` and every frame the server sends there, with the JSON schema the ' +
    'server validates or sends it by, the `token` and `since` query parameters, and the close codes. Generated ' +
    'from the same schemas the server uses; `servers` names the host this request came to.',
  response: {
    200: Type.Object(
      { asyncapi: Type.Literal(ASYNCAPI_VERSION) },
      { additionalProperties: true, description: 'An AsyncAPI 3.0.0 document.' },
    ),
  },
}

/** `GET /asyncapi.json`: the AsyncAPI document of the socket, under the plugin's prefix like every route. */
const asyncApi: FastifyPluginAsyncTypebox = async (fastify) => {
  // The prefix the route plugins see ends with `/` (just `/` at the root); the channel address adds `/ws`.
  const prefix = fastify.prefix.replace(/\/+$/, '')
  // Built on first use: by then every route plugin has registered its frames.
  let document: ReturnType<typeof asyncApiDocument> | undefined

  fastify.get('/asyncapi.json', { schema: getAsyncApi }, async (request) => {
    document ??= asyncApiDocument(fastify.realtime, prefix)
    const { asyncapi, info, ...rest } = document
    const servers = socketServers({ host: request.host, protocol: request.protocol === 'https' ? 'wss' : 'ws' })
    return { asyncapi, info, ...servers, ...rest }
  })
}

export default asyncApi
