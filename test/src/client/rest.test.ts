// The typed client's REST calls against the real server on an ephemeral port, through the global fetch.
import { createServer } from 'node:http'
import t from 'tap'
import { ChatApiError, ChatClient } from '../../../src/client/index.js'
import { build, listen } from '../../helpers.js'

let accounts = 0
/** A client registered as a new user on the server at `baseUrl`. */
async function signUp(baseUrl: string, name: string) {
  accounts += 1
  const client = new ChatClient({ baseUrl })
  const username = `${name}${accounts}`
  const session = await client.register({
    username,
    email: `${username}@example.com`,
    password: 'correct horse battery',
  })
  return { client, user: session.user, email: `${username}@example.com` }
}

/** Resolves with what `call` rejected with, failing when it resolved. */
async function rejection(call: Promise<unknown>): Promise<ChatApiError> {
  try {
    await call
  } catch (error) {
    if (error instanceof ChatApiError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

t.test('accounts, groups, messages, history, chats, reactions and logout, typed end to end', async (t) => {
  const app = await build(t)
  const baseUrl = `http://127.0.0.1:${await listen(app)}`
  const ava = await signUp(baseUrl, 'ava')
  const mike = await signUp(baseUrl, 'mike')
  t.ok(ava.client.token, 'register keeps the token')

  t.same(await ava.client.me(), ava.user, 'me is the registered user')
  const relogged = new ChatClient({ baseUrl })
  const session = await relogged.login({ email: ava.email, password: 'correct horse battery' })
  t.equal(relogged.token, session.token, 'login keeps the token')
  t.equal(session.user.id, ava.user.id)
  t.equal((await relogged.user(mike.user.id)).username, mike.user.username)
  const page = await relogged.users({ q: mike.user.username, limit: 5 })
  t.same(
    page.users.map((u) => u.id),
    [mike.user.id],
    'users filters by q',
  )

  const group = await ava.client.createGroup('team')
  t.match(group, { name: 'team', owner_id: ava.user.id, member_count: 1 })
  t.match(await ava.client.addMember(group.id, mike.user.id), { added: true, user_id: mike.user.id })
  t.match(await ava.client.addMember(group.id, mike.user.id), { added: false }, 'adding again changes nothing')
  const members = await mike.client.members(group.id)
  t.same(members.members.sort(), [ava.user.id, mike.user.id].sort())
  t.match(await ava.client.changeRole(group.id, mike.user.id, 'admin'), { role: 'admin', previous_role: 'member' })
  t.equal((await ava.client.renameGroup(group.id, 'renamed')).name, 'renamed')
  t.same(
    (await mike.client.groups()).groups.map((g) => [g.id, g.role]),
    [[group.id, 'admin']],
  )

  const first = await mike.client.sendGroupMessage(group.id, 'hello team')
  t.match(first, { group_id: group.id, sender_id: mike.user.id, content: 'hello team', kind: 'text' })
  const retried = { content: 'once', client_msg_id: 'rest-1' }
  const once = await mike.client.sendGroupMessage(group.id, retried)
  t.equal((await mike.client.sendGroupMessage(group.id, retried)).id, once.id, 'a retry returns the stored message')
  const direct = await ava.client.sendDirectMessage(mike.user.id, { content: 'psst', kind: 'text' })
  t.match(direct, { recipient_id: mike.user.id, status: 'PENDING' })

  const history = await ava.client.groupHistory(group.id, { limit: 1 })
  t.same(
    history.messages.map((m) => m.id),
    [once.id],
  )
  t.equal(history.has_more, true)
  const older = await ava.client.groupHistory(group.id, { before_id: history.next_before_id! })
  t.same(
    older.messages.map((m) => m.id),
    [first.id],
    'paging back with before_id',
  )
  t.same(
    (await mike.client.directHistory(ava.user.id)).messages.map((m) => m.id),
    [direct.id],
  )

  const chats = await ava.client.chats()
  t.match(
    chats.chats.find((c) => c.chat === 'group'),
    { group_id: group.id, unread_count: 2 },
  )
  t.match(await ava.client.markRead({ group_id: group.id, message_id: once.id }), { last_read_id: once.id })
  t.match(
    (await ava.client.chats()).chats.find((c) => c.chat === 'group'),
    { unread_count: 0 },
  )
  t.match(
    (await ava.client.usersWithChatInfo()).users.find((u) => u.id === mike.user.id),
    {
      last_message: { id: direct.id },
    },
  )
  t.same(await ava.client.presence(mike.user.id), { user_id: mike.user.id, online: false })

  t.match(await mike.client.editMessage(first.id, 'hello, team'), { content: 'hello, team' })
  t.match(await ava.client.addReaction(first.id, '👍'), { action: 'added', counts: [{ emoji: '👍', count: 1 }] })
  t.match(await ava.client.removeReaction(first.id, '👍'), { action: 'removed', counts: [] })
  t.match(await ava.client.deleteMessage(first.id), { id: first.id })
  t.match((await ava.client.groupHistory(group.id)).messages[0], { id: first.id, deleted: true, content: '' })

  t.match(await mike.client.updateMe({ username: `${mike.user.username}x` }), { username: `${mike.user.username}x` })
  t.match(await mike.client.removeMember(group.id, mike.user.id), { left: true })
  t.match(await ava.client.deleteGroup(group.id), { group_id: group.id })

  const token = ava.client.token
  t.match(await ava.client.logout(), { message: 'Logged out.' })
  t.equal(ava.client.token, undefined, 'logout forgets the token')
  const revoked = await rejection(new ChatClient({ baseUrl, token: token! }).me())
  t.match(revoked, { statusCode: 401, code: 'TOKEN_REVOKED' }, 'the old token is revoked')
})

t.test('every non-2xx answer rejects with a typed ChatApiError carrying the error body', async (t) => {
  const app = await build(t, { rateLimits: { login: { max: 2, timeWindow: 60_000 } } })
  const baseUrl = `http://127.0.0.1:${await listen(app)}`
  const ava = await signUp(baseUrl, 'ava')
  const eve = await signUp(baseUrl, 'eve')
  const group = await ava.client.createGroup('private')

  const wrongPassword = await rejection(new ChatClient({ baseUrl }).login({ email: ava.email, password: 'nope' }))
  t.ok(wrongPassword instanceof Error, 'an Error')
  t.match(wrongPassword, { name: 'ChatApiError', statusCode: 401, code: 'INVALID_CREDENTIALS', retryAfter: undefined })
  t.equal(wrongPassword.message, wrongPassword.error, 'the message is the server’s sentence')

  const notMember = await rejection(eve.client.sendGroupMessage(group.id, 'let me in'))
  t.match(notMember, { statusCode: 403, code: 'NOT_A_MEMBER' })
  t.match(await rejection(ava.client.members(999_999)), { statusCode: 404, code: 'GROUP_NOT_FOUND' })
  t.match(await rejection(ava.client.createGroup('')), { statusCode: 400, code: 'VALIDATION_ERROR', error: /name/ })
  t.match(await rejection(new ChatClient({ baseUrl }).me()), { statusCode: 401, code: 'MISSING_TOKEN' })
  t.match(await rejection(ava.client.sendGroupMessage(group.id, 'x'.repeat(70_000))), {
    statusCode: 413,
    code: 'PAYLOAD_TOO_LARGE',
  })
  t.equal((await ava.client.groupHistory(group.id)).count, 0, 'nothing was stored by the refused sends')

  // The login above was the first of two allowed in the window.
  t.match(await rejection(new ChatClient({ baseUrl }).login({ email: eve.email, password: 'nope' })), {
    statusCode: 401,
  })
  const limited = await rejection(new ChatClient({ baseUrl }).login({ email: eve.email, password: 'nope' }))
  t.match(limited, { statusCode: 429, code: 'RATE_LIMITED' }, 'the third login in the window')
  t.ok(typeof limited.retryAfter === 'number' && limited.retryAfter > 0, `retryAfter is ${limited.retryAfter} s`)
})

t.test('an answer that is not the server’s error body still rejects with its status', async (t) => {
  // What a proxy in front of the server might answer.
  const proxy = createServer((_request, response) => {
    response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>')
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => proxy.close())
  const address = proxy.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  const error = await rejection(new ChatClient({ baseUrl: `http://127.0.0.1:${address.port}` }).chats())
  t.match(error, { statusCode: 502, code: 'HTTP_ERROR', error: 'The server answered 502.' })
})

t.test('a client needs a base URL outside a browser', async (t) => {
  t.throws(() => new ChatClient(), { name: 'TypeError', message: /baseUrl/ })
})
