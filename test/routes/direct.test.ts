import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import { createStores } from '../../plugins/store/index.js'
import { buildApp } from '../../src/app.js'
import { markDirectRead, postDirectMessage } from '../../src/domain/direct.js'
import type { Hub, HubConnection } from '../../src/domain/ports.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import type { ServerFrame } from '../../src/schemas/frames/index.js'
import type { Message as DirectMessage } from '../../src/schemas/message.js'
import { Client, createGroup, listen, register, settle, testDb, TEST_SECRET, type Account } from '../helpers.js'

interface DirectHistory {
  user_id: number
  messages: DirectMessage[]
  count: number
  has_more: boolean
  next_before_id: number | null
  next_after_id: number | null
}

const UNKNOWN_ID = 999_999

/**
 * A ready app on its own temporary database, built with a database and hub the test holds too, so
 * it can look at the stored rows and call the domain directly.
 */
async function build(t: Test) {
  const db = await testDb(t)
  const hub = new LocalHub()
  const app = await buildApp({ db, hub, env: {}, jwtSecret: TEST_SECRET, demoData: false })
  t.teardown(async () => {
    await app.close()
    await db.destroy()
  })
  await app.ready()
  return { app, db, hub, store: createStores(db) }
}
type Setup = Awaited<ReturnType<typeof build>>

function post(app: FastifyInstance, who: Account, recipientId: number | string, payload: unknown) {
  return app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${recipientId}`,
    headers: who.auth,
    payload: payload as object,
  })
}

async function send(t: Test, app: FastifyInstance, from: Account, to: Account, content: string, extra = {}) {
  const res = await post(app, from, to.id, { content, ...extra })
  t.equal(res.statusCode, 201, `stored "${content}"`)
  return res.json<DirectMessage>()
}

function historyRequest(app: FastifyInstance, who: Account, peerId: number | string, query = '') {
  return app.inject({ method: 'GET', url: `/v1/messages/history/${peerId}${query}`, headers: who.auth })
}

async function history(t: Test, app: FastifyInstance, who: Account, peer: Account, query = '') {
  const res = await historyRequest(app, who, peer.id, query)
  t.equal(res.statusCode, 200, `history${query} readable`)
  return res.json<DirectHistory>()
}

/** Registers users one after another, so their ids grow in the order named. */
async function accounts(app: FastifyInstance, names: string[]): Promise<Account[]> {
  const registered: Account[] = []
  for (const name of names) registered.push(await register(app, name))
  return registered
}

const ids = (messages: Array<{ id: number }>) => messages.map((m) => m.id)

function refused(t: Test, res: { statusCode: number; json<T>(): T }, status: number, code: string, what: string) {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  const body = res.json<ErrorBody>()
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.statusCode, status, `${what}: statusCode in body`)
  t.type(body.error, 'string', `${what}: has an error sentence`)
}

/** Everything stored about messages and direct conversations, to compare before and after a refusal. */
async function snapshot(db: Setup['db']) {
  const [messages, conversations] = await Promise.all([
    db.selectFrom('messages').selectAll().orderBy('id').execute(),
    db.selectFrom('direct_conversations').selectAll().orderBy('user_id').orderBy('peer_id').execute(),
  ])
  return { messages, conversations }
}

const directFrames = (client: Client) => client.frames.filter((f) => f.type === 'direct_message')
/** The frames this concern sends; presence and the like, from other concerns, are not counted. */
const conversationFrames = (client: Client) =>
  client.frames.filter((f) => f.type === 'direct_message' || f.type === 'message_status')

t.test('a direct message to an online user is SENT and reaches every socket of both sides, no one else', async (t) => {
  const { app, db } = await build(t)
  const port = await listen(app)
  const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
  const mikePhone = await Client.connect(t, port, mike!.token)
  const mikeLaptop = await Client.connect(t, port, mike!.token)
  const avaPhone = await Client.connect(t, port, ava!.token)
  const avaLaptop = await Client.connect(t, port, ava!.token)
  const zoeSocket = await Client.connect(t, port, zoe!.token)

  const res = await post(app, ava!, mike!.id, { content: 'hi Mike' })
  t.equal(res.statusCode, 201)
  const stored = res.json<DirectMessage>()
  t.match(stored, {
    recipient_id: mike!.id,
    sender_id: ava!.id,
    content: 'hi Mike',
    kind: 'text',
    status: 'SENT',
    deleted: false,
    reply_to_id: null,
    client_msg_id: null,
    media_url: null,
    edited_at: null,
  })
  t.notOk('group_id' in stored, 'a direct message has no group_id')
  t.ok(!Number.isNaN(Date.parse(stored.timestamp)), 'has an ISO timestamp')

  const expected = { type: 'direct_message', ...stored }
  for (const [name, client] of Object.entries({ mikePhone, mikeLaptop, avaPhone, avaLaptop })) {
    t.same(await client.waitFor((f) => f.type === 'direct_message'), expected, `${name} got the stored message`)
  }
  await settle()
  for (const client of [mikePhone, mikeLaptop, avaPhone, avaLaptop])
    t.equal(directFrames(client).length, 1, 'exactly once')
  t.same(zoeSocket.frames, [], 'a third user receives nothing')

  const fromMike = await history(t, app, mike!, ava!)
  t.equal(fromMike.user_id, ava!.id)
  t.same(fromMike.messages, [stored], 'the recipient reads it')
  t.same((await history(t, app, ava!, mike!)).messages, [stored], 'the sender reads it')
  t.same((await history(t, app, zoe!, ava!)).messages, [], 'a third user’s conversation with the sender is empty')
  t.same((await history(t, app, zoe!, mike!)).messages, [], 'and with the recipient too')

  const rows = await db.selectFrom('direct_conversations').selectAll().orderBy('user_id').execute()
  t.match(rows, [
    { user_id: ava!.id, peer_id: mike!.id, last_message_id: stored.id, last_read_id: 0 },
    { user_id: mike!.id, peer_id: ava!.id, last_message_id: stored.id, last_read_id: 0 },
  ])
  const row = await db.selectFrom('messages').selectAll().where('id', '=', stored.id).executeTakeFirstOrThrow()
  t.match(row, { group_id: null, recipient_id: mike!.id, dm_pair: `${ava!.id}:${mike!.id}`, status: 'SENT' })

  const reply = await send(t, app, mike!, ava!, 'hi Ava')
  const after = await db.selectFrom('direct_conversations').selectAll().orderBy('user_id').execute()
  t.same(
    after.map((r) => r.last_message_id),
    [reply.id, reply.id],
    'both rows point at the newest message whoever sent it',
  )
  const replyRow = await db
    .selectFrom('messages')
    .select('dm_pair')
    .where('id', '=', reply.id)
    .executeTakeFirstOrThrow()
  t.equal(replyRow.dm_pair, `${ava!.id}:${mike!.id}`, 'the same pair key from either side')
})

t.test('a direct message sent over the socket is acked to that socket and pushed to the others', async (t) => {
  const { app } = await build(t)
  const port = await listen(app)
  const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
  const avaPhone = await Client.connect(t, port, ava!.token)
  const avaLaptop = await Client.connect(t, port, ava!.token)
  const mikeSocket = await Client.connect(t, port, mike!.token)
  const zoeSocket = await Client.connect(t, port, zoe!.token)

  const ack = await avaPhone.request({
    type: 'direct_message',
    recipient_id: mike!.id,
    content: 'over the socket',
    kind: 'file',
    client_msg_id: 'sock-1',
  })
  t.equal(ack.type, 'ack')
  t.equal(ack.duplicate, false)
  const message = ack.message as DirectMessage
  t.match(message, {
    sender_id: ava!.id,
    recipient_id: mike!.id,
    content: 'over the socket',
    kind: 'file',
    media_url: null,
    client_msg_id: 'sock-1',
    status: 'SENT',
  })

  const expected = { type: 'direct_message', ...message }
  t.same(await mikeSocket.waitFor((f) => f.type === 'direct_message'), expected, 'the recipient got it')
  t.same(await avaLaptop.waitFor((f) => f.type === 'direct_message'), expected, 'the sender’s other socket got it')
  await settle()
  t.same(directFrames(avaPhone), [], 'the sending socket got the ack, not the frame')
  t.same(zoeSocket.frames, [], 'a third user receives nothing')

  const retry = await avaPhone.request({
    type: 'direct_message',
    recipient_id: mike!.id,
    content: 'over the socket',
    client_msg_id: 'sock-1',
  })
  t.equal(retry.type, 'ack')
  t.equal(retry.duplicate, true, 'a retry is a duplicate')
  t.same(retry.message, message, 'answered with the original')
  await settle()
  t.equal(directFrames(mikeSocket).length, 1, 'nothing is pushed again')
  t.equal(directFrames(avaLaptop).length, 1)
  t.same(ids((await history(t, app, mike!, ava!)).messages), [message.id], 'stored once')

  const viaRest = await post(app, ava!, mike!.id, { content: 'again', client_msg_id: 'sock-1' })
  t.equal(viaRest.statusCode, 201)
  t.equal(viaRest.headers['idempotent-replayed'], 'true', 'the same id over REST is a replay too')
  t.same(viaRest.json(), message)
})

t.test('resending over REST with the same client_msg_id stores and pushes once', async (t) => {
  const { app } = await build(t)
  const port = await listen(app)
  const [ava, mike] = await accounts(app, ['ava', 'mike'])
  const mikeSocket = await Client.connect(t, port, mike!.token)

  const first = await post(app, ava!, mike!.id, { content: 'once', client_msg_id: 'abc-1' })
  t.equal(first.statusCode, 201)
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first send is not a replay')
  const original = first.json<DirectMessage>()

  const retry = await post(app, ava!, mike!.id, { content: 'changed', client_msg_id: 'abc-1' })
  t.equal(retry.statusCode, 201)
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.same(retry.json(), original, 'the retry answers with the original')
  await mikeSocket.waitFor((f) => f.type === 'direct_message')
  await settle()
  t.equal(directFrames(mikeSocket).length, 1, 'delivered once')
  t.same(ids((await history(t, app, ava!, mike!)).messages), [original.id])

  const fromMike = await post(app, mike!, ava!.id, { content: 'mine', client_msg_id: 'abc-1' })
  t.equal(fromMike.statusCode, 201)
  t.equal(fromMike.headers['idempotent-replayed'], undefined, 'not a replay for another sender')
  t.not(fromMike.json<DirectMessage>().id, original.id)
})

t.test(
  'a client_msg_id is scoped to its conversation: to another recipient or after a group, a new message',
  async (t) => {
    const { app } = await build(t)
    const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
    const groupId = await createGroup(app, ava!, [mike!])
    const inGroup = await app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: ava!.auth,
      payload: { content: 'group first', client_msg_id: 'key-1' },
    })
    t.equal(inGroup.statusCode, 201)

    const toMike = await post(app, ava!, mike!.id, { content: 'then mike', client_msg_id: 'key-1' })
    t.equal(toMike.statusCode, 201)
    t.equal(toMike.headers['idempotent-replayed'], undefined, 'not a replay of the group message')
    t.match(toMike.json<DirectMessage>(), { recipient_id: mike!.id, content: 'then mike' })

    const toZoe = await post(app, ava!, zoe!.id, { content: 'then zoe', client_msg_id: 'key-1' })
    t.equal(toZoe.statusCode, 201)
    t.equal(toZoe.headers['idempotent-replayed'], undefined, 'not a replay of the message to mike')
    t.match(toZoe.json<DirectMessage>(), { recipient_id: zoe!.id, content: 'then zoe' })

    const retry = await post(app, ava!, zoe!.id, { content: 'then zoe', client_msg_id: 'key-1' })
    t.equal(retry.headers['idempotent-replayed'], 'true', 'a retry to the same recipient is a replay')
    t.same(retry.json(), toZoe.json())
    t.same(ids((await history(t, app, ava!, mike!)).messages), [toMike.json<DirectMessage>().id])
    t.same(ids((await history(t, app, ava!, zoe!)).messages), [toZoe.json<DirectMessage>().id])
  },
)

t.test('to an offline user a message is PENDING until they connect; then DELIVERED, in order', async (t) => {
  const { app } = await build(t)
  const port = await listen(app)
  const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
  const avaSocket = await Client.connect(t, port, ava!.token)
  const zoeSocket = await Client.connect(t, port, zoe!.token)

  const first = await send(t, app, ava!, mike!, 'one')
  const second = await send(t, app, ava!, mike!, 'two')
  const fromZoe = await send(t, app, zoe!, mike!, 'from zoe')
  const ack = await avaSocket.request({ type: 'direct_message', recipient_id: mike!.id, content: 'three' })
  const third = ack.message as DirectMessage
  for (const message of [first, second, fromZoe, third])
    t.equal(message.status, 'PENDING', `"${message.content}" is PENDING`)
  t.same(
    (await history(t, app, ava!, mike!)).messages.map((m) => m.status),
    ['PENDING', 'PENDING', 'PENDING'],
    'history says PENDING',
  )
  await zoeSocket.waitFor((f) => f.type === 'direct_message' && f.id === fromZoe.id)
  const zoeFrames = conversationFrames(zoeSocket).length

  const mikeSocket = await Client.connect(t, port, mike!.token)
  const pendingIds = [first.id, second.id, fromZoe.id, third.id]
  await mikeSocket.waitFor((f) => f.type === 'direct_message' && f.id === third.id)
  const delivered = directFrames(mikeSocket)
  t.same(ids(delivered as unknown as DirectMessage[]), pendingIds, 'every pending message, in id order')
  t.ok(
    delivered.every((f) => f.status === 'DELIVERED' && f.recipient_id === mike!.id),
    'each arrives as DELIVERED',
  )
  t.match(delivered[0], { ...first, status: 'DELIVERED', type: 'direct_message' })

  for (const message of [first, second, third]) {
    const status = await avaSocket.waitFor((f) => f.type === 'message_status' && f.id === message.id)
    t.same(status, { type: 'message_status', id: message.id, status: 'DELIVERED', recipient_id: mike!.id })
  }
  const zoeStatus = await zoeSocket.waitFor((f) => f.type === 'message_status')
  t.same(zoeStatus, { type: 'message_status', id: fromZoe.id, status: 'DELIVERED', recipient_id: mike!.id })
  await settle()
  t.equal(avaSocket.frames.filter((f) => f.type === 'message_status').length, 3, 'the sender hears only of its own')
  t.equal(conversationFrames(zoeSocket).length, zoeFrames + 1, 'zoe hears only of hers')

  t.same(
    (await history(t, app, mike!, ava!)).messages.map((m) => m.status),
    ['DELIVERED', 'DELIVERED', 'DELIVERED'],
    'history says DELIVERED',
  )
  t.same(
    (await history(t, app, mike!, zoe!)).messages.map((m) => m.status),
    ['DELIVERED'],
  )

  const again = await Client.connect(t, port, mike!.token)
  const now = await send(t, app, ava!, mike!, 'live')
  t.equal(now.status, 'SENT', 'with a socket open the next one is SENT')
  await again.waitFor((f) => f.type === 'direct_message')
  await settle()
  t.same(
    ids(directFrames(again) as unknown as DirectMessage[]),
    [now.id],
    'a later connect gets nothing delivered twice',
  )
})

t.test('a message stored while its recipient connects is delivered once and marked DELIVERED', async (t) => {
  const { app, db, store } = await build(t)
  const [ava, mike] = await accounts(app, ['ava', 'mike'])
  const published: Array<{ userIds: number[]; frame: ServerFrame }> = []
  const statusOf = (frame: ServerFrame) => ('status' in frame ? frame.status : undefined)
  let online = false
  const hub: Hub = {
    attach: () => () => {},
    publish: (userIds, frame) => published.push({ userIds: [...userIds], frame }),
    publishToUser: (userId, frame) => published.push({ userIds: [userId], frame }),
    isOnline: () => {
      // Offline when the status is chosen, online by the time the message is stored.
      const was = online
      online = true
      return was
    },
    connectionCount: () => 0,
  }
  const ports = { users: store.users, messages: store.messages, direct: store.direct, hub }

  const { message, created } = await postDirectMessage(ports, ava!.id, mike!.id, { content: 'racing' })
  t.equal(created, true)
  t.equal(message.status, 'DELIVERED', 'the answer carries the state it ended in')
  const toMike = published.filter((p) => p.userIds.includes(mike!.id))
  t.same(
    toMike.map((p) => [p.frame.type, statusOf(p.frame)]),
    [['direct_message', 'DELIVERED']],
    'the recipient gets it once',
  )
  const toAva = published.filter((p) => p.userIds.includes(ava!.id)).map((p) => [p.frame.type, statusOf(p.frame)])
  t.same(toAva, [
    ['direct_message', 'PENDING'],
    ['message_status', 'DELIVERED'],
  ])
  const row = await db.selectFrom('messages').select('status').where('id', '=', message.id).executeTakeFirstOrThrow()
  t.equal(row.status, 'DELIVERED')

  // Now the new socket's catch-up claims it first: this send delivers nothing more.
  published.length = 0
  online = false
  const caughtUp: number[] = []
  const racing = {
    ...ports,
    direct: {
      ...store.direct,
      async claimPending(recipientId: number, messageId?: number) {
        caughtUp.push(...ids(await store.direct.claimPending(recipientId)))
        return store.direct.claimPending(recipientId, messageId)
      },
    },
  }
  const second = await postDirectMessage(racing, ava!.id, mike!.id, { content: 'racing again' })
  t.same(caughtUp, [second.message.id], 'the catch-up took it')
  t.equal(second.message.status, 'DELIVERED', 'the answer carries the state it is in')
  t.same(
    published.map((p) => [p.userIds, p.frame.type, statusOf(p.frame)]),
    [[[ava!.id], 'direct_message', 'PENDING']],
    'only the sender’s other sockets hear of it from this send',
  )
})

t.test('refused sends change nothing and push nothing', async (t) => {
  const { app, db } = await build(t)
  const port = await listen(app)
  const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
  const groupId = await createGroup(app, ava!, [mike!])
  const groupMessage = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: ava!.auth,
    payload: { content: 'in the group' },
  })
  const inGroup = groupMessage.json<{ id: number }>()
  const mikeSocket = await Client.connect(t, port, mike!.token)
  const original = await send(t, app, ava!, mike!, 'question')
  const elsewhere = await send(t, app, ava!, zoe!, 'another conversation')
  await mikeSocket.waitFor((f) => f.type === 'direct_message' && f.id === original.id)
  const mikeFrames = conversationFrames(mikeSocket).length
  const before = await snapshot(db)

  refused(t, await post(app, ava!, UNKNOWN_ID, { content: 'hello?' }), 404, 'USER_NOT_FOUND', 'unknown recipient')
  refused(t, await post(app, ava!, ava!.id, { content: 'me' }), 400, 'CANNOT_MESSAGE_SELF', 'to oneself')
  refused(t, await post(app, ava!, 'abc', { content: 'hi' }), 400, 'VALIDATION_ERROR', 'recipient id abc')
  refused(t, await post(app, ava!, 0, { content: 'hi' }), 400, 'VALIDATION_ERROR', 'recipient id 0')
  refused(t, await post(app, ava!, -3, { content: 'hi' }), 400, 'VALIDATION_ERROR', 'negative recipient id')
  refused(t, await post(app, ava!, 1.5, { content: 'hi' }), 400, 'VALIDATION_ERROR', 'fractional recipient id')

  const cases: Array<[string, unknown, RegExp]> = [
    ['missing content', {}, /content/],
    ['numeric content', { content: 123 }, /content/],
    ['empty content', { content: '' }, /content/],
    ['16001-character content', { content: 'x'.repeat(16_001) }, /content/],
    ['kind "system"', { content: 'hi', kind: 'system' }, /kind/],
    ['type "system"', { content: 'hi', type: 'system' }, /type/],
    ['type and kind disagreeing', { content: 'hi', type: 'image', kind: 'text' }, /type/],
    ['media_url not a URI', { content: 'hi', media_url: 'not a uri' }, /media_url/],
    ['media_url javascript:', { content: 'hi', media_url: 'javascript:alert(1)' }, /media_url/],
    ['media_url data:', { content: 'hi', media_url: 'data:text/html,<script>alert(1)</script>' }, /media_url/],
    ['media_url file:', { content: 'hi', media_url: 'file:///etc/passwd' }, /media_url/],
    ['media_url ftp:', { content: 'hi', media_url: 'ftp://example.com/a.png' }, /media_url/],
    ['media_url without a host', { content: 'hi', media_url: 'http:///a.png' }, /media_url/],
    ['reply_to_id "abc"', { content: 'hi', reply_to_id: 'abc' }, /reply_to_id/],
    ['reply_to_id 0', { content: 'hi', reply_to_id: 0 }, /reply_to_id/],
    ['empty client_msg_id', { content: 'hi', client_msg_id: '' }, /client_msg_id/],
    ['numeric client_msg_id', { content: 'hi', client_msg_id: 7 }, /client_msg_id/],
    ['a JSON array', [{ content: 'hi' }], /object/],
  ]
  for (const [what, payload, field] of cases) {
    const res = await post(app, ava!, mike!.id, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, field, `${what}: the message names the field`)
  }

  const replies: Array<[string, number]> = [
    ['a group message', inGroup.id],
    ['a message of another direct conversation', elsewhere.id],
    ['an unknown message', UNKNOWN_ID],
  ]
  for (const [what, replyToId] of replies) {
    refused(
      t,
      await post(app, mike!, ava!.id, { content: 'answer', reply_to_id: replyToId }),
      400,
      'INVALID_REPLY',
      `reply to ${what}`,
    )
  }

  const noToken = await app.inject({ method: 'POST', url: `/v1/messages/p2p/${mike!.id}`, payload: { content: 'hi' } })
  refused(t, noToken, 401, 'MISSING_TOKEN', 'no token')
  const badToken = await app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${mike!.id}`,
    headers: { authorization: 'Bearer nope' },
    payload: { content: 'hi' },
  })
  t.equal(badToken.statusCode, 401, 'a bad token is 401')

  t.same(await snapshot(db), before, 'nothing stored changed')
  await settle()
  t.equal(conversationFrames(mikeSocket).length, mikeFrames, 'nothing was pushed')

  const reply = await send(t, app, mike!, ava!, 'answer', { reply_to_id: original.id })
  t.equal(reply.reply_to_id, original.id, 'a reply within the conversation is accepted from either side')
  const ownReply = await send(t, app, ava!, mike!, 'follow-up', { reply_to_id: original.id })
  t.equal(ownReply.reply_to_id, original.id)
})

t.test('refused socket sends are error frames with the ref; nothing is stored and the socket stays open', async (t) => {
  const { app, db } = await build(t)
  const port = await listen(app)
  const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
  const elsewhere = await send(t, app, ava!, zoe!, 'another conversation')
  const avaSocket = await Client.connect(t, port, ava!.token)
  const mikeSocket = await Client.connect(t, port, mike!.token)
  const before = await snapshot(db)

  const cases: Array<[string, Record<string, unknown>, string, RegExp?]> = [
    ['unknown recipient', { recipient_id: UNKNOWN_ID, content: 'hi' }, 'USER_NOT_FOUND'],
    ['to oneself', { recipient_id: ava!.id, content: 'hi' }, 'CANNOT_MESSAGE_SELF'],
    ['missing recipient_id', { content: 'hi' }, 'VALIDATION_ERROR', /recipient_id/],
    ['string recipient_id', { recipient_id: String(mike!.id), content: 'hi' }, 'VALIDATION_ERROR', /recipient_id/],
    ['recipient_id 0', { recipient_id: 0, content: 'hi' }, 'VALIDATION_ERROR', /recipient_id/],
    ['missing content', { recipient_id: mike!.id }, 'VALIDATION_ERROR', /content/],
    ['numeric content', { recipient_id: mike!.id, content: 5 }, 'VALIDATION_ERROR', /content/],
    ['kind "system"', { recipient_id: mike!.id, content: 'hi', kind: 'system' }, 'VALIDATION_ERROR', /kind/],
    ['reply elsewhere', { recipient_id: mike!.id, content: 'hi', reply_to_id: elsewhere.id }, 'INVALID_REPLY'],
  ]
  for (const [what, fields, code, field] of cases) {
    const answer = await avaSocket.request({ type: 'direct_message', ...fields })
    t.equal(answer.type, 'error', `${what}: an error frame`)
    t.equal(answer.code, code, `${what}: ${code}`)
    t.type(answer.error, 'string')
    if (field) t.match(answer.error, field, `${what}: names the field`)
  }

  t.same(await snapshot(db), before, 'nothing stored changed')
  await settle()
  t.same(conversationFrames(mikeSocket), [], 'nothing was pushed')
  t.same(conversationFrames(avaSocket), [], 'no direct_message frame reached the sender’s socket')

  const ok = await avaSocket.request({ type: 'direct_message', recipient_id: mike!.id, content: 'still open' })
  t.equal(ok.type, 'ack', 'the socket still works')
})

t.test('direct history pages like group history and is 404 for an unknown user', async (t) => {
  const { app } = await build(t)
  const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
  const anchor = await send(t, app, zoe!, ava!, 'older, elsewhere')
  const sent: number[] = []
  for (let i = 1; i <= 7; i++) {
    const [from, to] = i % 2 === 0 ? [mike!, ava!] : [ava!, mike!]
    sent.push((await send(t, app, from, to, `m${i}`)).id)
  }
  await send(t, app, zoe!, mike!, 'not in this conversation')

  const first = await history(t, app, ava!, mike!, '?limit=3')
  t.equal(first.user_id, mike!.id)
  t.same(ids(first.messages), sent.slice(4), 'the newest three, oldest to newest')
  t.same(
    first.messages.map((m) => m.content),
    ['m5', 'm6', 'm7'],
  )
  t.match(first, { count: 3, has_more: true, next_before_id: sent[4], next_after_id: null })

  const seen: number[][] = [ids(first.messages)]
  let page = first
  let guard = 0
  while (page.has_more && page.next_before_id !== null && guard++ < 10) {
    page = await history(t, app, ava!, mike!, `?limit=3&before_id=${page.next_before_id}`)
    seen.push(ids(page.messages))
  }
  t.same(seen.reverse().flat(), sent, 'every message exactly once, in order, backwards')
  t.equal(page.has_more, false)
  t.equal(page.next_before_id, null)

  const forwards: number[] = []
  let next: number | null = anchor.id
  guard = 0
  while (next !== null && guard++ < 10) {
    const fwd: DirectHistory = await history(t, app, mike!, ava!, `?limit=3&after_id=${next}`)
    forwards.push(...ids(fwd.messages))
    t.equal(fwd.next_before_id, null)
    next = fwd.next_after_id
  }
  t.same(forwards, sent, 'forwards from an older id, from the other side')

  const all = await history(t, app, mike!, ava!)
  t.same(ids(all.messages), sent, 'the default page holds them all')
  t.equal(all.has_more, false)

  refused(t, await historyRequest(app, ava!, UNKNOWN_ID), 404, 'USER_NOT_FOUND', 'unknown user')
  refused(t, await historyRequest(app, ava!, 'abc'), 400, 'VALIDATION_ERROR', 'user id abc')
  refused(t, await historyRequest(app, ava!, mike!.id, '?limit=0'), 400, 'VALIDATION_ERROR', 'limit 0')
  refused(t, await historyRequest(app, ava!, mike!.id, '?limit=101'), 400, 'VALIDATION_ERROR', 'limit 101')
  refused(t, await historyRequest(app, ava!, mike!.id, '?before_id=0'), 400, 'VALIDATION_ERROR', 'before_id 0')
  refused(t, await historyRequest(app, ava!, mike!.id, '?after_id=x'), 400, 'VALIDATION_ERROR', 'after_id x')
  const noToken = await app.inject({ method: 'GET', url: `/v1/messages/history/${mike!.id}` })
  refused(t, noToken, 401, 'MISSING_TOKEN', 'no token')

  const reacted = await app.inject({
    method: 'POST',
    url: `/v1/messages/${sent[0]}/reactions`,
    headers: mike!.auth,
    payload: { emoji: '👍' },
  })
  t.ok(reacted.statusCode < 300, 'mike reacts to the first message')
  const withCounts = await history(t, app, ava!, mike!, `?after_id=${anchor.id}&limit=1`)
  t.same(withCounts.messages[0]?.reactions, [{ emoji: '👍', count: 1 }], 'history carries reaction counts')

  t.same((await history(t, app, ava!, ava!)).messages, [], 'a conversation with oneself is empty')
  const zoeWithAva = await history(t, app, zoe!, ava!)
  t.same(ids(zoeWithAva.messages), [anchor.id], 'a third user sees only their own conversation')
})

t.test(
  'markDirectRead moves the marker forward only, marks the peer’s messages READ and tells the sender',
  async (t) => {
    const { app, db, store, hub } = await build(t)
    const port = await listen(app)
    const [ava, mike, zoe] = await accounts(app, ['ava', 'mike', 'zoe'])
    const ports = { users: store.users, messages: store.messages, direct: store.direct, hub }
    const avaSocket = await Client.connect(t, port, ava!.token)
    const zoeSocket = await Client.connect(t, port, zoe!.token)
    const one = await send(t, app, ava!, mike!, 'one')
    const mine = await send(t, app, mike!, ava!, 'from mike')
    const two = await send(t, app, ava!, mike!, 'two')
    const three = await send(t, app, ava!, mike!, 'three')
    const elsewhere = await send(t, app, ava!, zoe!, 'to zoe')
    await zoeSocket.waitFor((f) => f.id === elsewhere.id)
    const mikeSocket = await Client.connect(t, port, mike!.token)
    await mikeSocket.waitFor((f) => f.type === 'direct_message' && f.id === three.id)
    await avaSocket.waitFor((f) => f.type === 'message_status' && f.id === three.id)
    const zoeFrames = conversationFrames(zoeSocket).length
    const before = await snapshot(db)

    const refusals: Array<[string, number, number, string]> = [
      ['a message of another conversation', ava!.id, elsewhere.id, 'MESSAGE_NOT_FOUND'],
      ['an unknown message', ava!.id, UNKNOWN_ID, 'MESSAGE_NOT_FOUND'],
      ['an unknown peer', UNKNOWN_ID, one.id, 'USER_NOT_FOUND'],
      ['oneself', mike!.id, one.id, 'CANNOT_MESSAGE_SELF'],
    ]
    for (const [what, peerId, messageId, code] of refusals) {
      await t.rejects(markDirectRead(ports, mike!.id, peerId, messageId), { code }, `${what}: ${code}`)
    }
    t.same(await snapshot(db), before, 'refusals change nothing')

    const read = await markDirectRead(ports, mike!.id, ava!.id, two.id)
    t.equal(read.last_read_id, two.id)
    t.equal(read.moved, true)
    t.same(ids(read.read), [one.id, two.id], 'ava’s messages up to the marker became READ')
    for (const message of [one, two]) {
      const frame = await avaSocket.waitFor(
        (f) => f.type === 'message_status' && f.id === message.id && f.status === 'READ',
      )
      t.same(frame, { type: 'message_status', id: message.id, status: 'READ', recipient_id: mike!.id })
    }
    const statuses = async () =>
      Object.fromEntries((await history(t, app, ava!, mike!)).messages.map((m) => [m.content, m.status]))
    t.same(
      await statuses(),
      { one: 'READ', 'from mike': 'SENT', two: 'READ', three: 'DELIVERED' },
      'mike’s own message is untouched',
    )

    const back = await markDirectRead(ports, mike!.id, ava!.id, one.id)
    t.equal(back.last_read_id, two.id, 'the marker never moves back')
    t.equal(back.moved, false)
    t.same(back.read, [])

    const onOwn = await markDirectRead(ports, mike!.id, ava!.id, mine.id)
    t.equal(onOwn.last_read_id, two.id, 'a marker on an older message of one’s own does not move it back either')
    const last = await markDirectRead(ports, mike!.id, ava!.id, three.id)
    t.same(ids(last.read), [three.id])
    t.equal(last.last_read_id, three.id)

    const markers = await db
      .selectFrom('direct_conversations')
      .select(['user_id', 'peer_id', 'last_read_id'])
      .orderBy('user_id')
      .orderBy('peer_id')
      .execute()
    t.same(
      markers,
      [
        { user_id: ava!.id, peer_id: mike!.id, last_read_id: 0 },
        { user_id: ava!.id, peer_id: zoe!.id, last_read_id: 0 },
        { user_id: mike!.id, peer_id: ava!.id, last_read_id: three.id },
        { user_id: zoe!.id, peer_id: ava!.id, last_read_id: 0 },
      ],
      'only mike’s marker with ava moved',
    )

    const avasRead = await markDirectRead(ports, ava!.id, mike!.id, mine.id)
    t.same(ids(avasRead.read), [mine.id])
    t.same(
      await mikeSocket.waitFor((f) => f.type === 'message_status'),
      { type: 'message_status', id: mine.id, status: 'READ', recipient_id: ava!.id },
      'mike hears of his message',
    )
    await settle()
    t.same(
      avaSocket.frames.filter((f) => f.type === 'message_status' && f.status === 'READ').map((f) => f.id),
      [one.id, two.id, three.id],
      'ava heard of her three, once each',
    )
    t.equal(conversationFrames(zoeSocket).length, zoeFrames, 'a third user hears nothing')
    const untouched = await db
      .selectFrom('messages')
      .select('status')
      .where('id', '=', elsewhere.id)
      .executeTakeFirstOrThrow()
    t.equal(untouched.status, 'SENT', 'the message to zoe is untouched')
  },
)

// `HubConnection` is part of the domain's signature: the socket a frame came from is skipped.
t.test('postDirectMessage skips only the connection the send came from', async (t) => {
  const { app, store } = await build(t)
  const [ava, mike] = await accounts(app, ['ava', 'mike'])
  const skipped: Array<HubConnection | undefined> = []
  const hub: Hub = {
    attach: () => () => {},
    publish: (_userIds, _frame, except) => skipped.push(except),
    publishToUser: (_userId, _frame, except) => skipped.push(except),
    isOnline: () => true,
    connectionCount: () => 0,
  }
  const from: HubConnection = { userId: ava!.id, sendSerialized: () => {} }
  const ports = { users: store.users, messages: store.messages, direct: store.direct, hub }
  await postDirectMessage(ports, ava!.id, mike!.id, { content: 'hi' }, from)
  t.same(skipped, [from])
})
