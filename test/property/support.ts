// Shared pieces of the property-based tests: arbitraries driven by JSON Schema (the OpenAPI document's
// request schemas and the socket's frame schemas), a seeded world to attack, and the snapshot that proves
// the seeded data came through unchanged.
import { createHmac } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import fc, { type Arbitrary } from 'fast-check'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { BuildAppOptions } from '../../src/app.js'
import { createGroup, register, TEST_SECRET, type Account } from '../helpers.js'

/** The parts of JSON Schema that our route and frame schemas use. */
export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  items?: JsonSchema
}

/** What the generators draw real values from, so generated input also reaches the handlers' own checks. */
export interface Pools {
  /** Ids that exist: users, groups, messages. The id pools grow as generated input creates things. */
  ids: number[]
  userIds: number[]
  groupIds: number[]
  messageIds: number[]
  /** Emails, usernames and passwords that exist, for logins and conflicts. */
  emails: string[]
  usernames: string[]
  passwords: string[]
}

/** The pool of real ids a field or parameter is named for: groupID draws group ids, and so on. */
export function idPool(name: string, pools: Pools): number[] {
  if (/group/i.test(name)) return pools.groupIds
  if (/user|recipient|member/i.test(name)) return pools.userIds
  if (/message|reply|since/i.test(name)) return pools.messageIds
  return pools.ids
}

/**
 * An element of a pool that may grow during the run (read when the value is generated), half the time one
 * of its first three (the seeded users, groups and messages), so the seeded data is attacked most.
 */
export function fromPool<T>(pool: T[]): Arbitrary<T> {
  const at = (index: number) => pool[index % pool.length] as T
  return fc.oneof(fc.nat({ max: 2 }).map(at), fc.nat().map(at))
}

/**
 * Options for an app under generated load: cheap password hashing (thousands of register/login cases)
 * and rate limits raised far out of reach, so cases exercise validation and handlers, not 429 (the
 * rate-limit plugin still runs on every request).
 */
export const fuzzAppOptions: BuildAppOptions = {
  passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
  rateLimits: {
    register: { max: 1_000_000 },
    login: { max: 1_000_000 },
    loginEmail: { max: 1_000_000 },
    send: { max: 1_000_000 },
  },
}

/** `FC_SCALE=10` runs ten times the cases, for a longer hunt. */
export const SCALE = Math.max(0.01, Number(process.env.FC_SCALE ?? 1) || 1)

/** fast-check settings: a fixed seed from `FC_SEED` reproduces a run; every run prints its seed. */
export function runSettings(numRuns: number, label: string): { numRuns: number; seed: number } {
  const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : baseSeed
  return { numRuns, seed: (seed + hashOf(label)) | 0 }
}
const baseSeed = Date.now() ^ (Math.random() * 0x7fffffff)
const hashOf = (text: string) => [...text].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)
/** The seed `FC_SEED` should be set to for replaying this run. */
export const replaySeed = () => (process.env.FC_SEED ? Number(process.env.FC_SEED) : baseSeed)

// ---------------------------------------------------------------------------------------------- values

const NASTY_STRINGS = [
  '',
  ' ',
  '   ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF\uD800',
  '\uFEFF',
  '\u202Eevil',
  'e\u0301'.repeat(40),
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  'Ｚａｌｇｏ̸̡̛̰̈́',
  '\r\n',
  '\t',
  "'; DROP TABLE messages; --",
  '" OR 1=1 --',
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '../../etc/passwd',
  '%00',
  '%',
  'null',
  'undefined',
  'true',
  'NaN',
  '-1',
  '0',
  '1e3',
  '0x10',
  ' 1',
  '1 ',
  '١٢',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
]

const NASTY_NUMBERS = [
  0,
  -1,
  -0.5,
  0.5,
  1.5,
  -2_147_483_649,
  2_147_483_648,
  4_294_967_296,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  2 ** 64,
  1e21,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MAX_SAFE_INTEGER,
]

/** One character or short sequence repeated into a string of 1,000 to `maxChars` characters. */
function hugeString(maxChars: number): Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom('a', 'é', '😀', '\u0000', '\uD800', ' ', 'ab\n', '👨‍👩‍👧'),
      fc.integer({ min: 1000, max: maxChars }),
    )
    .map(([unit, length]) => unit.repeat(Math.max(1, Math.floor(length / unit.length))))
}

/** Strings of every kind: short random ones in every unit, the nasty list, and occasionally huge ones. */
export function anyString(maxHugeChars: number): Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 3, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 20, unit: 'grapheme' }) },
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 1, arbitrary: hugeString(maxHugeChars) },
  )
}

/** A JSON value small enough to send, with nasty strings among the leaves. */
export function anyJson(maxHugeChars: number): Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 2, arbitrary: anyString(maxHugeChars) },
    { weight: 2, arbitrary: fc.constantFrom<unknown>(...NASTY_NUMBERS, null, true, false, [], {}) },
    { weight: 1, arbitrary: deepNesting() },
  )
}

/** Arrays or objects nested a few thousand levels deep. */
function deepNesting(): Arbitrary<unknown> {
  return fc.tuple(fc.integer({ min: 50, max: 3000 }), fc.boolean()).map(([depth, asObject]) => {
    let value: unknown = 1
    for (let i = 0; i < depth; i += 1) value = asObject ? { a: value } : [value]
    return value
  })
}

const isIdName = (name: string) => /(_id|ID|Id)$/.test(name) || name === 'since' || name === 'id'

const branches = (schema: JsonSchema) => schema.anyOf ?? schema.oneOf ?? schema.allOf

const typeOf = (schema: JsonSchema): string | undefined =>
  Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type

/** A value the schema accepts (or nearly: patterns and formats are followed where fast-check can). */
export function validValue(schema: JsonSchema, name: string, pools: Pools): Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  const options = branches(schema)
  if (options && options.length > 0) return fc.oneof(...options.map((option) => validValue(option, name, pools)))
  switch (typeOf(schema)) {
    case 'integer':
    case 'number': {
      const min = Math.max(schema.minimum ?? -1_000_000, -1_000_000)
      const max = Math.min(schema.maximum ?? 1_000_000, 1_000_000)
      const inRange = fc.integer({ min: Math.min(min, max), max })
      if (!isIdName(name) || pools.ids.length === 0) return inRange
      return fc.oneof(
        { weight: 6, arbitrary: fromPool(idPool(name, pools)) },
        { weight: 1, arbitrary: fromPool(pools.ids) },
        { weight: 1, arbitrary: inRange },
      )
    }
    case 'string':
      return validString(schema, name, pools)
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(validValue(schema.items ?? {}, name, pools), { maxLength: 3 })
    case 'object':
      return validObject(schema, pools)
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

function validString(schema: JsonSchema, name: string, pools: Pools): Arbitrary<string> {
  const minLength = schema.minLength ?? 0
  const maxLength = Math.min(schema.maxLength ?? 64, 64)
  const fits = (value: string) => value.length >= minLength && value.length <= (schema.maxLength ?? Infinity)
  const plain = fc.string({ minLength, maxLength: Math.max(minLength, maxLength) })
  const choices: Array<Arbitrary<string>> = schema.format ? [] : [plain]
  if (schema.format === 'email') {
    choices.push(fc.emailAddress().filter(fits))
    choices.push(fromPool(pools.emails))
  } else if (name === 'email') {
    choices.push(fromPool(pools.emails))
  } else if (schema.format === 'uri') {
    choices.push(fc.webUrl().filter(fits), fc.constantFrom('https://example.com/a.png', 'ftp://x/y', 'mailto:a@b'))
  } else if (name === 'emoji') {
    choices.push(fc.constantFrom('👍', '❤️', '🎉', ':thumbsup:', 'ok', 'é', '👨‍👩‍👧', 'x'.repeat(32)))
  } else if (name === 'client_msg_id') {
    // A small pool, so retries of the same id (the idempotent path) happen often.
    choices.push(fc.constantFrom('retry-1', 'retry-2', 'retry-3', 'seed-1'))
  } else if (name === 'username') {
    choices.push(fromPool(pools.usernames))
  } else if (/password/.test(name)) {
    choices.push(fromPool(pools.passwords))
  }
  if (schema.pattern) {
    const matching = patternString(schema.pattern)
    if (matching) choices.push(matching.filter(fits))
  }
  return fc.oneof(...choices)
}

function patternString(pattern: string): Arbitrary<string> | undefined {
  try {
    return fc.stringMatching(new RegExp(pattern))
  } catch {
    return undefined
  }
}

/** An object with every required property and a random subset of the optional ones, all valid. */
function validObject(schema: JsonSchema, pools: Pools): Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {}
  const model: Record<string, Arbitrary<unknown>> = {}
  for (const [key, property] of Object.entries(properties)) model[key] = validValue(property, key, pools)
  return fc.record(model, { requiredKeys: (schema.required ?? []).filter((key) => key in model) })
}

/** A value of the wrong type, out of range, too long, too short, or otherwise nasty for this schema. */
export function badValue(schema: JsonSchema, maxHugeChars: number): Arbitrary<unknown> {
  const wrongType = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    fc.double({ noDefaultInfinity: true }),
    fc.integer(),
  )
  const specific: Array<Arbitrary<unknown>> = [anyJson(maxHugeChars)]
  const type = typeOf(schema)
  if (type === 'integer' || type === 'number') {
    const edges = [...NASTY_NUMBERS]
    if (schema.minimum !== undefined) edges.push(schema.minimum - 1, schema.minimum - 0.5)
    if (schema.maximum !== undefined) edges.push(schema.maximum + 1, schema.maximum + 0.5)
    specific.push(
      fc.constantFrom(...edges),
      fc.constantFrom('1', '1e3', '0x10', ' 1', '', '-1', '١', '1.0', '01'),
      fc.double(),
    )
  } else if (type === 'string' || schema.enum || 'const' in schema || branches(schema)) {
    specific.push(anyString(maxHugeChars))
    if (schema.maxLength !== undefined) {
      const tooLong = schema.maxLength + 1
      specific.push(fc.constantFrom('x'.repeat(tooLong), '😀'.repeat(tooLong), 'é'.repeat(tooLong)))
    }
    if ((schema.minLength ?? 0) > 0) specific.push(fc.constant('x'.repeat((schema.minLength ?? 1) - 1)))
    specific.push(fc.constantFrom('TEXT', 'Text ', 'image\u0000', 'owner ', 'ADMIN', 'start ', 'STOP', 'stop\n'))
  }
  return fc.oneof({ weight: 1, arbitrary: wrongType }, { weight: 2, arbitrary: fc.oneof(...specific) })
}

const pick = (properties: Record<string, JsonSchema>, keys: string[]) =>
  Object.fromEntries(Object.entries(properties).filter(([key]) => keys.includes(key)))

/** Extra property names that a careless server might treat specially. */
const EXTRA_KEYS = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'id',
    'sender_id',
    'user_id',
    'role',
    'owner_id',
    'is_admin',
  ),
  fc.string({ maxLength: 10 }),
)

/**
 * Objects against a schema, mostly broken: a valid one, one with a field of the wrong kind, one missing a
 * required field, one with extra fields (some of them named like privileged ones).
 */
export function objectCase(schema: JsonSchema, pools: Pools, maxHugeChars: number): Arbitrary<unknown> {
  const properties = Object.keys(schema.properties ?? {})
  const valid = validObject(schema, pools)
  const onlyRequired = validObject(
    { ...schema, properties: pick(schema.properties ?? {}, schema.required ?? []) },
    pools,
  )
  const cases: Array<fc.WeightedArbitrary<unknown>> = [
    { weight: 3, arbitrary: valid },
    { weight: 2, arbitrary: onlyRequired },
  ]
  if (properties.length > 0) {
    const wrongField = fc
      .tuple(valid, fc.constantFrom(...properties))
      .chain(([object, key]) =>
        badValue(schema.properties?.[key] ?? {}, maxHugeChars).map((bad) => ({ ...object, [key]: bad })),
      )
    cases.push({ weight: 5, arbitrary: wrongField })
  }
  const required = (schema.required ?? []).filter((key) => properties.includes(key))
  if (required.length > 0) {
    const missing = fc.tuple(valid, fc.subarray(required, { minLength: 1 })).map(([object, drop]) => {
      const copy = { ...object }
      for (const key of drop) delete copy[key]
      return copy
    })
    cases.push({ weight: 2, arbitrary: missing })
  }
  const extra = fc
    .tuple(valid, fc.array(fc.tuple(EXTRA_KEYS, fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 4 }))
    .map(([object, pairs]) => {
      const copy: Record<string, unknown> = { ...object }
      // defineProperty, so that "__proto__" becomes an own key that JSON.stringify sends.
      for (const [key, value] of pairs) Object.defineProperty(copy, key, { value, enumerable: true, writable: true })
      return copy
    })
  cases.push({ weight: 2, arbitrary: extra })
  cases.push({ weight: 1, arbitrary: anyJson(maxHugeChars) })
  return fc.oneof(...cases)
}

// ------------------------------------------------------------------------------------------- responses

export const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/

/** Throws unless `text` is exactly `{error: string, code: UPPER_SNAKE, statusCode}` for this status. */
export function assertErrorBody(status: number, text: string, context: string): void {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new Error(`${context}: ${status} body is not JSON: ${text.slice(0, 300)}`)
  }
  const fail = (why: string) => {
    throw new Error(`${context}: ${status} body ${why}: ${text.slice(0, 500)}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('is not an object')
  const record = body as Record<string, unknown>
  const keys = Object.keys(record).sort()
  if (!isDeepStrictEqual(keys, ['code', 'error', 'statusCode'])) fail('does not have exactly error, code, statusCode')
  if (typeof record.error !== 'string' || record.error.length === 0) fail('has no error sentence')
  if (/\n\s+at /.test(String(record.error))) fail('carries a stack trace')
  if (typeof record.code !== 'string' || !UPPER_SNAKE.test(record.code)) fail('has no UPPER_SNAKE code')
  if (record.statusCode !== status) fail('has a statusCode other than the status')
}

// ------------------------------------------------------------------------------------------------ tokens

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
function sign(header: Record<string, unknown>, payload: Record<string, unknown>, secret = TEST_SECRET): string {
  const unsigned = `${base64url(header)}.${base64url(payload)}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}

/** Tokens that must all be refused: forged, expired, wrong algorithm, unknown or odd subjects. */
export function badTokens(userId: number): string[] {
  const now = Math.floor(Date.now() / 1000)
  const hs256 = { alg: 'HS256', typ: 'JWT' }
  const claims = { sub: String(userId), username: 'x', jti: 'forged' }
  return [
    sign(hs256, { ...claims, iat: now - 120, exp: now - 60 }),
    sign(hs256, { ...claims, iat: now }, 'another-secret-of-enough-length-0123456789'),
    `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claims, iat: now })}.`,
    sign({ alg: 'HS512', typ: 'JWT' }, { ...claims, iat: now }),
    sign(hs256, { ...claims, sub: '999999999', iat: now }),
    sign(hs256, { ...claims, sub: '-1', iat: now }),
    sign(hs256, { ...claims, sub: 'abc', iat: now }),
    sign(hs256, { ...claims, sub: 1.5, iat: now }),
    sign(hs256, { ...claims, sub: { id: userId }, iat: now }),
    sign(hs256, { iat: now }),
    sign(hs256, { ...claims, iat: now, nbf: now + 3600 }),
    sign(hs256, { ...claims, iat: now, exp: 'never' }),
    'a.b.c',
    '...',
    'x'.repeat(5000),
  ]
}

// ------------------------------------------------------------------------------------------------ world

export interface World {
  ava: Account
  mike: Account
  zoe: Account
  eve: Account
  /** The account generated input is sent as: a plain member of `seedGroup`, outsider to `privateGroup`. */
  fuzz: Account
  fuzzEmail: string
  /** Owner ava, admin mike, members zoe and fuzz; messages, a reply, an edit, a tombstone, a reaction. */
  seedGroup: number
  /** Owner mike, members eve and ava; fuzz is not in it. */
  privateGroup: number
  /** Owned by fuzz with eve as a member: generated input may do anything to it. */
  fuzzGroup: number
  pools: Pools
}

export const SEED_PASSWORD = 'correct horse battery'

async function call(
  app: FastifyInstance,
  account: Account,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
): Promise<Record<string, unknown>> {
  const res = await app.inject({
    method,
    url,
    headers: account.auth,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  })
  if (res.statusCode >= 300) throw new Error(`${method} ${url} failed: ${res.statusCode} ${res.body}`)
  return res.body === '' ? {} : res.json<Record<string, unknown>>()
}

/** Seeds users, three groups, group messages (reply, media, edit, tombstone, reaction) and a direct conversation. */
export async function seedWorld(app: FastifyInstance): Promise<World> {
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const eve = await register(app, 'eve')
  const fuzz = await register(app, 'fuzz')
  const seedGroup = await createGroup(app, ava, [mike, zoe, fuzz], 'General')
  await call(app, ava, 'PATCH', `/v1/groups/${seedGroup}/members/${mike.id}`, { role: 'admin' })
  const privateGroup = await createGroup(app, mike, [eve, ava], 'Private')
  const fuzzGroup = await createGroup(app, fuzz, [eve], 'Playground')

  const post = (account: Account, url: string, payload: Record<string, unknown>) =>
    call(app, account, 'POST', url, payload).then((message) => Number(message.id))
  const inSeed = `/v1/messages/group/${seedGroup}`
  const hello = await post(ava, inSeed, { content: 'hello everyone' })
  const ids = [hello]
  ids.push(await post(mike, inSeed, { content: 'hi ava', reply_to_id: hello }))
  ids.push(await post(zoe, inSeed, { content: 'a picture', type: 'image', media_url: 'https://example.com/a.png' }))
  ids.push(await post(ava, inSeed, { content: 'sent once', client_msg_id: 'seed-1' }))
  const edited = await post(mike, inSeed, { content: 'typo heer' })
  await call(app, mike, 'PATCH', `/v1/messages/${edited}`, { content: 'typo here' })
  const removed = await post(zoe, inSeed, { content: 'oops' })
  await call(app, ava, 'DELETE', `/v1/messages/${removed}`)
  await call(app, mike, 'POST', `/v1/messages/${hello}/reactions`, { emoji: '👍' })
  ids.push(edited, removed)
  for (const content of ['private one', 'private two', 'private three']) {
    ids.push(await post(mike, `/v1/messages/group/${privateGroup}`, { content }))
  }
  ids.push(await post(ava, `/v1/messages/p2p/${mike.id}`, { content: 'psst mike' }))
  ids.push(await post(mike, `/v1/messages/p2p/${ava.id}`, { content: 'psst ava' }))
  ids.push(await post(fuzz, `/v1/messages/group/${fuzzGroup}`, { content: 'my own group' }))

  const users = [ava, mike, zoe, eve, fuzz]
  return {
    ava,
    mike,
    zoe,
    eve,
    fuzz,
    fuzzEmail: `${fuzz.username}@example.com`,
    seedGroup,
    privateGroup,
    fuzzGroup,
    pools: {
      ids: [...new Set([...ids, ...users.map((u) => u.id), seedGroup, privateGroup, fuzzGroup])],
      userIds: users.map((u) => u.id),
      groupIds: [seedGroup, privateGroup, fuzzGroup],
      messageIds: ids,
      emails: users.map((u) => `${u.username}@example.com`),
      usernames: users.map((u) => u.username),
      passwords: [SEED_PASSWORD],
    },
  }
}

interface HistoryPage {
  messages: Array<Record<string, unknown> & { id: number }>
  has_more: boolean
  next_before_id: number | null
}

/** Every message of a conversation, oldest first, paged backwards through the API. */
async function fullHistory(app: FastifyInstance, account: Account, url: string) {
  const messages: HistoryPage['messages'] = []
  let before: number | null = null
  for (;;) {
    const page = (await call(
      app,
      account,
      'GET',
      `${url}?limit=100${before ? `&before_id=${before}` : ''}`,
    )) as unknown as HistoryPage
    messages.push(...page.messages)
    if (!page.has_more || page.next_before_id === null) break
    before = page.next_before_id
  }
  return messages.sort((a, b) => a.id - b.id)
}

/** What the seeded data reads back as through the API. */
export async function snapshot(app: FastifyInstance, world: World) {
  const { ava, mike, zoe, eve } = world
  const seedMembers = await call(app, ava, 'GET', `/v1/groups/${world.seedGroup}/members`)
  // The fuzz account may rename itself; its entry is compared without the name.
  const details = (seedMembers.member_details as Array<Record<string, unknown>>).map((member) =>
    member.user_id === world.fuzz.id ? { ...member, username: '<fuzz>' } : member,
  )
  const avaGroups = (await call(app, ava, 'GET', '/v1/groups')).groups as Array<{ id: number }>
  return {
    users: await Promise.all([ava, mike, zoe, eve].map((user) => call(app, ava, 'GET', `/v1/users/${user.id}`))),
    seedMembers: { ...seedMembers, member_details: details } as Record<string, unknown>,
    seedHistory: await fullHistory(app, ava, `/v1/groups/${world.seedGroup}/messages`),
    privateMembers: await call(app, mike, 'GET', `/v1/groups/${world.privateGroup}/members`),
    privateHistory: await fullHistory(app, mike, `/v1/groups/${world.privateGroup}/messages`),
    directHistory: await fullHistory(app, ava, `/v1/messages/history/${mike.id}`),
    avaGroups: (avaGroups as Array<{ id: number; member_count?: number }>).filter(
      (group) => group.id === world.seedGroup || group.id === world.privateGroup,
    ),
  }
}
export type Snapshot = Awaited<ReturnType<typeof snapshot>>

/** Changes that generated input made legitimately (answered 2xx), which the comparison allows. */
export interface Allowed {
  /** Ids of messages stored by a 2xx answer or an `ack`. */
  posted: Set<number>
  /** The group each acknowledged group message went to. */
  postedTo: Map<number, number>
  /** Messages whose reactions a 2xx answer changed. */
  reacted: Set<number>
  /** A 2xx answer let the fuzz account leave the seed group. */
  fuzzLeft: boolean
}

type Tap = Pick<Test, 'same' | 'ok' | 'equal'>

/**
 * Asserts that the seeded data reads back unchanged, except for what `allowed` explains: new messages
 * from the fuzz account that were acknowledged (each of which must be there), reactions it added, and
 * its own leaving.
 */
export async function assertIntact(t: Tap, app: FastifyInstance, world: World, before: Snapshot, allowed: Allowed) {
  const after = await snapshot(app, world)
  t.same(after.users, before.users, 'seeded users read back unchanged')
  t.same(after.privateMembers, before.privateMembers, 'the group fuzz is not in has the same members')
  t.same(after.privateHistory, before.privateHistory, 'the group fuzz is not in has the same history')
  t.same(after.directHistory, before.directHistory, 'the direct conversation between others is unchanged')
  const leftCount = (groups: Snapshot['avaGroups']) =>
    groups.map((group) =>
      group.id === world.seedGroup ? { ...group, member_count: Number(group.member_count) - 1 } : group,
    )
  const groupsOk =
    isDeepStrictEqual(after.avaGroups, before.avaGroups) ||
    (allowed.fuzzLeft && isDeepStrictEqual(after.avaGroups, leftCount(before.avaGroups)))
  t.ok(groupsOk, 'the seeded groups keep their names, owners and roles (and member count, unless fuzz left by a 2xx)')
  if (!groupsOk) t.same(after.avaGroups, before.avaGroups, 'the seeded groups')

  const withoutFuzz = (members: Snapshot['seedMembers']) => {
    const ids = (members.members as number[]).filter((id) => id !== world.fuzz.id)
    const details = (members.member_details as Array<{ user_id: number }>).filter((m) => m.user_id !== world.fuzz.id)
    return { ...members, members: ids, member_details: details, count: ids.length }
  }
  const membersOk =
    isDeepStrictEqual(after.seedMembers, before.seedMembers) ||
    (allowed.fuzzLeft && isDeepStrictEqual(after.seedMembers, withoutFuzz(before.seedMembers)))
  t.ok(membersOk, 'the seed group has the same members (fuzz may only have left by a 2xx)')
  if (!membersOk) t.same(after.seedMembers, before.seedMembers, 'seed group members')

  const afterById = new Map(after.seedHistory.map((message) => [message.id, message]))
  for (const message of before.seedHistory) {
    const now = afterById.get(message.id)
    if (allowed.reacted.has(message.id) && now) {
      const { reactions: _was, ...rest } = message
      const { reactions: _is, ...restNow } = now
      t.same(restNow, rest, `seeded message ${message.id} is unchanged but for reactions fuzz made`)
    } else {
      t.same(now, message, `seeded message ${message.id} is unchanged`)
    }
  }
  const beforeIds = new Set(before.seedHistory.map((message) => message.id))
  const added = after.seedHistory.filter((message) => !beforeIds.has(message.id))
  const unexplained = added.filter((message) => !allowed.posted.has(message.id) || message.sender_id !== world.fuzz.id)
  t.same(unexplained, [], 'every new message in the seed group was posted by fuzz and acknowledged')
  const missing = [...allowed.posted].filter((id) => allowed.postedTo.get(id) === world.seedGroup && !afterById.has(id))
  t.same(missing, [], 'every message acknowledged in the seed group is in its history')
  return { added: added.length }
}

/**
 * Records a stored message (a 2xx body or an `ack`'s `message`) as legitimately posted, and adds its id
 * to the pools so later input edits, deletes and reacts to it.
 */
export function trackMessage(allowed: Allowed, pools: Pools, message: unknown): void {
  if (typeof message !== 'object' || message === null) return
  const { id, sender_id: sender, group_id: group } = message as Record<string, unknown>
  if (typeof id !== 'number' || typeof sender !== 'number') return
  if (!allowed.posted.has(id)) {
    pools.messageIds.push(id)
    pools.ids.push(id)
  }
  allowed.posted.add(id)
  if (typeof group === 'number') allowed.postedTo.set(id, group)
}

export const noChangesYet = (): Allowed => ({
  posted: new Set(),
  postedTo: new Map(),
  reacted: new Set(),
  fuzzLeft: false,
})

/** `status:count` pairs in order, for the summary lines. */
export const countsOf = (counts: Map<number | string, number>) =>
  [...counts.entries()]
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
    .map(([key, n]) => `${key}:${n}`)
    .join(' ')

/** fast-check's failure report, with the counterexample cut short and the error that failed it. */
export function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : ''
  const cut = (text: string, max: number) =>
    text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text
  return `${cut(message, 2500)}\nError: ${cut(cause, 2500)}`
}

/**
 * The chat server's own context inside a built app, where `realtime` (the frame registry, with each frame
 * type's schema) and `chatConfig` live: the plugin is encapsulated, so the root app does not see them.
 * Found through Fastify's list of child contexts; test-only introspection.
 */
export function serverContext(app: FastifyInstance): FastifyInstance {
  const queue: object[] = [app]
  while (queue.length > 0) {
    const instance = queue.shift() as FastifyInstance & Record<symbol, unknown>
    if ((instance as { realtime?: unknown }).realtime !== undefined) return instance
    const key = Object.getOwnPropertySymbols(instance).find((symbol) => symbol.description === 'fastify.children')
    const children = key === undefined ? undefined : instance[key]
    if (Array.isArray(children)) queue.push(...(children as object[]))
  }
  throw new Error('the chat server context (with `realtime`) was not found')
}

/** Crashes seen so far, and a way to wait for the next one. */
export interface CrashWatch {
  readonly crashes: string[]
  /** Resolves when the next crash is recorded. */
  next(): Promise<void>
}

/**
 * Records unhandled promise rejections and uncaught exceptions in this process (where the server runs):
 * in a server process without such handlers either one would end the process, so any is a crash.
 */
export function watchForCrashes(t: { teardown(fn: () => unknown): void }): CrashWatch {
  const crashes: string[] = []
  let waiters: Array<() => void> = []
  const record = (what: string) => {
    crashes.push(what)
    for (const wake of waiters) wake()
    waiters = []
  }
  const onRejection = (reason: unknown) => record(`unhandled rejection: ${String(reason).slice(0, 500)}`)
  const onException = (error: Error) => record(`uncaught exception: ${String(error).slice(0, 500)}`)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  t.teardown(() => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
  })
  return { crashes, next: () => new Promise<void>((resolve) => waiters.push(resolve)) }
}
