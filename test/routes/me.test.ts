import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { ErrorBody } from '../../src/schemas/common.js'
import type { User as UserBody } from '../../src/schemas/user.js'
import { build, register, type Account } from '../helpers.js'

type Reply = { statusCode: number; body: string; json<T>(): T }

// The password `register` in the helpers gives every account.
const PASSWORD = 'correct horse battery'
const NEW_PASSWORD = 'a brand new passphrase'

function refused(t: Test, res: Reply, status: number, code: string, what: string) {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  const body = res.json<ErrorBody>()
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.statusCode, status, `${what}: statusCode in body`)
  t.type(body.error, 'string', `${what}: has an error sentence`)
}

const emailOf = (who: Account) => `${who.username}@example.com`

function getMe(app: FastifyInstance, who: Account) {
  return app.inject({ method: 'GET', url: '/v1/users/me', headers: who.auth })
}

function patchMe(app: FastifyInstance, who: Account, payload: unknown) {
  return app.inject({
    method: 'PATCH',
    url: '/v1/users/me',
    headers: who.auth,
    payload: payload as Record<string, unknown>,
  })
}

function login(app: FastifyInstance, email: string, password: string) {
  return app.inject({ method: 'POST', url: '/v1/users/login', payload: { email, password } })
}

/** The account as the API shows it; fails the test when it cannot be read. */
async function readMe(t: Test, app: FastifyInstance, who: Account): Promise<UserBody> {
  const res = await getMe(app, who)
  t.equal(res.statusCode, 200, 'GET /v1/users/me answers')
  return res.json<UserBody>()
}

/** Asserts which of the two passwords logs in now. */
async function passwordIs(t: Test, app: FastifyInstance, who: Account, current: string, other: string, what: string) {
  t.equal((await login(app, emailOf(who), current)).statusCode, 200, `${what}: the expected password logs in`)
  refused(t, await login(app, emailOf(who), other), 401, 'INVALID_CREDENTIALS', `${what}: the other password`)
}

t.test('GET /v1/users/me answers the caller’s own account and no secret', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')

  const res = await getMe(app, ava)
  t.equal(res.statusCode, 200)
  const me = res.json<UserBody>()
  t.same(Object.keys(me).sort(), ['created_at', 'email', 'id', 'username'])
  t.match(me, { id: ava.id, username: ava.username, email: emailOf(ava) })
  t.notMatch(res.body, /argon2|password/i, 'no hash or password field')
  t.same(
    me,
    (await app.inject({ method: 'GET', url: `/v1/users/${ava.id}`, headers: ava.auth })).json(),
    'same as by id',
  )

  t.equal((await readMe(t, app, mike)).id, mike.id, 'each token sees its own account')
})

t.test('changing the username', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const before = await readMe(t, app, ava)

  const res = await patchMe(app, ava, { username: 'ava_renamed' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { ...before, username: 'ava_renamed' }, 'only the username changed')
  t.notMatch(res.body, /argon2|password/i, 'no hash in the answer')
  t.equal((await readMe(t, app, ava)).username, 'ava_renamed', 'the change is stored')
  const byId = await app.inject({ method: 'GET', url: `/v1/users/${ava.id}`, headers: mike.auth })
  t.equal(byId.json<UserBody>().username, 'ava_renamed', 'others see the new name')
  const search = await app.inject({ method: 'GET', url: '/v1/users?q=renamed', headers: mike.auth })
  t.same(
    search.json<{ users: UserBody[] }>().users.map((u) => u.id),
    [ava.id],
    'search finds the new name',
  )

  const recased = await patchMe(app, ava, { username: 'Ava_Renamed' })
  t.equal(recased.statusCode, 200, 'changing only the case of my own name is allowed')
  t.equal(recased.json<UserBody>().username, 'Ava_Renamed')

  const same = await patchMe(app, ava, { username: 'Ava_Renamed' })
  t.equal(same.statusCode, 200, 'setting the name I already have is fine')

  await passwordIs(t, app, ava, PASSWORD, NEW_PASSWORD, 'the password is untouched')
  t.equal((await getMe(app, ava)).statusCode, 200, 'the token issued before the rename still works')
  const relogin = await login(app, emailOf(ava), PASSWORD)
  t.equal(relogin.json<{ user: UserBody }>().user.username, 'Ava_Renamed', 'login answers the new name')
})

t.test('a username that someone else has, in any case, is 409 USERNAME_TAKEN and changes nothing', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const before = await readMe(t, app, ava)

  refused(t, await patchMe(app, ava, { username: mike.username }), 409, 'USERNAME_TAKEN', 'exact name')
  refused(t, await patchMe(app, ava, { username: mike.username.toUpperCase() }), 409, 'USERNAME_TAKEN', 'other case')
  refused(
    t,
    await patchMe(app, ava, { username: mike.username, password: NEW_PASSWORD, current_password: PASSWORD }),
    409,
    'USERNAME_TAKEN',
    'taken name together with a password change',
  )

  t.same(await readMe(t, app, ava), before, 'ava is unchanged')
  t.equal((await readMe(t, app, mike)).username, mike.username, 'mike is unchanged')
  await passwordIs(t, app, ava, PASSWORD, NEW_PASSWORD, 'the password change was not applied either')
})

t.test('changing the password needs the current one; then only the new one logs in', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const before = await readMe(t, app, ava)

  const res = await patchMe(app, ava, { password: NEW_PASSWORD, current_password: PASSWORD })
  t.equal(res.statusCode, 200)
  t.same(res.json(), before, 'answers the user, unchanged apart from the secret')
  t.notMatch(res.body, /argon2|password/i, 'no hash in the answer')
  await passwordIs(t, app, ava, NEW_PASSWORD, PASSWORD, 'after the change')
  t.equal((await getMe(app, ava)).statusCode, 200, 'the token issued before the change still works')

  const both = await patchMe(app, ava, { username: 'ava_both', password: PASSWORD, current_password: NEW_PASSWORD })
  t.equal(both.statusCode, 200, 'username and password change together')
  t.equal(both.json<UserBody>().username, 'ava_both')
  await passwordIs(t, app, ava, PASSWORD, NEW_PASSWORD, 'after changing back')
})

t.test('a missing or wrong current password is refused and changes nothing', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const before = await readMe(t, app, ava)

  const missing = await patchMe(app, ava, { password: NEW_PASSWORD })
  refused(t, missing, 400, 'VALIDATION_ERROR', 'missing current_password')
  t.match(missing.json<ErrorBody>().error, /current_password/, 'the message names the field')
  refused(
    t,
    await patchMe(app, ava, { password: NEW_PASSWORD, current_password: 'not my password' }),
    403,
    'WRONG_PASSWORD',
    'wrong current_password',
  )
  refused(
    t,
    await patchMe(app, ava, { username: 'ava_sneaky', password: NEW_PASSWORD, current_password: 'not my password' }),
    403,
    'WRONG_PASSWORD',
    'wrong current_password with a username change',
  )
  refused(
    t,
    await patchMe(app, ava, { username: 'ava_sneaky', current_password: 'not my password' }),
    403,
    'WRONG_PASSWORD',
    'a wrong current_password is refused even when only the username changes',
  )
  refused(
    t,
    await patchMe(app, ava, { password: NEW_PASSWORD, current_password: NEW_PASSWORD }),
    403,
    'WRONG_PASSWORD',
    'the new password as the current one',
  )

  t.same(await readMe(t, app, ava), before, 'the account is unchanged')
  await passwordIs(t, app, ava, PASSWORD, NEW_PASSWORD, 'after the refusals')
})

t.test('a new password that is easy to guess is 400 WEAK_PASSWORD and changes nothing', async (t) => {
  const app = await build(t)
  // A username long enough to be a password.
  const ava = await register(app, 'avalanche')
  const before = await readMe(t, app, ava)

  for (const [what, password] of [
    ['password', 'password'],
    ['12345678', '12345678'],
    ['eight spaces', ' '.repeat(8)],
    ['the username', ava.username],
    ['the email', emailOf(ava)],
  ] as const) {
    const res = await patchMe(app, ava, { password, current_password: PASSWORD })
    refused(t, res, 400, 'WEAK_PASSWORD', what)
    t.match(res.json<ErrorBody>().error, /too easy to guess: /, `${what}: the message says why`)
  }
  refused(
    t,
    await patchMe(app, ava, { username: 'ava_renamed', password: 'ava_renamed', current_password: PASSWORD }),
    400,
    'WEAK_PASSWORD',
    'the new username as the password',
  )
  refused(
    t,
    await patchMe(app, ava, { password: 'password', current_password: 'not my password' }),
    400,
    'WEAK_PASSWORD',
    'a weak choice is refused before the current password is checked',
  )

  t.same(await readMe(t, app, ava), before, 'the account is unchanged')
  await passwordIs(t, app, ava, PASSWORD, 'password', 'after the refusals')
})

t.test('bodies with nothing to change, unknown fields or bad values are 400 and change nothing', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const before = await readMe(t, app, ava)

  const cases: Array<[string, unknown, RegExp]> = [
    ['empty body', {}, /username|password/],
    ['only current_password', { current_password: PASSWORD }, /username|password/],
    ['email', { email: 'new@example.com' }, /email/],
    ['email beside a username', { username: 'ava_new', email: 'new@example.com' }, /email/],
    ['id', { id: mike.id }, /id/],
    ['created_at', { created_at: '2000-01-01T00:00:00.000Z' }, /created_at/],
    ['password_hash', { password_hash: 'x' }, /password_hash/],
    ['username too short', { username: 'ab' }, /username/],
    ['username too long', { username: 'a'.repeat(33) }, /username/],
    ['username with a space', { username: 'ava renamed' }, /username/],
    ['username not a string', { username: 12345 }, /username/],
    ['username null', { username: null }, /username/],
    ['password too short', { password: 'short', current_password: PASSWORD }, /password/],
    ['password too long', { password: 'x'.repeat(129), current_password: PASSWORD }, /password/],
    ['password not a string', { password: 12345678, current_password: PASSWORD }, /password/],
    ['current_password empty', { password: NEW_PASSWORD, current_password: '' }, /current_password/],
    ['current_password not a string', { password: NEW_PASSWORD, current_password: 1 }, /current_password/],
  ]
  for (const [what, payload, names] of cases) {
    const res = await patchMe(app, ava, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, names, `${what}: the message names the field`)
  }
  const notJson = await app.inject({
    method: 'PATCH',
    url: '/v1/users/me',
    headers: { ...ava.auth, 'content-type': 'application/json' },
    payload: '{"username":',
  })
  refused(t, notJson, 400, 'INVALID_JSON', 'malformed JSON')

  t.same(await readMe(t, app, ava), before, 'the account is unchanged')
  t.same(
    (await login(app, emailOf(ava), PASSWORD)).json<{ user: UserBody }>().user,
    before,
    'email and login unchanged',
  )
  refused(t, await login(app, 'new@example.com', PASSWORD), 401, 'INVALID_CREDENTIALS', 'the attempted email')
})

t.test('/v1/users/me needs a valid token', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const before = await readMe(t, app, ava)

  refused(t, await app.inject({ method: 'GET', url: '/v1/users/me' }), 401, 'MISSING_TOKEN', 'GET without a token')
  refused(
    t,
    await app.inject({ method: 'PATCH', url: '/v1/users/me', payload: { username: 'hijack' } }),
    401,
    'MISSING_TOKEN',
    'PATCH without a token',
  )
  refused(
    t,
    await app.inject({
      method: 'PATCH',
      url: '/v1/users/me',
      headers: { authorization: 'Bearer not-a-token' },
      payload: { username: 'hijack' },
    }),
    401,
    'INVALID_TOKEN',
    'PATCH with a bad token',
  )
  t.same(await readMe(t, app, ava), before, 'unchanged')
})

t.test('/v1/users/:userID still takes ids; "me" is the static route', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  refused(
    t,
    await app.inject({ method: 'GET', url: '/v1/users/mee', headers: ava.auth }),
    400,
    'VALIDATION_ERROR',
    'a word that is not "me"',
  )
  t.equal((await app.inject({ method: 'GET', url: `/v1/users/${ava.id}`, headers: ava.auth })).statusCode, 200)
})
