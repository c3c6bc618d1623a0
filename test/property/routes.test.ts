// Property-based test over every REST route in the OpenAPI document: thousands of generated bad requests
// (wrong types, missing and extra fields, huge and odd strings, out-of-range and non-numeric ids, random
// query strings, bad bodies and content types, bad or missing tokens). None may answer 5xx; every non-2xx
// body is exactly {error, code, statusCode}; the seeded data reads back unchanged afterwards.
// Replay a run with FC_SEED=<the seed it printed>.
import fc, { type Arbitrary } from 'fast-check'
import t from 'tap'
import { build } from '../helpers.js'
import {
  anyJson,
  countsOf,
  describeFailure,
  fromPool,
  idPool,
  assertErrorBody,
  assertIntact,
  badTokens,
  badValue,
  fuzzAppOptions,
  noChangesYet,
  objectCase,
  replaySeed,
  runSettings,
  SCALE,
  seedWorld,
  snapshot,
  SEED_PASSWORD,
  trackMessage,
  validValue,
  watchForCrashes,
  type JsonSchema,
  type Pools,
} from './support.js'

/** Generated requests in total across all routes (at least 150 per route). */
const REST_CASES = Math.round(5200 * SCALE)
const MIN_PER_ROUTE = Math.round(150 * SCALE)
/** Batches of requests sent at once, after the routes one by one. */
const BATCHES = 200
/** Bodies go up to this many characters, past the 64 KiB body limit. */
const HUGE_BODY_CHARS = 80_000

interface Param {
  name: string
  schema: JsonSchema
}

interface Operation {
  method: string
  /** OpenAPI template, e.g. `/v1/groups/{groupID}/members`. */
  path: string
  pathParams: Param[]
  queryParams: Param[]
  body: JsonSchema | undefined
  /** The statuses the document lists for it. */
  documented: Set<number>
}

interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string; schema?: JsonSchema }>
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
  responses?: Record<string, unknown>
}

/** Every path and method the OpenAPI document lists, so routes added later are covered without edits here. */
function operationsOf(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): Operation[] {
  const operations: Operation[] = []
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const parameters = operation.parameters ?? []
      const of = (where: string) =>
        parameters.filter((p) => p.in === where).map((p) => ({ name: p.name, schema: p.schema ?? {} }))
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: of('path'),
        queryParams: of('query'),
        body: operation.requestBody?.content?.['application/json']?.schema,
        documented: new Set(Object.keys(operation.responses ?? {}).map(Number)),
      })
    }
  }
  return operations
}

/** The Authorization header: resolved when the case runs, because the valid token may be renewed. */
type AuthChoice =
  { kind: 'valid' } | { kind: 'none' } | { kind: 'raw'; value: string } | { kind: 'template'; template: string }

interface Segment {
  value: string
  /** Put into the URL as it is (when printable ASCII); otherwise percent-encoded. */
  raw: boolean
}

interface Case {
  method: string
  segments: Segment[]
  query: string
  auth: AuthChoice
  body: { payload: string | undefined; contentType: string | undefined }
}

const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) })
const isPrintableAscii = (value: string) => /^[\x21-\x7e]*$/.test(value)
const asText = (value: unknown) => (typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined'))

function segmentFor(param: Param, pools: Pools): Arbitrary<Segment> {
  const value = fc.oneof(
    { weight: 6, arbitrary: fromPool(idPool(param.name, pools)).map(String) },
    { weight: 1, arbitrary: fromPool(pools.ids).map(String) },
    { weight: 2, arbitrary: validValue(param.schema, param.name, pools).map(asText) },
    { weight: 3, arbitrary: badValue(param.schema, 2000).map(asText) },
  )
  const odd = fc.constantFrom(
    '',
    '%',
    '%ZZ',
    '%2F',
    '..',
    '.',
    'x'.repeat(101),
    '1;x',
    '1?x=1',
    '1#f',
    '%00',
    '%C0%AF',
    '1%20',
  )
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.tuple(value, fc.boolean()).map(([v, raw]) => ({ value: v, raw: raw && isPrintableAscii(v) })),
    },
    { weight: 1, arbitrary: odd.map((v) => ({ value: v, raw: true })) },
  )
}

function queryFor(operation: Operation, pools: Pools): Arbitrary<string> {
  const declared = operation.queryParams
  const valueFor = (param: Param) =>
    param.name === 'token'
      ? fc.oneof(fc.constant('TOKEN'), fc.constantFrom(...badTokens(0)), badValue(param.schema, 5000).map(asText))
      : fc.oneof(validValue(param.schema, param.name, pools).map(asText), badValue(param.schema, 2000).map(asText))
  const pair: Arbitrary<[string, string]> =
    declared.length === 0
      ? fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }))
      : fc.oneof(
          {
            weight: 4,
            arbitrary: fc.constantFrom(...declared).chain((p) => valueFor(p).map((v): [string, string] => [p.name, v])),
          },
          { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 })) },
        )
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant('') },
    {
      // Repeated keys too: `?limit=1&limit=2` arrives as an array.
      weight: 6,
      arbitrary: fc.array(pair, { maxLength: 5 }).map((pairs) => new URLSearchParams(pairs).toString()),
    },
    { weight: 1, arbitrary: printable.map((text) => text.replaceAll('#', '%23')) },
  )
}

function authFor(fuzzId: number): Arbitrary<AuthChoice> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant<AuthChoice>({ kind: 'valid' }) },
    { weight: 1, arbitrary: fc.constant<AuthChoice>({ kind: 'none' }) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...badTokens(fuzzId))
        .map((token): AuthChoice => ({ kind: 'raw', value: `Bearer ${token}` })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          'Bearer',
          'Bearer ',
          'bearer TOKEN',
          'BEARER TOKEN',
          'TOKEN',
          'Bearer TOKEN TOKEN',
          'Bearer  TOKEN',
          'Token TOKEN',
          'Basic TOKEN',
          'Bearer TOKENx',
          'Bearer xTOKEN',
          'Bearer TOKEN,Bearer TOKEN',
          `Bearer ${'a'.repeat(10_000)}`,
        )
        .map((template): AuthChoice => ({ kind: 'template', template })),
    },
    { weight: 1, arbitrary: printable.map((value): AuthChoice => ({ kind: 'raw', value })) },
  )
}

const GARBAGE_BODIES = [
  '{',
  '{"a":',
  '[1,2',
  '{"content": "x",}',
  "{'content': 'x'}",
  'NaN',
  'undefined',
  '{"__proto__": {"admin": true}, "content": "x", "name": "x"}',
  '{"constructor": {"prototype": {"admin": true}}, "content": "x"}',
  '\uFEFF{"content":"x"}',
  '{"content":"x"}{"content":"y"}',
  '{"content":"\\ud800"}',
  '{"content":"\\u0000"}',
  '{"content": 1e999}',
  '\u0000',
  '',
]

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/json; charset=utf-16',
  'application/json;charset=latin1',
  'APPLICATION/JSON',
  'application/jsonp',
  'application/vnd.api+json',
  '*/*',
  'application/json, text/plain',
  'application/octet-stream',
]

function bodyFor(operation: Operation, pools: Pools): Arbitrary<Case['body']> {
  const json = (arbitrary: Arbitrary<unknown>) =>
    arbitrary.map((value) => ({ payload: JSON.stringify(value), contentType: 'application/json' }))
  const garbage = fc
    .oneof(fc.constantFrom(...GARBAGE_BODIES), fc.string({ maxLength: 40 }))
    .map((payload) => ({ payload, contentType: 'application/json' }))
  const wrongType = fc
    .tuple(anyJson(1000), fc.constantFrom(...CONTENT_TYPES))
    .map(([value, contentType]) => ({ payload: JSON.stringify(value), contentType }))
  const none = fc.constant({ payload: undefined, contentType: undefined })
  if (!operation.body) {
    return fc.oneof(
      { weight: 8, arbitrary: none },
      { weight: 1, arbitrary: json(anyJson(HUGE_BODY_CHARS)) },
      { weight: 1, arbitrary: garbage },
    )
  }
  return fc.oneof(
    { weight: 14, arbitrary: json(objectCase(operation.body, pools, HUGE_BODY_CHARS)) },
    { weight: 1, arbitrary: none },
    { weight: 1, arbitrary: garbage },
    { weight: 1, arbitrary: wrongType },
  )
}

function parseObject(payload: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(payload ?? '')
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function caseFor(operation: Operation, pools: Pools, fuzzId: number): Arbitrary<Case> {
  return fc.record({
    method: fc.oneof(
      { weight: 20, arbitrary: fc.constant(operation.method) },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') },
    ),
    segments: fc.tuple(...operation.pathParams.map((param) => segmentFor(param, pools))),
    query: queryFor(operation, pools),
    auth: authFor(fuzzId),
    body: bodyFor(operation, pools),
  })
}

/** Percent-encodes the UTF-8 bytes of `value` (lone surrogates too, which encodeURIComponent refuses). */
function percentEncode(value: string): string {
  let encoded = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte)
    encoded += /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return encoded
}

function decoded(segment: Segment): number {
  try {
    return Number(decodeURIComponent(segment.value))
  } catch {
    return Number.NaN
  }
}

/** The URL, with `TOKEN` in the query replaced by the current valid token. */
function urlOf(operation: Operation, generated: Case, token: string): string {
  let index = 0
  const path = operation.path.replace(/\{[^}]+\}/g, () => {
    const segment = generated.segments[index++]
    if (!segment) return ''
    return segment.raw ? segment.value : percentEncode(segment.value)
  })
  return generated.query === '' ? path : `${path}?${generated.query.replaceAll('TOKEN', token)}`
}

t.test('no generated request to any route gets a 5xx or a malformed error, and seeded data survives', async (t) => {
  const { crashes } = watchForCrashes(t)
  const app = await build(t, fuzzAppOptions)
  const world = await seedWorld(app)
  const before = await snapshot(app, world)
  const allowed = noChangesYet()

  const doc = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(doc.statusCode, 200, 'the OpenAPI document is served')
  // Reads first, then writes, deletes last: what one route creates, the next can use before it is gone.
  const METHOD_ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
  const operations = operationsOf(doc.json()).sort(
    (a, b) => METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method) || a.path.localeCompare(b.path),
  )
  t.ok(operations.length >= 25, `the OpenAPI document lists ${operations.length} operations`)

  let token = world.fuzz.token
  let password = SEED_PASSWORD
  let renewals = 0
  let passwordChanges = 0
  let cases = 0
  const statuses = new Map<number, number>()
  const authorization = (auth: AuthChoice): string | undefined => {
    if (auth.kind === 'valid') return `Bearer ${token}`
    if (auth.kind === 'none') return undefined
    if (auth.kind === 'raw') return auth.value
    return auth.template.replaceAll('TOKEN', token)
  }
  // A generated request may legitimately revoke the token (a logout, say): log in again and go on.
  async function renewTokenIfRevoked() {
    const me = await app.inject({ method: 'GET', url: '/v1/users/me', headers: { authorization: `Bearer ${token}` } })
    if (me.statusCode !== 401) return
    const login = await app.inject({
      method: 'POST',
      url: '/v1/users/login',
      payload: { email: world.fuzzEmail, password },
    })
    if (login.statusCode !== 200)
      throw new Error(`the fuzz account cannot log in again: ${login.statusCode} ${login.body}`)
    token = login.json<{ token: string }>().token
    renewals += 1
  }

  // What 2xx answers created or changed, so later cases can use it: new groups, users, the fuzz password.
  function learn(method: string, path: string, payload: string | undefined, body: unknown) {
    if (typeof body !== 'object' || body === null) return
    const sent = parseObject(payload)
    const answer = body as Record<string, unknown>
    if (method === 'POST' && path === '/v1/groups' && typeof answer.id === 'number') {
      world.pools.groupIds.push(answer.id)
      world.pools.ids.push(answer.id)
    }
    const user = answer.user as Record<string, unknown> | undefined
    if (method === 'POST' && path === '/v1/users/register' && typeof user?.id === 'number') {
      world.pools.userIds.push(user.id)
      world.pools.ids.push(user.id)
      if (typeof sent.email === 'string') world.pools.emails.push(sent.email)
      if (typeof sent.password === 'string') world.pools.passwords.push(sent.password)
    }
    if (method === 'PATCH' && path === '/v1/users/me' && typeof sent.password === 'string') {
      password = sent.password
      world.pools.passwords.push(sent.password)
      passwordChanges += 1
    }
  }

  const routeStatuses = new Map<number, number>()
  /** `METHOD path status` answers that the document does not list for the route that gave them. */
  const undocumented = new Map<string, string>()
  /** Sends one generated request and checks the answer; throws on a 5xx, a malformed error or a crash. */
  async function runCase(operation: Operation, generated: Case): Promise<void> {
    const crashesBefore = crashes.length
    const url = urlOf(operation, generated, token)
    const headers: Record<string, string> = {}
    const auth = authorization(generated.auth)
    if (auth !== undefined) headers.authorization = auth
    if (generated.body.contentType !== undefined) headers['content-type'] = generated.body.contentType
    const res = await app.inject({
      method: generated.method as 'GET',
      url,
      headers,
      ...(generated.body.payload === undefined ? {} : { payload: generated.body.payload }),
    })
    cases += 1
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    routeStatuses.set(res.statusCode, (routeStatuses.get(res.statusCode) ?? 0) + 1)
    const context = `${generated.method} ${url.slice(0, 300)} (auth ${String(auth).slice(0, 60)}, body ${String(generated.body.payload).slice(0, 300)})`
    if (res.statusCode >= 500) throw new Error(`${context} answered ${res.statusCode}: ${res.body}`)
    if (crashes.length > crashesBefore) {
      throw new Error(`${context}: the server would have crashed: ${crashes.slice(crashesBefore).join('; ')}`)
    }
    const ok = res.statusCode >= 200 && res.statusCode < 300
    if (!ok && generated.method !== 'HEAD') assertErrorBody(res.statusCode, res.body, context)
    // A path that reached no route (an odd segment) is the router's 404, not the route's.
    const routerNotFound = res.statusCode === 404 && res.body.includes('"ROUTE_NOT_FOUND"')
    // A raw segment such as `1?x=1` or `..` can lead to another route, with answers of its own.
    const otherRoute = generated.segments.some(({ value, raw }) => raw && /^\.{0,2}$|[?#/]/.test(value))
    const ownAnswer = generated.method === operation.method && !routerNotFound && !otherRoute
    if (ownAnswer && !operation.documented.has(res.statusCode)) {
      undocumented.set(`${operation.method} ${operation.path} ${res.statusCode}`, context)
    }
    if (res.statusCode === 429 && res.headers['retry-after'] === undefined) {
      throw new Error(`${context} answered 429 without Retry-After`)
    }
    if (ok && res.body !== '' && String(res.headers['content-type']).startsWith('application/json')) {
      const body: unknown = JSON.parse(res.body)
      trackMessage(allowed, world.pools, body)
      learn(generated.method, operation.path, generated.body.payload, body)
      const params = generated.segments.map(decoded)
      if (operation.path.includes('/reactions') && params[0] !== undefined) allowed.reacted.add(params[0])
      if (
        generated.method === 'DELETE' &&
        operation.path === '/v1/groups/{groupID}/members/{userID}' &&
        params[0] === world.seedGroup
      ) {
        allowed.fuzzLeft = true
      }
    }
    // A logout (or anything else that revokes the token) answers 2xx; a 401 may follow one.
    if ((ok && generated.method !== 'GET') || (generated.auth.kind === 'valid' && res.statusCode === 401)) {
      await renewTokenIfRevoked()
    }
  }

  const perRoute = Math.max(MIN_PER_ROUTE, Math.ceil(REST_CASES / operations.length))
  for (const operation of operations) {
    const label = `${operation.method} ${operation.path}`
    const property = fc.asyncProperty(caseFor(operation, world.pools, world.fuzz.id), (generated) =>
      runCase(operation, generated),
    )
    routeStatuses.clear()
    const started = Date.now()
    try {
      await fc.assert(property, runSettings(perRoute, label))
      t.pass(
        `${label}: ${perRoute} generated requests in ${Date.now() - started} ms, statuses ${countsOf(routeStatuses)}`,
      )
    } catch (error) {
      t.fail(`${label}: ${describeFailure(error)}`)
    }
  }

  // Races: batches of generated requests to any routes sent at once, and one request sent several times at
  // once (a retried send with the same client_msg_id, a double logout): still no 5xx, malformed error or crash.
  const anyCase = fc
    .constantFrom(...operations)
    .chain((operation) => caseFor(operation, world.pools, world.fuzz.id).map((generated) => ({ operation, generated })))
  const batches = fc.oneof(
    fc.array(anyCase, { minLength: 2, maxLength: 8 }),
    fc.tuple(anyCase, fc.integer({ min: 2, max: 6 })).map(([one, times]) => Array.from({ length: times }, () => one)),
  )
  const batchRuns = Math.round(BATCHES * SCALE)
  const casesBeforeBatches = cases
  routeStatuses.clear()
  const batchesStarted = Date.now()
  try {
    await fc.assert(
      fc.asyncProperty(batches, async (batch) => {
        await Promise.all(batch.map(({ operation, generated }) => runCase(operation, generated)))
      }),
      runSettings(batchRuns, 'concurrent batches'),
    )
    t.pass(
      `${batchRuns} concurrent batches (${cases - casesBeforeBatches} requests) in ${Date.now() - batchesStarted} ms, ` +
        `statuses ${countsOf(routeStatuses)}`,
    )
  } catch (error) {
    t.fail(`concurrent batches: ${describeFailure(error)}`)
  }

  t.same(crashes, [], 'no unhandled rejection or uncaught exception')
  t.same(
    [...undocumented].map(([answer, example]) => `${answer}, e.g. ${example}`),
    [],
    'every status a route answered is one the OpenAPI document lists for it',
  )
  const ping = await app.inject({ method: 'GET', url: '/ping' })
  t.equal(ping.statusCode, 200, 'the server still answers')
  const { added } = await assertIntact(t, app, world, before, allowed)
  for (const user of [world.ava, world.mike, world.zoe, world.eve]) {
    const login = await app.inject({
      method: 'POST',
      url: '/v1/users/login',
      payload: { email: `${user.username}@example.com`, password: SEED_PASSWORD },
    })
    t.equal(login.statusCode, 200, `${user.username} still logs in with the seeded password`)
  }

  const fiveHundreds = [...statuses.entries()].reduce((sum, [status, n]) => sum + (status >= 500 ? n : 0), 0)
  console.log(
    `property/routes: ${cases} generated requests over ${operations.length} routes (${perRoute} each, then ` +
      `${cases - casesBeforeBatches} in ${batchRuns} concurrent batches, ` +
      `FC_SEED=${replaySeed()}); statuses ${countsOf(statuses)}; 5xx: ${fiveHundreds}; ` +
      `${allowed.posted.size} messages legitimately posted (${added} in the seed group); ` +
      `token renewals: ${renewals}; fuzz password changes: ${passwordChanges}`,
  )
})

// Inputs the property above found answering 500 INTERNAL_ERROR on PostgreSQL (TEST_DATABASE=postgres): a NUL
// character (U+0000) in any string that reaches a text column or parameter, which PostgreSQL refuses
// ("invalid byte sequence for encoding UTF8: 0x00"); SQLite stores it. First found by
//   FC_SEED=920238916: POST /v1/messages/p2p/{recipientID}, fast-check seed -1389092286, path "44:0:1",
//     counterexample POST /v1/messages/p2p/1 {"content":"\u0000"} → 500;
//   POST /v1/users/login, seed 523839304, path "172:0",
//     counterexample {"email":"image\u0000","password":"correct horse battery"} (no token) → 500.
// A longer run (FC_SCALE=4) found the rest listed here. Kept as fixed cases so they stay covered.
t.test('strings with a NUL character never answer 5xx', async (t) => {
  const app = await build(t, fuzzAppOptions)
  const world = await seedWorld(app)
  const own = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${world.seedGroup}`,
    headers: world.fuzz.auth,
    payload: { content: 'mine' },
  })
  const mine = own.json<{ id: number }>().id
  const cases: Array<{
    method: 'GET' | 'POST' | 'PATCH'
    url: string
    payload?: Record<string, string>
    anonymous?: true
  }> = [
    { method: 'POST', url: '/v1/users/login', payload: { email: '\u0000', password: 'x' }, anonymous: true },
    {
      method: 'POST',
      url: '/v1/users/login',
      payload: { email: 'image\u0000', password: SEED_PASSWORD },
      anonymous: true,
    },
    { method: 'GET', url: '/v1/users?q=%00' },
    { method: 'GET', url: '/v1/users/with-chat-info?q=a%00' },
    { method: 'POST', url: '/v1/groups', payload: { name: 'a\u0000' } },
    { method: 'PATCH', url: `/v1/groups/${world.fuzzGroup}`, payload: { name: 'a\u0000' } },
    { method: 'POST', url: `/v1/messages/group/${world.seedGroup}`, payload: { content: '\u0000' } },
    {
      method: 'POST',
      url: `/v1/messages/group/${world.seedGroup}`,
      payload: { content: 'x', client_msg_id: '\u0000' },
    },
    { method: 'POST', url: `/v1/messages/p2p/${world.ava.id}`, payload: { content: '\u0000' } },
    { method: 'PATCH', url: `/v1/messages/${mine}`, payload: { content: '\u0000' } },
  ]
  for (const { method, url, payload, anonymous } of cases) {
    const res = await app.inject({
      method,
      url,
      headers: anonymous ? {} : world.fuzz.auth,
      ...(payload === undefined ? {} : { payload }),
    })
    const context = `${method} ${url} ${JSON.stringify(payload ?? null)}`
    t.ok(res.statusCode < 500, `${context} → ${res.statusCode} ${res.statusCode >= 500 ? res.body : ''}`)
    if (res.statusCode >= 300) t.doesNotThrow(() => assertErrorBody(res.statusCode, res.body, context), 'error body')
  }
})
