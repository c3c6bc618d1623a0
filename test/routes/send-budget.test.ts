import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, Client, createGroup, listen, register, type Account } from '../helpers.js'

// One send budget per user for REST and socket together: a message costs the same whichever way it comes.

const restSend = (app: FastifyInstance, sender: Account, groupId: number, content: string) =>
  app.inject({ method: 'POST', url: `/v1/messages/group/${groupId}`, headers: sender.auth, payload: { content } })

async function stored(app: FastifyInstance, reader: Account, groupId: number): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: reader.auth })
  return res.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content)
}

async function directStored(app: FastifyInstance, reader: Account, peer: Account): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/messages/history/${peer.id}`, headers: reader.auth })
  return res.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content)
}

t.test('after REST answers 429, the same user’s socket sends are refused too, and nothing is stored', async (t) => {
  const app = await build(t, { rateLimits: { send: { max: 3, timeWindow: 60_000 } } })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])

  for (const content of ['one', 'two', 'three']) t.equal((await restSend(app, ava, groupId, content)).statusCode, 201)
  t.equal((await restSend(app, ava, groupId, 'four')).statusCode, 429, 'REST is over the budget')

  const socket = await Client.connect(t, port, ava.token)
  const group = await socket.request({ type: 'group_message', group_id: groupId, content: 'by socket' })
  t.match(group, { type: 'error', code: 'RATE_LIMITED' }, 'a group_message frame is refused')
  t.ok(typeof group.retry_after_ms === 'number' && group.retry_after_ms > 0, 'with retry_after_ms')
  t.ok((group.retry_after_ms as number) <= 60_000, 'no longer than the window')
  const direct = await socket.request({ type: 'direct_message', recipient_id: mike.id, content: 'by socket' })
  t.match(direct, { type: 'error', code: 'RATE_LIMITED' }, 'a direct_message frame is refused')

  t.same(await stored(app, mike, groupId), ['one', 'two', 'three'], 'the refused frame stored nothing')
  t.same(await directStored(app, mike, ava), [], 'nor did the refused direct frame')

  const mikeSocket = await Client.connect(t, port, mike.token)
  const other = await mikeSocket.request({ type: 'group_message', group_id: groupId, content: 'mike' })
  t.equal(other.type, 'ack', 'another user has a budget of his own')
})

t.test('after socket sends use the budget, REST sends are refused (and the socket itself)', async (t) => {
  const app = await build(t, { rateLimits: { send: { max: 3, timeWindow: 60_000 } } })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const first = await Client.connect(t, port, ava.token)
  const second = await Client.connect(t, port, ava.token)

  t.equal((await first.request({ type: 'group_message', group_id: groupId, content: 'one' })).type, 'ack')
  t.equal((await second.request({ type: 'direct_message', recipient_id: mike.id, content: 'two' })).type, 'ack')
  t.equal((await first.request({ type: 'group_message', group_id: groupId, content: 'three' })).type, 'ack')
  t.match(
    await second.request({ type: 'group_message', group_id: groupId, content: 'four' }),
    { type: 'error', code: 'RATE_LIMITED' },
    'a fourth frame on another socket of the same user is refused',
  )

  const rest = await restSend(app, ava, groupId, 'five')
  t.equal(rest.statusCode, 429, 'REST is refused after the socket used the budget')
  t.equal(rest.json<{ code: string }>().code, 'RATE_LIMITED')
  t.ok(Number(rest.headers['retry-after']) >= 1, 'with Retry-After')
  const direct = await app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${mike.id}`,
    headers: ava.auth,
    payload: { content: 'six' },
  })
  t.equal(direct.statusCode, 429, 'a REST direct send too')
  t.same(await stored(app, mike, groupId), ['one', 'three'])
})

t.test('with the send limit off, socket sends are not counted', async (t) => {
  const app = await build(t, { rateLimits: { send: false } })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const socket = await Client.connect(t, port, ava.token)
  for (let i = 0; i < 70; i++) {
    const reply = await socket.request({ type: 'group_message', group_id: groupId, content: `m${i}` })
    if (reply.type !== 'ack') t.fail(`frame ${i}: ${JSON.stringify(reply)}`)
  }
  t.pass('70 frames, over the default 60, all stored')
})
