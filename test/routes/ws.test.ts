import { createHmac } from 'node:crypto'
import t from 'tap'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import { build, Client, createGroup, listen, register, settle, TEST_SECRET, upgradeStatus } from '../helpers.js'

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, secret = TEST_SECRET): string {
  const unsigned = `${base64url(header)}.${base64url(payload)}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}

t.test('a message posted over REST reaches every socket of every member and no one else', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const [ava, mike, zoe, outsider] = await Promise.all(['ava', 'mike', 'zoe', 'out'].map((n) => register(app, n)))
  const groupId = await createGroup(app, ava!, [mike!, zoe!])

  const mikePhone = await Client.connect(t, port, mike!.token)
  const mikeLaptop = await Client.connect(t, port, mike!.token)
  const zoeSocket = await Client.connect(t, port, zoe!.token)
  const avaSocket = await Client.connect(t, port, ava!.token)
  const outsiderSocket = await Client.connect(t, port, outsider!.token)

  const res = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: ava!.auth,
    payload: { content: 'GROUP CHAT IS ALIVE!' },
  })
  t.equal(res.statusCode, 201)
  const stored = res.json<{ id: number; timestamp: string }>()

  const expected = {
    type: 'group_message',
    id: stored.id,
    group_id: groupId,
    sender_id: ava!.id,
    content: 'GROUP CHAT IS ALIVE!',
    timestamp: stored.timestamp,
  }
  for (const [name, client] of Object.entries({ mikePhone, mikeLaptop, zoeSocket, avaSocket })) {
    const frame = await client.waitFor((f) => f.type === 'group_message')
    t.match(frame, expected, `${name} received the seed's frame`)
  }
  await settle()
  t.same(outsiderSocket.frames, [], 'a non-member receives nothing')
  t.equal(mikePhone.frames.filter((f) => f.type === 'group_message').length, 1, 'delivered exactly once per socket')
})

t.test('the upgrade is refused with 401 before it happens for a bad token', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const now = Math.floor(Date.now() / 1000)
  const claims = { sub: String(ava.id), username: ava.username, jti: 'x' }
  const url = (token?: string) => `ws://127.0.0.1:${port}/ws${token === undefined ? '' : `?token=${token}`}`

  t.equal(await upgradeStatus(url(ava.token)), 101, 'a valid token upgrades')
  t.equal(await upgradeStatus(url()), 401, 'missing token')
  t.equal(await upgradeStatus(url('')), 401, 'empty token')
  t.equal(await upgradeStatus(url('not-a-jwt')), 401, 'garbage token')
  t.equal(
    await upgradeStatus(url(forge({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now - 120, exp: now - 60 }))),
    401,
    'expired token',
  )
  t.equal(
    await upgradeStatus(
      url(forge({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now }, 'another-secret-of-enough-length-0123456789')),
    ),
    401,
    'token signed with another secret',
  )
  const algNone = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claims, iat: now })}.`
  t.equal(await upgradeStatus(url(algNone)), 401, 'alg none')
  t.equal(
    await upgradeStatus(url(forge({ alg: 'HS512', typ: 'JWT' }, { ...claims, iat: now }))),
    401,
    'another algorithm with the right secret',
  )
})

t.test('the socket answers frames with ack, pong and error frames and stays open', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const outsider = await register(app, 'out')
  const groupId = await createGroup(app, ava, [mike])
  const avaSocket = await Client.connect(t, port, ava.token)
  const mikeSocket = await Client.connect(t, port, mike.token)
  const outsiderSocket = await Client.connect(t, port, outsider.token)

  t.match(await avaSocket.request({ type: 'ping' }), { type: 'pong' })

  const ack = await avaSocket.request({
    type: 'group_message',
    group_id: groupId,
    content: 'over the socket',
    client_msg_id: 'c-1',
  })
  t.match(ack, {
    type: 'ack',
    duplicate: false,
    message: { group_id: groupId, sender_id: ava.id, content: 'over the socket' },
  })
  const sentId = (ack.message as { id: number }).id
  t.match(await mikeSocket.waitFor((f) => f.type === 'group_message'), { id: sentId, content: 'over the socket' })

  const retry = await avaSocket.request({
    type: 'group_message',
    group_id: groupId,
    content: 'over the socket',
    client_msg_id: 'c-1',
  })
  t.match(retry, { type: 'ack', duplicate: true, message: { id: sentId } }, 'a retried client_msg_id acks the original')

  const refusals: Array<[Record<string, unknown>, string]> = [
    [{ type: 'group_message', group_id: groupId }, 'VALIDATION_ERROR'],
    [{ type: 'group_message', group_id: 'one', content: 'x' }, 'VALIDATION_ERROR'],
    [{ type: 'group_message', group_id: groupId, content: '' }, 'VALIDATION_ERROR'],
    [{ type: 'group_message', group_id: groupId, content: 'x'.repeat(16_001) }, 'VALIDATION_ERROR'],
    [{ type: 'group_message', group_id: 999_999, content: 'x' }, 'GROUP_NOT_FOUND'],
    [{ type: 'teleport' }, 'UNKNOWN_FRAME'],
  ]
  for (const [frame, code] of refusals) {
    t.match(await avaSocket.request(frame), { type: 'error', code }, `${JSON.stringify(frame).slice(0, 60)} → ${code}`)
  }
  t.match(
    await outsiderSocket.request({ type: 'group_message', group_id: groupId, content: 'let me in' }),
    { type: 'error', code: 'NOT_A_MEMBER' },
    'a non-member cannot send into the group',
  )

  avaSocket.send('{not json')
  t.match(await avaSocket.waitFor((f) => f.code === 'INVALID_JSON'), { type: 'error' })
  avaSocket.send('[1,2,3]')
  t.match(await avaSocket.waitFor((f) => f.code === 'INVALID_FRAME'), { type: 'error' })
  avaSocket.socket.send(Buffer.from([1, 2, 3]), { binary: true })
  t.match(await avaSocket.waitFor((f) => f.code === 'INVALID_FRAME' && String(f.error).includes('binary')), {
    type: 'error',
  })

  t.match(await avaSocket.request({ type: 'ping' }), { type: 'pong' }, 'still open after every bad frame')

  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.same(
    history.json<{ messages: Array<{ id: number }> }>().messages.map((m) => m.id),
    [sentId],
    'only the one valid message was stored',
  )
})

t.test('frames from one socket are handled in the order they were sent', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const socket = await Client.connect(t, port, ava.token)
  for (let i = 0; i < 20; i++) socket.send({ type: 'group_message', group_id: groupId, content: `m${i}`, ref: i })
  await socket.waitFor((f) => f.type === 'ack' && f.ref === 19)
  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.same(
    history.json<{ messages: Array<{ content: string }> }>().messages.map((m) => m.content),
    Array.from({ length: 20 }, (_, i) => `m${i}`),
  )
})

t.test('an oversized frame closes the socket with 1009 and stores nothing', async (t) => {
  const app = await build(t, { maxFrameBytes: 1024 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const socket = await Client.connect(t, port, ava.token)
  const closed = new Promise<number>((resolve) => socket.socket.once('close', (code) => resolve(code)))
  socket.send({ type: 'group_message', group_id: groupId, content: 'x'.repeat(2000) })
  t.equal(await closed, 1009)
  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.equal(history.json<{ count: number }>().count, 0)
})

t.test('a closed socket stops receiving and the hub forgets it', async (t) => {
  const hub = new LocalHub()
  const app = await build(t, { hub })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const socket = await Client.connect(t, port, ava.token)
  t.equal(hub.connectionCount(), 1)
  t.ok(hub.isOnline(ava.id))
  const closed = new Promise((resolve) => socket.socket.once('close', resolve))
  socket.socket.close()
  await closed
  await settle(50)
  t.equal(hub.connectionCount(), 0)
  t.notOk(hub.isOnline(ava.id))
})

t.test('a plain GET of /ws without an upgrade is 426, and still 401 without a token', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const plain = await app.inject({ method: 'GET', url: `/ws?token=${ava.token}` })
  t.equal(plain.statusCode, 426)
  t.match(plain.json(), { code: 'UPGRADE_REQUIRED', statusCode: 426 })
  const anonymous = await app.inject({ method: 'GET', url: '/ws' })
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.json(), { code: 'MISSING_TOKEN', statusCode: 401 })
})

t.test('tokens never reach the request log', async (t) => {
  const lines: string[] = []
  const stream = { write: (line: string) => void lines.push(line) }
  const app = await build(t, { logger: { level: 'info', stream } })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  await Client.connect(t, port, ava.token)
  await app.inject({ method: 'GET', url: `/ws?token=${ava.token}&x=1` })
  await app.inject({ method: 'GET', url: '/v1/users', headers: ava.auth })
  await settle(50)
  const log = lines.join('')
  t.ok(log.includes('/ws?token=[REDACTED]'), 'the socket URL is logged with its token redacted')
  t.notOk(log.includes(ava.token), 'the token appears nowhere in the log')
  t.notOk(log.includes(ava.token.split('.')[2] ?? 'no-signature'), 'not even its signature')
  t.notOk(/authorization/i.test(log), 'no Authorization header is logged')
})

t.test('string formats are checked in frames as over REST', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const socket = await Client.connect(t, port, ava.token)
  const ok = await socket.request({
    type: 'group_message',
    group_id: groupId,
    content: 'a picture',
    kind: 'image',
    media_url: 'https://example.com/cat.png',
  })
  t.match(ok, { type: 'ack', message: { kind: 'image', media_url: 'https://example.com/cat.png' } })
  const bad = await socket.request({ type: 'group_message', group_id: groupId, content: 'x', media_url: 'not a url' })
  t.match(bad, { type: 'error', code: 'VALIDATION_ERROR' })
  t.match(String(bad.error), /media_url/)
  for (const url of ['javascript:alert(1)', 'data:text/html,hi', 'ftp://example.com/a.png']) {
    const scheme = await socket.request({ type: 'group_message', group_id: groupId, content: 'x', media_url: url })
    t.match(scheme, { type: 'error', code: 'VALIDATION_ERROR' }, `${url}: refused`)
    t.match(String(scheme.error), /media_url/, `${url}: the error names the field`)
  }
  const upper = await socket.request({
    type: 'group_message',
    group_id: groupId,
    content: 'x',
    media_url: 'HTTPS://example.com/a',
  })
  t.match(upper, { type: 'ack' }, 'the scheme is case-insensitive')
})
