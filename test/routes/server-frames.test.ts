// Every frame the server sends, driven over real sockets, checked against the schema registered for its type
// (`fastify.realtime.serverFrames`, the schemas `/asyncapi.json` publishes). The check is strict: a field the
// schema does not declare fails it too, so the documented protocol and what is sent cannot drift apart.
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { ClientFrames, ServerFrameType } from '../../src/client/index.js'
import { serverContext } from '../property/support.js'
import { build, Client, createGroup, listen, register, type Account, type Frame } from '../helpers.js'

// ajv-formats is CommonJS: its default export is the function under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

type JsonObject = { [key: string]: unknown }
const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The schema as JSON, with every object that does not say otherwise closed to undeclared properties. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict)
  if (!isObject(schema)) return schema
  const copy: JsonObject = {}
  for (const [key, value] of Object.entries(schema)) {
    copy[key] = key === 'properties' && isObject(value) ? mapValues(value, strict) : strict(value)
  }
  if (isObject(copy.properties) && copy.additionalProperties === undefined) copy.additionalProperties = false
  return copy
}
const mapValues = (object: JsonObject, map: (value: unknown) => unknown) =>
  Object.fromEntries(Object.entries(object).map(([key, value]) => [key, map(value)]))

function strictValidators(app: FastifyInstance): Map<string, ValidateFunction> {
  const ajv = addFormats(new Ajv({ allErrors: true, strict: false }))
  const validators = new Map<string, ValidateFunction>()
  for (const [type, schema] of serverContext(app).realtime.serverFrames) {
    validators.set(type, ajv.compile(strict(JSON.parse(JSON.stringify(schema))) as object))
  }
  return validators
}

/** Every socket the test opens, so that every frame any of them received is checked at the end. */
class Sockets {
  readonly all: Client[] = []
  constructor(
    private readonly t: Test,
    private readonly port: number,
  ) {}
  async open(who: Account, query = ''): Promise<Client> {
    const client = await Client.connect(this.t, this.port, who.token, query)
    this.all.push(client)
    return client
  }
}

/** Resolves with the close code of a socket once it closes. */
const closed = (client: Client) =>
  new Promise<number>((resolve) => client.socket.once('close', (code: number) => resolve(code)))

t.test('every frame the server sends matches the schema registered for its type, and every type is sent', async (t) => {
  const app = await build(t, { resumeLimit: 3, rateLimits: false })
  const port = await listen(app)
  const sockets = new Sockets(t, port)
  const [ava, mike, zoe, eve] = await Promise.all(['ava', 'mike', 'zoe', 'eve'].map((n) => register(app, n)))
  const rest = (method: 'POST' | 'PATCH' | 'DELETE', url: string, who: Account, payload?: object) =>
    app.inject({ method, url, headers: who.auth, ...(payload ? { payload } : {}) })

  const avaSocket = await sockets.open(ava!)
  const groupId = await createGroup(app, ava!, [mike!]) // member_added
  const mikeSocket = await sockets.open(mike!) // presence (online) to Ava
  await avaSocket.waitFor((f) => f.type === 'presence' && f.user_id === mike!.id)

  // Group messages: ack with the message, the group_message frame, a retry answered as a duplicate.
  const sent = await mikeSocket.request({
    type: 'group_message',
    group_id: groupId,
    content: 'hi',
    client_msg_id: 'c1',
  })
  t.equal(sent.type, 'ack')
  const retried = await mikeSocket.request({
    type: 'group_message',
    group_id: groupId,
    content: 'hi',
    client_msg_id: 'c1',
  })
  t.match(retried, { type: 'ack', duplicate: true })
  const groupMessageId = (sent.message as { id: number }).id
  await avaSocket.waitFor((f) => f.type === 'group_message' && f.id === groupMessageId)

  // Direct messages: to a user online (SENT), and to one offline (PENDING, delivered on connect).
  const direct = await avaSocket.request({ type: 'direct_message', recipient_id: mike!.id, content: 'psst' })
  await mikeSocket.waitFor((f) => f.type === 'direct_message' && f.id === (direct.message as { id: number }).id)
  const pending = await avaSocket.request({ type: 'direct_message', recipient_id: zoe!.id, content: 'later' })
  const pendingId = (pending.message as { id: number }).id
  const zoeSocket = await sockets.open(zoe!)
  await zoeSocket.waitFor((f) => f.type === 'direct_message' && f.id === pendingId)
  await avaSocket.waitFor((f) => f.type === 'message_status' && f.status === 'DELIVERED')

  // Read markers: an ack with the marker, `read` to the reader's other socket, READ to the sender.
  const zoeLaptop = await sockets.open(zoe!)
  const read = await zoeSocket.request({ type: 'read', user_id: ava!.id, message_id: pendingId })
  t.match(read, { type: 'ack', read: { user_id: ava!.id, message_id: pendingId } })
  await zoeLaptop.waitFor((f) => f.type === 'read')
  await avaSocket.waitFor((f) => f.type === 'message_status' && f.status === 'READ')
  const groupRead = await rest('POST', '/v1/chats/read', mike!, { group_id: groupId, message_id: groupMessageId })
  t.equal(groupRead.statusCode, 200)
  await mikeSocket.waitFor((f) => f.type === 'read' && f.group_id === groupId)

  // Typing in a group and in a direct conversation; with a ref it is acknowledged.
  t.match(await mikeSocket.request({ type: 'typing', group_id: groupId, state: 'start' }), { type: 'ack' })
  await avaSocket.waitFor((f) => f.type === 'typing' && f.group_id === groupId && f.state === 'start')
  mikeSocket.send({ type: 'typing', group_id: groupId, state: 'stop' })
  await avaSocket.waitFor((f) => f.type === 'typing' && f.state === 'stop')
  zoeSocket.send({ type: 'typing', user_id: ava!.id, state: 'start' })
  await avaSocket.waitFor((f) => f.type === 'typing' && f.user_id === zoe!.id && f.group_id === undefined)

  // Edits, reactions, deletions.
  t.equal((await rest('PATCH', `/v1/messages/${groupMessageId}`, mike!, { content: 'hello' })).statusCode, 200)
  await avaSocket.waitFor((f) => f.type === 'message_updated')
  const reactions = `/v1/messages/${groupMessageId}/reactions`
  t.equal((await rest('POST', reactions, ava!, { emoji: '👍' })).statusCode, 201)
  t.equal((await rest('DELETE', `${reactions}/${encodeURIComponent('👍')}`, ava!)).statusCode, 200)
  await mikeSocket.waitFor((f) => f.type === 'reaction' && f.action === 'removed')
  t.equal((await rest('DELETE', `/v1/messages/${groupMessageId}`, mike!)).statusCode, 200)
  await avaSocket.waitFor((f) => f.type === 'message_deleted' && f.group_id === groupId)
  t.equal((await rest('DELETE', `/v1/messages/${pendingId}`, ava!)).statusCode, 200)
  await zoeSocket.waitFor((f) => f.type === 'message_deleted' && f.recipient_id === zoe!.id)

  // More messages than the resume limit (3), for the resume over it below.
  let lastId = 0
  for (const content of ['one', 'two', 'three', 'four']) {
    const posted = await rest('POST', `/v1/messages/group/${groupId}`, ava!, { content })
    t.equal(posted.statusCode, 201)
    lastId = posted.json<{ id: number }>().id
  }

  // Ping, and resume both ways: within the limit (ack + RESUME_COMPLETE), over it (RESUME_LIMIT_EXCEEDED).
  t.match(await mikeSocket.request({ type: 'ping' }), { type: 'pong' })
  t.match(await mikeSocket.request({ type: 'resume', since: lastId - 1 }), { type: 'ack', truncated: false })
  await mikeSocket.waitFor((f) => f.type === 'system' && f.code === 'RESUME_COMPLETE')
  const resumed = await sockets.open(ava!, '&since=0')
  await resumed.waitFor((f) => f.type === 'system' && f.code === 'RESUME_LIMIT_EXCEEDED')

  // Group management: rename, a role change, a removal, the deletion.
  t.equal((await rest('POST', `/v1/groups/${groupId}/members`, ava!, { user_id: eve!.id })).statusCode, 200)
  t.equal((await rest('PATCH', `/v1/groups/${groupId}`, ava!, { name: 'renamed' })).statusCode, 200)
  t.equal((await rest('PATCH', `/v1/groups/${groupId}/members/${mike!.id}`, ava!, { role: 'admin' })).statusCode, 200)
  await mikeSocket.waitFor((f) => f.type === 'group_updated' && Array.isArray(f.roles))
  t.equal((await rest('DELETE', `/v1/groups/${groupId}/members/${eve!.id}`, ava!)).statusCode, 200)
  await mikeSocket.waitFor((f) => f.type === 'member_removed')
  t.equal((await rest('DELETE', `/v1/groups/${groupId}`, ava!)).statusCode, 200)
  await mikeSocket.waitFor((f) => f.type === 'group_deleted')

  // Refused frames: bad JSON, binary, an unknown type, a schema violation, a domain refusal.
  mikeSocket.send('{not json')
  mikeSocket.socket.send(Buffer.from([1, 2, 3]))
  t.match(await mikeSocket.request({ type: 'nope' }), { type: 'error', code: 'UNKNOWN_FRAME' })
  t.match(await mikeSocket.request({ type: 'group_message', group_id: 'x' }), { code: 'VALIDATION_ERROR' })
  t.match(await mikeSocket.request({ type: 'group_message', group_id: groupId, content: 'x' }), {
    code: 'GROUP_NOT_FOUND',
  })
  await mikeSocket.waitFor((f) => f.type === 'error' && f.code === 'INVALID_JSON')
  await mikeSocket.waitFor((f) => f.type === 'error' && f.code === 'INVALID_FRAME')

  // Logout: TOKEN_REVOKED, then the close; the others see Zoe go offline once her last socket closes.
  const zoeClosed = Promise.all([closed(zoeSocket), closed(zoeLaptop)])
  t.equal((await rest('POST', '/v1/users/logout', zoe!)).statusCode, 200)
  t.same(await zoeClosed, [4003, 4003])
  t.match(zoeSocket.frames.at(-1), { type: 'error', code: 'TOKEN_REVOKED' })
  await avaSocket.waitFor((f) => f.type === 'presence' && f.user_id === zoe!.id && f.online === false)

  // A socket over its frame rate: RATE_LIMITED with retry_after_ms, from an app that limits hard.
  const limited = await build(t, { maxFramesPerSecond: 1, frameBurst: 1 })
  const limitedPort = await listen(limited)
  const limitedUser = await register(limited, 'fast')
  const fast = await Client.connect(t, limitedPort, limitedUser.token)
  sockets.all.push(fast)
  fast.send({ type: 'ping' })
  fast.send({ type: 'ping' })
  await fast.waitFor((f) => f.type === 'error' && f.code === 'RATE_LIMITED')

  const validators = strictValidators(app)
  const seen = new Set<string>()
  let checked = 0
  for (const frame of sockets.all.flatMap<Frame>((client) => client.frames)) {
    seen.add(frame.type)
    const validate = validators.get(frame.type)
    if (!validate) {
      t.fail(`a "${frame.type}" frame was sent, but no schema is registered for it: ${JSON.stringify(frame)}`)
      continue
    }
    checked += 1
    const valid: boolean = validate(frame)
    if (!valid) {
      t.fail(`${frame.type} does not match its schema: ${JSON.stringify(validate.errors)} in ${JSON.stringify(frame)}`)
    }
  }
  t.ok(checked > 50, `${checked} frames checked against their schemas`)
  t.same(
    [...seen].sort(),
    [...serverContext(app).realtime.serverFrames.keys()].sort(),
    'every registered server frame was sent',
  )
})

t.test('a frame that breaks its schema, or carries a field it does not declare, fails the strict check', async (t) => {
  const app = await build(t)
  const validators = strictValidators(app)
  const pong = validators.get('pong')!
  t.ok(pong({ type: 'pong', timestamp: '2026-11-25T19:41:29.931Z' }), 'a real pong passes')
  t.notOk(pong({ type: 'pong', timestamp: 'yesterday' }), 'a bad time fails')
  t.notOk(pong({ type: 'pong', timestamp: '2026-11-25T19:41:29.931Z', extra: 1 }), 'an undeclared field fails')
  const system = validators.get('system')!
  t.notOk(
    system({ type: 'system', code: 'RESUME_COMPLETE', content: 'x', since: 0, limit: 3 }),
    'a mixed variant fails',
  )
  t.throws(
    () => serverContext(app).realtime.serverFrame('pong', serverContext(app).realtime.serverFrames.get('pong')!),
    'a type is registered once',
  )
  t.throws(
    () =>
      serverContext(app).realtime.serverFrame(
        'other' as ServerFrameType,
        serverContext(app).realtime.serverFrames.get('pong')!,
      ),
    'a schema must declare the type it is registered for',
  )
})

// The typed client's map of server frames, which the compiler holds to `ServerFrameType` (a missing or an extra
// key fails `tsc`), so this compares the client's types with the registry.
const TYPED_CLIENT_FRAMES = {
  ack: true,
  error: true,
  pong: true,
  system: true,
  group_message: true,
  direct_message: true,
  message_status: true,
  read: true,
  typing: true,
  presence: true,
  member_added: true,
  member_removed: true,
  group_updated: true,
  group_deleted: true,
  message_updated: true,
  message_deleted: true,
  reaction: true,
} satisfies Record<ServerFrameType, true>
const TYPED_CLIENT_SENDS = {
  group_message: true,
  direct_message: true,
  read: true,
  typing: true,
  resume: true,
  ping: true,
} satisfies Record<keyof ClientFrames, true>

t.test('the typed client has a type for every registered frame, both ways', async (t) => {
  const { realtime } = serverContext(await build(t))
  t.same(Object.keys(TYPED_CLIENT_FRAMES).sort(), [...realtime.serverFrames.keys()].sort(), 'server frames')
  t.same(Object.keys(TYPED_CLIENT_SENDS).sort(), [...realtime.frames.keys()].sort(), 'client frames')
})
