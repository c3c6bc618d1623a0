import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { ErrorBody } from '../../src/schemas/common.js'
import type { Message as StoredMessage } from '../../src/schemas/message.js'
import { build, createGroup, register, type Account } from '../helpers.js'

t.test('a member posts to a group and reads it back', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])

  const res = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: mike.auth,
    payload: { content: 'hello' },
  })
  t.equal(res.statusCode, 201)
  const message = res.json<StoredMessage>()
  t.match(message, { group_id: groupId, sender_id: mike.id, content: 'hello', kind: 'text', deleted: false })
  t.ok(Number.isInteger(message.id) && message.id > 0, 'has an id')
  t.ok(!Number.isNaN(Date.parse(message.timestamp)), 'has an ISO timestamp')

  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.equal(history.statusCode, 200)
  t.same(
    history.json<HistoryBody>().messages.map((m: { id: number }) => m.id),
    [message.id],
  )
})

interface HistoryBody {
  group_id: number
  messages: StoredMessage[]
  count: number
  has_more: boolean
  next_before_id: number | null
  next_after_id: number | null
}

const UNKNOWN_ID = 999_999

function post(app: FastifyInstance, who: Account, groupId: number | string, payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: `/v1/messages/group/${groupId}`, headers: who.auth, payload })
}

/** Posts a message and returns what was stored; fails the test unless it is a 201. */
async function send(
  t: Test,
  app: FastifyInstance,
  who: Account,
  groupId: number,
  content: string,
): Promise<StoredMessage> {
  const res = await post(app, who, groupId, { content })
  t.equal(res.statusCode, 201, `stored "${content}"`)
  return res.json<StoredMessage>()
}

function historyRequest(app: FastifyInstance, who: Account, groupId: number | string, query = '') {
  return app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages${query}`, headers: who.auth })
}

/** One history page as a member reads it; fails the test unless it is a 200. */
async function history(t: Test, app: FastifyInstance, who: Account, groupId: number, query = ''): Promise<HistoryBody> {
  const res = await historyRequest(app, who, groupId, query)
  t.equal(res.statusCode, 200, `history${query} readable`)
  return res.json<HistoryBody>()
}

const ids = (messages: StoredMessage[]) => messages.map((m) => m.id)

function refused(t: Test, res: { statusCode: number; json<T>(): T }, status: number, code: string, what: string) {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  const body = res.json<ErrorBody>()
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.statusCode, status, `${what}: statusCode in body`)
  t.type(body.error, 'string', `${what}: has an error sentence`)
}

t.test('a non-member cannot post, and nothing is stored', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const zoe = await register(app, 'zoe')
  const groupId = await createGroup(app, ava)
  await send(t, app, ava, groupId, 'members only')
  const before = await history(t, app, ava, groupId)

  refused(t, await post(app, zoe, groupId, { content: 'intruder' }), 403, 'NOT_A_MEMBER', 'non-member post')

  t.same(await history(t, app, ava, groupId), before, 'history unchanged')
})

t.test('posting to an unknown group is 404 GROUP_NOT_FOUND and a bad group id is 400', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  await createGroup(app, ava)

  refused(t, await post(app, ava, UNKNOWN_ID, { content: 'hello?' }), 404, 'GROUP_NOT_FOUND', 'unknown group')
  refused(t, await post(app, ava, 'abc', { content: 'hello?' }), 400, 'VALIDATION_ERROR', 'group id abc')
})

t.test('invalid message bodies are refused and nothing is stored', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  await send(t, app, ava, groupId, 'before the refusals')
  const before = await history(t, app, ava, groupId)

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
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
    ['empty client_msg_id', { content: 'hi', client_msg_id: '' }, /client_msg_id/],
  ]
  for (const [what, payload, field] of cases) {
    const res = await post(app, ava, groupId, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, field, `${what}: the message names the field`)
  }

  t.same(await history(t, app, ava, groupId), before, 'history unchanged')

  const longest = await post(app, ava, groupId, { content: 'y'.repeat(16_000) })
  t.equal(longest.statusCode, 201, '16000 characters are accepted')
  t.equal(longest.json<StoredMessage>().content.length, 16_000)
})

t.test('a body over 64 KiB is refused with 413 and nothing is stored', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)

  const res = await post(app, ava, groupId, { content: 'x'.repeat(64 * 1024 + 1) })
  refused(t, res, 413, 'PAYLOAD_TOO_LARGE', 'oversized body')
  t.same(ids((await history(t, app, ava, groupId)).messages), [], 'history still empty')
})

t.test('malformed JSON is 400 INVALID_JSON and nothing is stored', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)

  const malformed = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: { ...ava.auth, 'content-type': 'application/json' },
    payload: '{"content": "hi"',
  })
  refused(t, malformed, 400, 'INVALID_JSON', 'malformed JSON')

  t.same(ids((await history(t, app, ava, groupId)).messages), [], 'history still empty')
})

t.test('a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)

  for (const contentType of ['application/xml', 'text/plain']) {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: { ...ava.auth, 'content-type': contentType },
      payload: 'hi',
    })
    refused(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE', `${contentType} body`)
  }

  t.same(ids((await history(t, app, ava, groupId)).messages), [], 'history still empty')
})

t.test('a reply must name a message in the same group', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupA = await createGroup(app, ava, [mike], 'a')
  const groupB = await createGroup(app, ava, [], 'b')
  const original = await send(t, app, ava, groupA, 'question')
  const elsewhere = await send(t, app, ava, groupB, 'other conversation')
  const before = await history(t, app, ava, groupA)

  refused(
    t,
    await post(app, mike, groupA, { content: 'answer', reply_to_id: elsewhere.id }),
    400,
    'INVALID_REPLY',
    'reply to a message in another group',
  )
  refused(
    t,
    await post(app, mike, groupA, { content: 'answer', reply_to_id: UNKNOWN_ID }),
    400,
    'INVALID_REPLY',
    'reply to an unknown message',
  )
  t.same(await history(t, app, ava, groupA), before, 'history unchanged')

  const reply = await post(app, mike, groupA, { content: 'answer', reply_to_id: original.id })
  t.equal(reply.statusCode, 201)
  const stored = reply.json<StoredMessage>()
  t.equal(stored.reply_to_id, original.id)
  t.equal(stored.sender_id, mike.id)

  const after = await history(t, app, ava, groupA)
  t.same(ids(after.messages), [original.id, stored.id])
  t.equal(after.messages[1]?.reply_to_id, original.id, 'the reply is stored with its reply_to_id')
  t.equal(after.messages[0]?.reply_to_id, null, 'the original is not a reply')
})

t.test('a message sent with type "image" and a media_url is stored as an image', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const url = 'https://example.com/cat.png'

  const res = await post(app, ava, groupId, { content: 'look', type: 'image', media_url: url })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { kind: 'image', media_url: url, content: 'look' })

  const agreeing = await post(app, ava, groupId, { content: 'doc', type: 'file', kind: 'file', media_url: url })
  t.equal(agreeing.statusCode, 201, 'type and kind that agree are accepted')
  t.equal(agreeing.json<StoredMessage>().kind, 'file')

  const stored = (await history(t, app, ava, groupId)).messages
  t.match(stored, [
    { kind: 'image', media_url: url },
    { kind: 'file', media_url: url },
  ])
})

t.test('resending with the same client_msg_id stores the message once', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])

  const first = await post(app, ava, groupId, { content: 'once', client_msg_id: 'abc-1' })
  t.equal(first.statusCode, 201)
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first send is not a replay')
  const original = first.json<StoredMessage>()
  t.equal(original.client_msg_id, 'abc-1')

  const retry = await post(app, ava, groupId, { content: 'once', client_msg_id: 'abc-1' })
  t.equal(retry.statusCode, 201)
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.same(retry.json(), original, 'the retry answers with the original message')

  const changed = await post(app, ava, groupId, { content: 'changed my mind', client_msg_id: 'abc-1' })
  t.equal(changed.statusCode, 201)
  t.equal(changed.headers['idempotent-replayed'], 'true')
  t.same(changed.json(), original, 'a retry with other content still answers with the original')

  const afterRetries = await history(t, app, mike, groupId)
  t.same(ids(afterRetries.messages), [original.id], 'stored once')
  t.equal(afterRetries.messages[0]?.content, 'once')

  const fromMike = await post(app, mike, groupId, { content: 'mine', client_msg_id: 'abc-1' })
  t.equal(fromMike.statusCode, 201)
  t.equal(fromMike.headers['idempotent-replayed'], undefined, 'not a replay for another sender')
  const mikes = fromMike.json<StoredMessage>()
  t.not(mikes.id, original.id, 'another sender gets a new message')
  t.equal(mikes.sender_id, mike.id)
  t.equal(mikes.content, 'mine')

  t.same(ids((await history(t, app, ava, groupId)).messages), [original.id, mikes.id])
})

t.test('a client_msg_id is scoped to its conversation: reused in another one, it is a new message', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const general = await createGroup(app, ava, [mike], 'general')
  const random = await createGroup(app, ava, [mike], 'random')

  const direct = await app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${mike.id}`,
    headers: ava.auth,
    payload: { content: 'direct first', client_msg_id: 'key-1' },
  })
  t.equal(direct.statusCode, 201)
  const directMessage = direct.json<StoredMessage>()

  const inGroup = await post(app, ava, general, { content: 'then the group', client_msg_id: 'key-1' })
  t.equal(inGroup.statusCode, 201)
  t.equal(inGroup.headers['idempotent-replayed'], undefined, 'not a replay of the direct message')
  const groupMessage = inGroup.json<StoredMessage>()
  t.not(groupMessage.id, directMessage.id, 'a new message')
  t.match(groupMessage, { group_id: general, content: 'then the group', client_msg_id: 'key-1' })

  const inOtherGroup = await post(app, ava, random, { content: 'and another group', client_msg_id: 'key-1' })
  t.equal(inOtherGroup.statusCode, 201)
  t.equal(inOtherGroup.headers['idempotent-replayed'], undefined, 'not a replay of the first group’s message')
  t.match(inOtherGroup.json<StoredMessage>(), { group_id: random, content: 'and another group' })

  const retry = await post(app, ava, general, { content: 'then the group', client_msg_id: 'key-1' })
  t.equal(retry.headers['idempotent-replayed'], 'true', 'a retry in the same group is still a replay')
  t.same(retry.json(), groupMessage)

  const directRetry = await app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${mike.id}`,
    headers: ava.auth,
    payload: { content: 'direct first', client_msg_id: 'key-1' },
  })
  t.equal(directRetry.headers['idempotent-replayed'], 'true', 'and so is one in the same direct conversation')
  t.equal(directRetry.json<StoredMessage>().id, directMessage.id)

  t.same(ids((await history(t, app, mike, general)).messages), [groupMessage.id], 'stored once in the group')
  t.equal((await history(t, app, mike, random)).messages.length, 1, 'and once in the other group')
})

t.test('history pages backwards from the newest with no gaps or duplicates', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const sent: number[] = []
  for (let i = 1; i <= 7; i++) sent.push((await send(t, app, ava, groupId, `m${i}`)).id)

  const first = await history(t, app, ava, groupId, '?limit=3')
  t.equal(first.group_id, groupId)
  t.same(ids(first.messages), sent.slice(4), 'the first page holds the newest three, oldest to newest')
  t.same(
    first.messages.map((m) => m.content),
    ['m5', 'm6', 'm7'],
  )
  t.equal(first.count, 3)
  t.equal(first.has_more, true)
  t.equal(first.next_before_id, sent[4])
  t.equal(first.next_after_id, null)

  const seen: number[][] = [ids(first.messages)]
  let page = first
  let guard = 0
  while (page.has_more && page.next_before_id !== null && guard++ < 10) {
    page = await history(t, app, ava, groupId, `?limit=3&before_id=${page.next_before_id}`)
    seen.push(ids(page.messages))
  }
  t.same(seen, [sent.slice(4), sent.slice(1, 4), sent.slice(0, 1)], 'three pages: 3, 3 and the oldest 1')
  t.same(seen.reverse().flat(), sent, 'every message exactly once, in order')
  t.equal(page.has_more, false, 'the last page says there is no more')
  t.equal(page.next_before_id, null)
  t.equal(page.count, 1)
})

t.test('when the messages fill pages exactly, the last full page says has_more false', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const sent: number[] = []
  for (let i = 1; i <= 6; i++) sent.push((await send(t, app, ava, groupId, `m${i}`)).id)

  const first = await history(t, app, ava, groupId, '?limit=3')
  t.same(ids(first.messages), sent.slice(3))
  t.equal(first.has_more, true)
  const second = await history(t, app, ava, groupId, `?limit=3&before_id=${first.next_before_id}`)
  t.same(ids(second.messages), sent.slice(0, 3))
  t.equal(second.has_more, false)
  t.equal(second.next_before_id, null)
})

t.test('history pages forwards with after_id', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const other = await createGroup(app, ava, [], 'other')
  // A message elsewhere gives an id below every message of this group to start from.
  const anchor = await send(t, app, ava, other, 'elsewhere')
  const sent: number[] = []
  for (let i = 1; i <= 7; i++) sent.push((await send(t, app, ava, groupId, `m${i}`)).id)
  t.ok(anchor.id < (sent[0] ?? 0), 'the anchor is older than every message of the group')

  const first = await history(t, app, ava, groupId, `?limit=3&after_id=${anchor.id}`)
  t.same(ids(first.messages), sent.slice(0, 3), 'the oldest three after the anchor, oldest to newest')
  t.equal(first.has_more, true)
  t.equal(first.next_after_id, sent[2])
  t.equal(first.next_before_id, null)

  const seen: number[][] = [ids(first.messages)]
  let page = first
  let guard = 0
  while (page.has_more && page.next_after_id !== null && guard++ < 10) {
    page = await history(t, app, ava, groupId, `?limit=3&after_id=${page.next_after_id}`)
    seen.push(ids(page.messages))
  }
  t.same(seen, [sent.slice(0, 3), sent.slice(3, 6), sent.slice(6)], 'three pages: 3, 3 and the newest 1')
  t.same(seen.flat(), sent, 'every message exactly once, in order')
  t.equal(page.has_more, false)
  t.equal(page.next_after_id, null)

  const fromMiddle = await history(t, app, ava, groupId, `?limit=3&after_id=${sent[5]}`)
  t.same(ids(fromMiddle.messages), sent.slice(6), 'after_id excludes the message it names')

  const atEnd = await history(t, app, ava, groupId, `?after_id=${sent[6]}`)
  t.same(atEnd.messages, [], 'nothing after the newest')
  t.equal(atEnd.has_more, false)
})

t.test('history returns 50 messages by default', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const sent: number[] = []
  for (let i = 1; i <= 60; i++) {
    const res = await post(app, ava, groupId, { content: `m${i}` })
    if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
    sent.push(res.json<StoredMessage>().id)
  }

  const first = await history(t, app, ava, groupId)
  t.equal(first.count, 50)
  t.same(ids(first.messages), sent.slice(10), 'the newest 50')
  t.equal(first.has_more, true)
  t.equal(first.next_before_id, sent[10])

  const rest = await history(t, app, ava, groupId, `?before_id=${first.next_before_id}`)
  t.same(ids(rest.messages), sent.slice(0, 10), 'the oldest 10')
  t.equal(rest.has_more, false)

  const max = await history(t, app, ava, groupId, '?limit=100')
  t.equal(max.count, 60, 'limit=100 is accepted')
  t.equal(max.has_more, false)
})

t.test('bad history paging parameters are refused', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  await send(t, app, ava, groupId, 'hello')

  for (const query of [
    '?limit=0',
    '?limit=101',
    '?limit=x',
    '?limit=-1',
    '?limit=1.5',
    '?before_id=abc',
    '?before_id=0',
    '?after_id=abc',
    '?after_id=-1',
  ]) {
    const res = await historyRequest(app, ava, groupId, query)
    refused(t, res, 400, 'VALIDATION_ERROR', query)
  }
  refused(t, await historyRequest(app, ava, 'abc'), 400, 'VALIDATION_ERROR', 'group id abc')

  const one = await history(t, app, ava, groupId, '?limit=1')
  t.equal(one.count, 1, 'limit=1 is accepted')
})

t.test('only members can read history, and an unknown group is 404', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const zoe = await register(app, 'zoe')
  const groupId = await createGroup(app, ava)
  await send(t, app, ava, groupId, 'secret')

  refused(t, await historyRequest(app, zoe, groupId), 403, 'NOT_A_MEMBER', 'non-member reading')
  refused(t, await historyRequest(app, ava, UNKNOWN_ID), 404, 'GROUP_NOT_FOUND', 'unknown group')
})

t.test('message routes need a token', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)

  refused(
    t,
    await app.inject({ method: 'POST', url: `/v1/messages/group/${groupId}`, payload: { content: 'anon' } }),
    401,
    'MISSING_TOKEN',
    'post without token',
  )
  refused(
    t,
    await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages` }),
    401,
    'MISSING_TOKEN',
    'history without token',
  )
  t.same(ids((await history(t, app, ava, groupId)).messages), [], 'nothing stored')
})

t.test('message ids grow across groups', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupA = await createGroup(app, ava, [], 'a')
  const groupB = await createGroup(app, ava, [], 'b')

  const inA = await send(t, app, ava, groupA, 'first, in A')
  const inB = await send(t, app, ava, groupB, 'then, in B')
  const inAagain = await send(t, app, ava, groupA, 'then again in A')
  t.ok(inB.id > inA.id, 'a later message in B has a larger id than an earlier one in A')
  t.ok(inAagain.id > inB.id, 'and the next one in A is larger still')

  t.same(ids((await history(t, app, ava, groupA)).messages), [inA.id, inAagain.id], 'A holds only its own')
  t.same(ids((await history(t, app, ava, groupB)).messages), [inB.id], 'B holds only its own')
})
