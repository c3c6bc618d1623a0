import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import t, { type Test } from 'tap'
import { chatServer } from '../../src/plugin.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import { build, register, tempDir, TEST_SECRET } from '../helpers.js'

interface MediaType {
  schema?: { type?: string; properties?: Record<string, unknown>; required?: string[] }
}

interface DocumentedResponse {
  description?: string
  content?: Record<string, MediaType>
}

interface Operation {
  operationId?: string
  summary?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ in: string; name: string; required?: boolean }>
  requestBody?: { required?: boolean; content?: Record<string, MediaType> }
  responses?: Record<string, DocumentedResponse>
}

interface OpenApiDocument {
  openapi: string
  tags?: Array<{ name: string }>
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> }
  paths: Record<string, Record<string, Operation>>
}

async function documentOf(app: FastifyInstance, prefix = ''): Promise<OpenApiDocument> {
  const res = await app.inject({ method: 'GET', url: `${prefix}/docs/json` })
  if (res.statusCode !== 200) throw new Error(`/docs/json answered ${res.statusCode}`)
  return res.json<OpenApiDocument>()
}

/** Every operation of the document as `[METHOD, path, operation]`. */
function operationsOf(doc: OpenApiDocument): Array<[string, string, Operation]> {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, string, Operation] => [
      method.toUpperCase(),
      path,
      operation,
    ]),
  )
}

/** The chat server at the root of a bare Fastify app that records every route registered in it. */
async function appRecordingRoutes(t: Test): Promise<{ app: FastifyInstance; routes: RouteOptions[] }> {
  const routes: RouteOptions[] = []
  const app = Fastify()
  app.addHook('onRoute', (route) => {
    routes.push(route)
  })
  await app.register(chatServer, {
    dbFile: join(tempDir(t), 'routes.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
  })
  t.teardown(() => app.close())
  await app.ready()
  return { app, routes }
}

/** Statuses that never carry a body (the socket's 101 Switching Protocols). */
const BODILESS = new Set(['101', '204', '304'])

const isErrorBody = (media: MediaType | undefined) => {
  const schema = media?.schema
  return (
    schema?.type === 'object' &&
    ['error', 'code', 'statusCode'].every((field) => schema.properties?.[field] && schema.required?.includes(field))
  )
}

t.test('the generated document is valid OpenAPI 3.1', async (t) => {
  const app = await build(t)
  const doc = await documentOf(app)
  const validator = new Validator()
  const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>)
  t.same(result.errors, undefined, 'the validator finds no error')
  t.equal(result.valid, true, '/docs/json is a valid OpenAPI document')
  t.equal(validator.version, '3.1', 'of version 3.1')

  // The validator does refuse a broken document: one response without its required description.
  const broken = structuredClone(doc)
  const login = broken.paths['/v1/users/login']?.post?.responses?.['200']
  t.ok(login, 'the login route documents its 200')
  delete login?.description
  const refused = await new Validator().validate(broken as unknown as Record<string, unknown>)
  t.equal(refused.valid, false, 'a document with a response missing its description is refused')

  const ui = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(ui.statusCode, 200, 'Swagger UI answers at /docs')
  t.match(ui.headers['content-type'], /^text\/html/)
  t.match(ui.body, /swagger-ui/, 'with the Swagger UI page')
})

t.test('every route the app registers is documented with summary, tags, operationId and schemas', async (t) => {
  const { app, routes } = await appRecordingRoutes(t)
  const doc = await documentOf(app)
  const tagNames = new Set((doc.tags ?? []).map((tag) => tag.name))
  const served = routes.filter((route) => [route.method].flat().some((method) => method !== 'HEAD'))
  const documentedRoutes = served.filter((route) => !route.schema?.hide)
  t.ok(documentedRoutes.length >= 30, `${documentedRoutes.length} routes to check`)
  // Pages and their files (Swagger UI's) may be left out; no API route may.
  t.same(
    served
      .filter((route) => route.schema?.hide)
      .map((route) => route.url)
      .filter((url) => /^\/(v1|ws|ping|health|metrics)(\/|$)/.test(url)),
    [],
    'no API route is left out of the document',
  )

  const operationIds = new Map<string, string>()
  for (const route of documentedRoutes) {
    const path = route.url.replace(/:(\w+)/g, '{$1}')
    for (const method of [route.method].flat().filter((m) => m !== 'HEAD')) {
      const where = `${method} ${path}`
      const operation = doc.paths[path]?.[method.toLowerCase()]
      if (!operation) {
        t.fail(`${where} is registered but not in the document`)
        continue
      }
      t.ok(operation.summary && operation.summary.length > 3, `${where} has a summary`)
      t.ok(
        operation.tags && operation.tags.length > 0 && operation.tags.every((tag) => tagNames.has(tag)),
        `${where} has tags the document describes`,
      )
      const id = operation.operationId ?? ''
      t.match(id, /^[a-z][A-Za-z]+$/, `${where} has a camelCase operationId (${id})`)
      t.notOk(operationIds.has(id), `${where}: operationId ${id} is unique (also on ${operationIds.get(id)})`)
      operationIds.set(id, where)

      for (const param of route.url.match(/:(\w+)/g) ?? []) {
        const name = param.slice(1)
        t.ok(
          operation.parameters?.some((p) => p.in === 'path' && p.name === name && p.required === true),
          `${where} documents its path parameter ${name}`,
        )
      }
      if (route.schema?.body) {
        t.ok(operation.requestBody?.content?.['application/json']?.schema, `${where} documents its JSON body`)
      }

      const responses = Object.entries(operation.responses ?? {})
      t.ok(
        responses.some(([status]) => Number(status) < 400),
        `${where} documents its success (${responses.map(([status]) => status).join(', ')})`,
      )
      t.ok(
        responses.some(([status]) => status === '500'),
        `${where} documents 500, which any route may answer`,
      )
      for (const [status, response] of responses) {
        const media = Object.values(response.content ?? {})
        t.ok(response.description, `${where} ${status} has a description`)
        if (BODILESS.has(status)) {
          t.equal(media.length, 0, `${where} ${status} has no body`)
          continue
        }
        t.ok(media.length > 0 && media.every((m) => m.schema !== undefined), `${where} ${status} has a schema`)
        // Readiness answers its checks with 503, not an error: the load balancer reads which one is down.
        if (Number(status) >= 400 && !(path === '/health/ready' && status === '503')) {
          t.ok(isErrorBody(response.content?.['application/json']), `${where} ${status} is the error body`)
        }
      }
    }
  }
  t.equal(operationsOf(doc).length, operationIds.size, 'the document lists nothing the app does not serve')
})

t.test('routes that need a token say so, and only those', async (t) => {
  const app = await build(t)
  const doc = await documentOf(app)
  t.match(doc.components?.securitySchemes?.bearerAuth, { type: 'http', scheme: 'bearer' }, 'the bearer scheme')
  for (const [method, path, operation] of operationsOf(doc)) {
    const url = path.replace(/\{[^}]+\}/g, '1')
    const body = ['POST', 'PATCH', 'PUT', 'DELETE'].includes(method) && operation.requestBody ? { payload: {} } : {}
    const res = await app.inject({ method: method as 'GET', url, ...body })
    const refused = res.statusCode === 401 && res.json<ErrorBody>().code === 'MISSING_TOKEN'
    if (path === '/ws') {
      t.ok(refused, 'the socket refuses a request without a token')
      t.ok(
        operation.parameters?.some((p) => p.in === 'query' && p.name === 'token'),
        'and documents the token in the query string, where the socket takes it',
      )
      continue
    }
    const bearer = operation.security?.some((requirement) => 'bearerAuth' in requirement) ?? false
    t.equal(refused, bearer, `${method} ${path}: ${bearer ? 'needs' : 'does not need'} a bearer token`)
  }
})

t.test('the errors any route can answer are real and documented on it', async (t) => {
  const app = await build(t)
  const doc = await documentOf(app)
  const ava = await register(app, 'ava')
  const documented = (path: string, method: string, status: number) =>
    Object.keys(doc.paths[path]?.[method]?.responses ?? {}).includes(String(status))

  const textBody = await app.inject({
    method: 'POST',
    url: '/v1/users/logout',
    headers: { ...ava.auth, 'content-type': 'text/plain' },
    payload: 'bye',
  })
  t.match(textBody.json(), { code: 'UNSUPPORTED_MEDIA_TYPE', statusCode: 415 }, 'a text body to logout is 415')
  t.ok(documented('/v1/users/logout', 'post', 415), 'and logout documents 415')

  const badJson = await app.inject({
    method: 'DELETE',
    url: '/v1/groups/1',
    headers: { ...ava.auth, 'content-type': 'application/json' },
    payload: '{"oops',
  })
  t.match(badJson.json(), { code: 'INVALID_JSON', statusCode: 400 }, 'a broken JSON body on a DELETE is 400')
  t.ok(documented('/v1/groups/{groupID}', 'delete', 400), 'and the route documents 400')

  const huge = await app.inject({
    method: 'DELETE',
    url: '/v1/messages/1',
    headers: ava.auth,
    payload: { blob: 'x'.repeat(70 * 1024) },
  })
  t.match(huge.json(), { code: 'PAYLOAD_TOO_LARGE', statusCode: 413 }, 'a huge body on a DELETE is 413')
  t.ok(documented('/v1/messages/{messageID}', 'delete', 413), 'and the route documents 413')

  const longParam = await app.inject({ method: 'GET', url: `/v1/users/${'9'.repeat(200)}`, headers: ava.auth })
  t.match(longParam.json(), { code: 'PARAM_TOO_LONG', statusCode: 414 }, 'an over-long path parameter is 414')
  t.ok(documented('/v1/users/{userID}', 'get', 414), 'and the route documents 414')
})
