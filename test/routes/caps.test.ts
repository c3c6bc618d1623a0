import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { DEFAULT_MAX_OWNED_GROUPS, DEFAULT_MAX_REACTIONS_PER_MESSAGE, resolveConfig } from '../../src/options.js'
import { build, Client, createGroup, listen, register, settle, type Account } from '../helpers.js'

// Caps on what one user can make the server (and other users) carry: groups owned, distinct emoji on a
// message, how often one user is added to groups by others; and the limit on guessing the password.

function assertRefused(t: Test, res: LightMyRequestResponse, status: number, code: string, what: string) {
  t.equal(res.statusCode, status, `${what}: ${status}`)
  t.match(res.json(), { code, statusCode: status }, `${what}: ${code}`)
}

const newGroup = (app: FastifyInstance, owner: Account, name: string) =>
  app.inject({ method: 'POST', url: '/v1/groups', headers: owner.auth, payload: { name } })

const react = (app: FastifyInstance, by: Account, messageId: number, emoji: string) =>
  app.inject({ method: 'POST', url: `/v1/messages/${messageId}/reactions`, headers: by.auth, payload: { emoji } })

const addMember = (app: FastifyInstance, by: Account, groupId: number, user: Account) =>
  app.inject({ method: 'POST', url: `/v1/groups/${groupId}/members`, headers: by.auth, payload: { user_id: user.id } })

const changePassword = (app: FastifyInstance, user: Account, current: string, password = 'a brand new secret') =>
  app.inject({
    method: 'PATCH',
    url: '/v1/users/me',
    headers: user.auth,
    payload: { current_password: current, password },
  })

t.test('a user who owns the most groups allowed is refused another with 409 TOO_MANY_GROUPS', async (t) => {
  const app = await build(t, { maxOwnedGroups: 3 })
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const ids: number[] = []
  for (const name of ['a', 'b', 'c']) {
    const res = await newGroup(app, ava, name)
    t.equal(res.statusCode, 201)
    ids.push(res.json<{ id: number }>().id)
  }
  assertRefused(t, await newGroup(app, ava, 'd'), 409, 'TOO_MANY_GROUPS', 'the fourth group')
  const mine = await app.inject({ method: 'GET', url: '/v1/groups', headers: ava.auth })
  t.equal(mine.json<{ count: number }>().count, 3, 'nothing was created')
  t.equal((await newGroup(app, mike, 'mike’s')).statusCode, 201, 'another user still creates groups')

  const removed = await app.inject({ method: 'DELETE', url: `/v1/groups/${ids[0]}`, headers: ava.auth })
  t.equal(removed.statusCode < 300, true, 'deleting an owned group…')
  t.equal((await newGroup(app, ava, 'e')).statusCode, 201, '…makes room for another')

  // Being a member (not the owner) of groups does not count.
  for (const name of ['x', 'y']) await createGroup(app, mike, [ava], name)
  assertRefused(t, await newGroup(app, ava, 'f'), 409, 'TOO_MANY_GROUPS', 'memberships do not count, owned ones do')
})

t.test('a message carries at most the allowed distinct emoji: a new one is 409 TOO_MANY_REACTIONS', async (t) => {
  const app = await build(t, { maxReactionsPerMessage: 3 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const sent = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: ava.auth,
    payload: { content: 'react to me' },
  })
  const messageId = sent.json<{ id: number }>().id
  for (const emoji of ['👍', '🎉', '❤️']) t.equal((await react(app, ava, messageId, emoji)).statusCode, 201)

  const mikeSocket = await Client.connect(t, port, mike.token)
  assertRefused(t, await react(app, mike, messageId, '🚀'), 409, 'TOO_MANY_REACTIONS', 'a fourth emoji')
  const same = await react(app, mike, messageId, '🎉')
  t.equal(same.statusCode, 201, 'reacting with an emoji already there still works')
  t.same(
    same.json<{ counts: Array<{ emoji: string; count: number }> }>().counts.map((c) => c.emoji),
    ['🎉', '👍', '❤️'],
    'the refused emoji was not stored',
  )
  await mikeSocket.waitFor((f) => f.type === 'reaction' && f.emoji === '🎉')
  await settle()
  t.notOk(
    mikeSocket.frames.some((f) => f.type === 'reaction' && f.emoji === '🚀'),
    'no frame for the refused reaction',
  )

  const unreacted = await app.inject({
    method: 'DELETE',
    url: `/v1/messages/${messageId}/reactions/${encodeURIComponent('👍')}`,
    headers: ava.auth,
  })
  t.equal(unreacted.statusCode, 200)
  t.equal((await react(app, mike, messageId, '🚀')).statusCode, 201, 'once an emoji is gone, a new one fits')
})

t.test('one user can be added to groups by others at most N times a window: 429 RATE_LIMITED', async (t) => {
  const app = await build(t, { rateLimits: { memberAdds: { max: 3, timeWindow: 60_000 } } })
  const ava = await register(app, 'ava')
  const spammer = await register(app, 'spam')
  const victim = await register(app, 'victim')
  const other = await register(app, 'other')
  const groups: number[] = []
  for (let i = 0; i < 5; i++) groups.push(await createGroup(app, spammer, [], `spam ${i}`))

  for (const groupId of groups.slice(0, 3)) t.equal((await addMember(app, spammer, groupId, victim)).statusCode, 200)
  const again = await addMember(app, spammer, groups[0] as number, victim)
  t.match(again.json(), { added: false }, 're-adding a member changes nothing and is not counted')
  t.equal(again.statusCode, 200)

  const refused = await addMember(app, spammer, groups[3] as number, victim)
  assertRefused(t, refused, 429, 'RATE_LIMITED', 'the fourth add of the same user')
  t.ok(Number(refused.headers['retry-after']) >= 1, 'with Retry-After')
  const byOther = await addMember(app, ava, await createGroup(app, ava, [], 'ava’s'), victim)
  assertRefused(t, byOther, 429, 'RATE_LIMITED', 'the limit is the added user’s, whoever adds them')

  const victimsGroups = await app.inject({ method: 'GET', url: '/v1/groups', headers: victim.auth })
  t.equal(victimsGroups.json<{ count: number }>().count, 3, 'the refused adds changed nothing')
  t.equal((await addMember(app, spammer, groups[3] as number, other)).statusCode, 200, 'other users can be added')
})

t.test('guesses at the current password are limited per user: 429 with Retry-After', async (t) => {
  const app = await build(t, { rateLimits: { passwordCheck: { max: 3, timeWindow: 60_000 } } })
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')

  for (let i = 0; i < 3; i++) {
    const wrong = await changePassword(app, ava, `guess number ${i}`)
    t.match(wrong.json(), { code: 'WRONG_PASSWORD', statusCode: 403 }, `wrong guess ${i + 1} is a 403`)
  }
  const limited = await changePassword(app, ava, 'guess number 4')
  assertRefused(t, limited, 429, 'RATE_LIMITED', 'the fourth guess')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'with Retry-After')
  assertRefused(
    t,
    await changePassword(app, ava, 'correct horse battery'),
    429,
    'RATE_LIMITED',
    'even the right password, until the window ends',
  )
  const login = await app.inject({
    method: 'POST',
    url: '/v1/users/login',
    payload: { email: `${ava.username}@example.com`, password: 'correct horse battery' },
  })
  t.equal(login.statusCode, 200, 'the password was not changed')

  const rename = await app.inject({
    method: 'PATCH',
    url: '/v1/users/me',
    headers: ava.auth,
    payload: { username: `${ava.username}x` },
  })
  t.equal(rename.statusCode, 200, 'a change without current_password is not a guess, and is not limited')
  t.equal((await changePassword(app, mike, 'correct horse battery')).statusCode, 200, 'other users are unaffected')
})

t.test('the caps’ defaults and settings', async (t) => {
  t.equal(DEFAULT_MAX_OWNED_GROUPS, 1_000)
  t.equal(DEFAULT_MAX_REACTIONS_PER_MESSAGE, 50)
  const fromEnv = (env: Record<string, string>, options = {}) => resolveConfig({ env, dbFile: ':memory:', ...options })
  const defaults = fromEnv({})
  t.equal(defaults.maxOwnedGroups, 1_000)
  t.equal(defaults.maxReactionsPerMessage, 50)
  t.same(defaults.rateLimits.passwordCheck, { max: 10, timeWindow: 300_000 })
  t.same(defaults.rateLimits.memberAdds, { max: 30, timeWindow: 60_000 })
  const set = fromEnv({
    MAX_OWNED_GROUPS: '7',
    MAX_REACTIONS_PER_MESSAGE: '9',
    RATE_LIMIT_PASSWORD_CHECK: '5/1h',
    RATE_LIMIT_MEMBER_ADDS: 'off',
  })
  t.equal(set.maxOwnedGroups, 7)
  t.equal(set.maxReactionsPerMessage, 9)
  t.same(set.rateLimits.passwordCheck, { max: 5, timeWindow: 3_600_000 })
  t.equal(set.rateLimits.memberAdds, false)
  t.equal(fromEnv({ MAX_OWNED_GROUPS: '7' }, { maxOwnedGroups: 2 }).maxOwnedGroups, 2, 'options win')
  t.throws(() => fromEnv({ MAX_OWNED_GROUPS: '0' }), /MAX_OWNED_GROUPS/)
  t.throws(() => fromEnv({ MAX_REACTIONS_PER_MESSAGE: 'many' }), /MAX_REACTIONS_PER_MESSAGE/)
  t.throws(() => fromEnv({}, { maxReactionsPerMessage: 1.5 }), /maxReactionsPerMessage/)
  t.throws(() => fromEnv({ RATE_LIMIT_MEMBER_ADDS: 'lots' }), /RATE_LIMIT_MEMBER_ADDS/)
})
