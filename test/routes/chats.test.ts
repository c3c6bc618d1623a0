import t from 'tap'
import type { ChatSummary as Chat } from '../../src/schemas/chat.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import { build, Client, createGroup, listen, register, settle } from '../helpers.js'

const post = async (
  app: Awaited<ReturnType<typeof build>>,
  auth: { authorization: string },
  groupId: number,
  content: string,
) => {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: auth,
    payload: { content },
  })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json<{ id: number }>().id
}

t.test('the chat list shows each group with its last message and unread count, most recent first', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const quiet = await createGroup(app, ava, [mike], 'quiet')
  const busy = await createGroup(app, ava, [mike], 'busy')
  await post(app, ava.auth, quiet, 'q1')
  await post(app, ava.auth, busy, 'b1')
  const b2 = await post(app, ava.auth, busy, 'b2')
  await post(app, mike.auth, busy, 'from mike')

  const res = await app.inject({ method: 'GET', url: '/v1/chats', headers: mike.auth })
  t.equal(res.statusCode, 200)
  const { chats, count } = res.json<{ chats: Chat[]; count: number }>()
  t.equal(count, 2)
  t.same(
    chats.map((c) => c.group_id),
    [busy, quiet],
    'most recent first',
  )
  t.match(chats[0], {
    chat: 'group',
    name: 'busy',
    unread_count: 2,
    last_message: { content: 'from mike' },
    last_read_id: 0,
  })
  t.match(chats[1], { chat: 'group', name: 'quiet', unread_count: 1 })

  const avaView = (await app.inject({ method: 'GET', url: '/v1/chats', headers: ava.auth })).json<{ chats: Chat[] }>()
  t.equal(avaView.chats.find((c) => c.group_id === busy)?.unread_count, 1, 'your own messages are never unread')

  // Marking read moves the marker and the count follows.
  const read = await app.inject({
    method: 'POST',
    url: '/v1/chats/read',
    headers: mike.auth,
    payload: { group_id: busy, message_id: b2 },
  })
  t.equal(read.statusCode, 200)
  t.match(read.json(), { group_id: busy, last_read_id: b2 })
  const after = (await app.inject({ method: 'GET', url: '/v1/chats', headers: mike.auth })).json<{ chats: Chat[] }>()
  t.match(
    after.chats.find((c) => c.group_id === busy),
    { unread_count: 0, last_read_id: b2 },
  )
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/chats', headers: ava.auth }))
      .json<{ chats: Chat[] }>()
      .chats.find((c) => c.group_id === busy)?.unread_count,
    1,
    'one user’s marker never touches another’s',
  )
})

t.test('a read marker only moves forward and only within a conversation the caller is in', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const outsider = await register(app, 'out')
  const groupId = await createGroup(app, ava, [mike])
  const other = await createGroup(app, ava, [], 'other')
  const first = await post(app, ava.auth, groupId, 'one')
  const second = await post(app, ava.auth, groupId, 'two')
  const elsewhere = await post(app, ava.auth, other, 'elsewhere')
  const mark = (auth: { authorization: string }, payload: unknown) =>
    app.inject({ method: 'POST', url: '/v1/chats/read', headers: auth, payload: payload as Record<string, unknown> })

  t.equal(
    (await mark(mike.auth, { group_id: groupId, message_id: second })).json<{ last_read_id: number }>().last_read_id,
    second,
  )
  const back = await mark(mike.auth, { group_id: groupId, message_id: first })
  t.equal(back.statusCode, 200)
  t.equal(back.json<{ last_read_id: number }>().last_read_id, second, 'moving back leaves the marker where it was')

  const refusals: Array<[unknown, number, string]> = [
    [{ group_id: groupId }, 400, 'VALIDATION_ERROR'],
    [{ message_id: first }, 400, 'VALIDATION_ERROR'],
    [{ group_id: groupId, user_id: ava.id, message_id: first }, 400, 'VALIDATION_ERROR'],
    [{ group_id: 'x', message_id: first }, 400, 'VALIDATION_ERROR'],
    [{ group_id: groupId, message_id: elsewhere }, 404, 'MESSAGE_NOT_FOUND'],
    [{ group_id: groupId, message_id: 999_999 }, 404, 'MESSAGE_NOT_FOUND'],
    [{ group_id: 999_999, message_id: first }, 404, 'GROUP_NOT_FOUND'],
  ]
  for (const [payload, status, code] of refusals) {
    const res = await mark(mike.auth, payload)
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.equal(res.json<ErrorBody>().code, code)
  }
  const intruder = await mark(outsider.auth, { group_id: groupId, message_id: first })
  t.equal(intruder.statusCode, 403)
  t.equal(intruder.json<ErrorBody>().code, 'NOT_A_MEMBER')
  const list = (await app.inject({ method: 'GET', url: '/v1/chats', headers: mike.auth })).json<{ chats: Chat[] }>()
  t.equal(list.chats.find((c) => c.group_id === groupId)?.last_read_id, second, 'no refusal moved the marker')
  t.equal((await app.inject({ method: 'GET', url: '/v1/chats' })).statusCode, 401)
})

t.test('a read frame moves the marker, acks, and tells the caller’s other sockets only', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const id = await post(app, ava.auth, groupId, 'hello')
  const phone = await Client.connect(t, port, mike.token)
  const laptop = await Client.connect(t, port, mike.token)
  const avaSocket = await Client.connect(t, port, ava.token)

  const ack = await phone.request({ type: 'read', group_id: groupId, message_id: id })
  t.match(ack, { type: 'ack', read: { group_id: groupId, message_id: id } })
  t.match(await laptop.waitFor((f) => f.type === 'read'), { group_id: groupId, message_id: id })
  await settle()
  t.notOk(
    phone.frames.some((f) => f.type === 'read'),
    'the socket that sent it gets the ack, not a copy',
  )
  t.notOk(
    avaSocket.frames.some((f) => f.type === 'read'),
    'other users are not told',
  )
  t.match(await phone.request({ type: 'read', group_id: groupId }), { type: 'error', code: 'VALIDATION_ERROR' })
  t.match(await phone.request({ type: 'read', group_id: groupId, message_id: 424242 }), {
    type: 'error',
    code: 'MESSAGE_NOT_FOUND',
  })
})

t.test('typing reaches the other members, is throttled, never stored, and refused to outsiders', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const outsider = await register(app, 'out')
  const groupId = await createGroup(app, ava, [mike])
  const avaSocket = await Client.connect(t, port, ava.token)
  const mikeSocket = await Client.connect(t, port, mike.token)
  const outsiderSocket = await Client.connect(t, port, outsider.token)

  avaSocket.send({ type: 'typing', group_id: groupId, state: 'start' })
  t.match(await mikeSocket.waitFor((f) => f.type === 'typing'), { group_id: groupId, user_id: ava.id, state: 'start' })
  avaSocket.send({ type: 'typing', group_id: groupId, state: 'start' })
  avaSocket.send({ type: 'typing', group_id: groupId, state: 'start' })
  t.match(await avaSocket.request({ type: 'typing', group_id: groupId, state: 'stop' }), { type: 'ack' })
  await mikeSocket.waitFor((f) => f.type === 'typing' && f.state === 'stop')
  t.equal(
    mikeSocket.frames.filter((f) => f.type === 'typing' && f.state === 'start').length,
    1,
    'repeated starts are throttled',
  )
  t.notOk(
    avaSocket.frames.some((f) => f.type === 'typing'),
    'the typist does not hear themselves',
  )

  t.match(await outsiderSocket.request({ type: 'typing', group_id: groupId, state: 'start' }), {
    type: 'error',
    code: 'NOT_A_MEMBER',
  })
  t.match(await avaSocket.request({ type: 'typing', group_id: groupId, state: 'dancing' }), {
    type: 'error',
    code: 'VALIDATION_ERROR',
  })
  t.match(await avaSocket.request({ type: 'typing', state: 'start' }), { type: 'error', code: 'VALIDATION_ERROR' })
  await settle()
  t.notOk(
    mikeSocket.frames.some((f) => f.type === 'typing' && f.user_id === outsider.id),
    'an outsider types into nothing',
  )

  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.equal(history.json<{ count: number }>().count, 0, 'typing is never stored')
})

t.test('presence: contacts hear when a user comes online and goes offline, once per change', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const stranger = await register(app, 'stranger')
  await createGroup(app, ava, [mike])
  const mikeSocket = await Client.connect(t, port, mike.token)
  const strangerSocket = await Client.connect(t, port, stranger.token)

  const first = await Client.connect(t, port, ava.token)
  t.match(await mikeSocket.waitFor((f) => f.type === 'presence'), { user_id: ava.id, online: true })
  const second = await Client.connect(t, port, ava.token)
  const presence = async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/users/${ava.id}/presence`, headers: mike.auth })
    return res.json<{ online: boolean }>().online
  }
  t.equal(await presence(), true)

  const closed = new Promise((resolve) => first.socket.once('close', resolve))
  first.socket.close()
  await closed
  await settle()
  t.equal(
    mikeSocket.frames.filter((f) => f.type === 'presence').length,
    1,
    'a second socket and its closing change nothing',
  )
  t.equal(await presence(), true, 'still online while one socket is open')

  second.socket.close()
  t.match(await mikeSocket.waitFor((f) => f.type === 'presence' && f.online === false), { user_id: ava.id })
  t.equal(await presence(), false)
  t.notOk(
    strangerSocket.frames.some((f) => f.type === 'presence'),
    'no shared conversation, no presence frames',
  )

  const hidden = await app.inject({ method: 'GET', url: `/v1/users/${ava.id}/presence`, headers: stranger.auth })
  t.equal(hidden.statusCode, 403)
  t.equal(hidden.json<ErrorBody>().code, 'NOT_A_CONTACT')
  t.equal((await app.inject({ method: 'GET', url: '/v1/users/999999/presence', headers: mike.auth })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/v1/users/abc/presence', headers: mike.auth })).statusCode, 400)
})

t.test(
  'direct conversations: in the chat list, read markers turn messages READ, typing reaches the peer',
  async (t) => {
    const app = await build(t)
    const port = await listen(app)
    const ava = await register(app, 'ava')
    const mike = await register(app, 'mike')
    const zoe = await register(app, 'zoe')
    const avaSocket = await Client.connect(t, port, ava.token)
    const mikeSocket = await Client.connect(t, port, mike.token)
    const zoeSocket = await Client.connect(t, port, zoe.token)

    const dm = async (from: typeof ava, to: typeof ava, content: string) => {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/messages/p2p/${to.id}`,
        headers: from.auth,
        payload: { content },
      })
      t.equal(res.statusCode, 201)
      return res.json<{ id: number }>().id
    }
    await dm(ava, mike, 'hi mike')
    const second = await dm(ava, mike, 'are you there?')

    const list = (await app.inject({ method: 'GET', url: '/v1/chats', headers: mike.auth })).json<{ chats: Chat[] }>()
    t.match(list.chats, [
      { chat: 'direct', user_id: ava.id, name: ava.username, unread_count: 2, last_message: { id: second } },
    ])
    const withInfo = await app.inject({ method: 'GET', url: '/v1/users/with-chat-info', headers: mike.auth })
    t.equal(withInfo.statusCode, 200)
    const avaEntry = withInfo
      .json<{ users: Array<{ id: number; unread_count: number; online: boolean | null }> }>()
      .users.find((u) => u.id === ava.id)
    t.match(avaEntry, { unread_count: 2, online: true })

    const read = await app.inject({
      method: 'POST',
      url: '/v1/chats/read',
      headers: mike.auth,
      payload: { user_id: ava.id, message_id: second },
    })
    t.equal(read.statusCode, 200)
    t.match(read.json(), { user_id: ava.id, last_read_id: second })
    t.match(await avaSocket.waitFor((f) => f.type === 'message_status' && f.id === second), { status: 'READ' })
    const history = await app.inject({ method: 'GET', url: `/v1/messages/history/${mike.id}`, headers: ava.auth })
    t.same(
      history.json<{ messages: Array<{ status: string }> }>().messages.map((m) => m.status),
      ['READ', 'READ'],
      'everything up to the marker is READ for the sender',
    )
    const after = (await app.inject({ method: 'GET', url: '/v1/chats', headers: mike.auth })).json<{ chats: Chat[] }>()
    t.equal(after.chats[0]?.unread_count, 0)
    const avaList = (await app.inject({ method: 'GET', url: '/v1/chats', headers: ava.auth })).json<{ chats: Chat[] }>()
    t.match(
      avaList.chats,
      [{ chat: 'direct', user_id: mike.id, unread_count: 0, last_read_id: 0 }],
      'the sender’s own marker is untouched',
    )

    const zoeRead = await app.inject({
      method: 'POST',
      url: '/v1/chats/read',
      headers: zoe.auth,
      payload: { user_id: ava.id, message_id: second },
    })
    t.equal(zoeRead.statusCode, 404, 'a third user cannot mark someone else’s conversation')
    t.equal(zoeRead.json<ErrorBody>().code, 'MESSAGE_NOT_FOUND')

    avaSocket.send({ type: 'typing', user_id: mike.id, state: 'start' })
    t.match(await mikeSocket.waitFor((f) => f.type === 'typing'), { user_id: ava.id, state: 'start' })
    t.match(await avaSocket.request({ type: 'typing', user_id: 999_999, state: 'start' }), {
      type: 'error',
      code: 'USER_NOT_FOUND',
    })
    t.match(await avaSocket.request({ type: 'typing', user_id: ava.id, state: 'start' }), {
      type: 'error',
      code: 'CANNOT_MESSAGE_SELF',
    })
    await settle()
    t.notOk(
      zoeSocket.frames.some((f) => f.type === 'typing' || f.type === 'direct_message'),
      'a third user hears nothing',
    )
  },
)
