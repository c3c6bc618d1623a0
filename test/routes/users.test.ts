import { createHmac, randomUUID } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { ErrorBody } from '../../src/schemas/common.js'
import type { User as UserBody } from '../../src/schemas/user.js'
import { build, createGroup, register, TEST_SECRET, type Account } from '../helpers.js'

interface SessionBody {
  message: string
  token: string
  expires_at: string
  user: UserBody
}

interface UserPage {
  users: UserBody[]
  count: number
  has_more: boolean
  next_after_id: number | null
}

const PASSWORD = 'correct horse battery'

/** Asserts the status and stable code of a refusal, and that its body has the shared error shape. */
function refused(t: Test, res: LightMyRequestResponse, status: number, code: string): { error: string } {
  t.equal(res.statusCode, status, `status ${status}`)
  const body = res.json<ErrorBody>()
  t.equal(body.code, code, `code ${code}`)
  t.equal(body.statusCode, status, 'statusCode in body')
  t.type(body.error, 'string', 'has a sentence')
  return body
}

/** No password, no hash: not as a key, not as a value. */
function noSecrets(t: Test, res: LightMyRequestResponse): void {
  t.notOk(res.body.includes('$argon2'), 'no argon2 hash in the body')
  t.notOk(/"password/i.test(res.body), 'no password key in the body')
}

function registerRaw(app: FastifyInstance, payload: unknown) {
  return app.inject({ method: 'POST', url: '/v1/users/register', payload: payload as Record<string, unknown> })
}

function login(app: FastifyInstance, email: string, password: string) {
  return app.inject({ method: 'POST', url: '/v1/users/login', payload: { email, password } })
}

/** Users whose username contains `q`, as seen by `auth`. */
async function search(app: FastifyInstance, auth: { authorization: string }, q: string): Promise<UserBody[]> {
  const res = await app.inject({ method: 'GET', url: '/v1/users', headers: auth, query: { q } })
  if (res.statusCode !== 200) throw new Error(`search failed: ${res.statusCode} ${res.body}`)
  return res.json<UserPage>().users
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** An HS256 JWT signed with `secret` (or unsigned with `alg: none`). */
function forgeToken(payload: Record<string, unknown>, secret = TEST_SECRET, alg: 'HS256' | 'none' = 'HS256'): string {
  const head = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`
  if (alg === 'none') return `${head}.`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

// ---------------------------------------------------------------------------------------------
// Register

t.test('registering returns a working token and the user, without any password hash', async (t) => {
  const app = await build(t)
  const res = await registerRaw(app, { username: 'alice', email: 'alice@example.com', password: PASSWORD })
  t.equal(res.statusCode, 201)
  const body = res.json<SessionBody>()
  t.match(body, { message: String, token: String, user: { username: 'alice', email: 'alice@example.com' } })
  t.ok(Number.isInteger(body.user.id) && body.user.id > 0, 'user has an id')
  t.ok(!Number.isNaN(Date.parse(body.user.created_at)), 'created_at is a date')
  t.ok(Date.parse(body.expires_at) > Date.now(), 'token expires in the future')
  t.same(Object.keys(body.user).sort(), ['created_at', 'email', 'id', 'username'], 'only public user fields')
  noSecrets(t, res)

  const me = await app.inject({
    method: 'GET',
    url: `/v1/users/${body.user.id}`,
    headers: { authorization: `Bearer ${body.token}` },
  })
  t.equal(me.statusCode, 200, 'the token opens a protected route')
  t.same(me.json(), body.user)
  noSecrets(t, me)
})

t.test('an email is stored lower-cased', async (t) => {
  const app = await build(t)
  const res = await registerRaw(app, { username: 'bob', email: 'Bob.Smith@Example.COM', password: PASSWORD })
  t.equal(res.statusCode, 201)
  t.equal(res.json<SessionBody>().user.email, 'bob.smith@example.com')
})

t.test('the shortest and longest allowed username and password are accepted', async (t) => {
  const app = await build(t)
  const short = await registerRaw(app, { username: 'abc', email: 'short@example.com', password: 'kv7#qz2m' })
  t.equal(short.statusCode, 201, '3-char username, 8-char password')
  const longest = 'pq'.repeat(64)
  const long = await registerRaw(app, {
    username: 'a'.repeat(32),
    email: 'long@example.com',
    password: longest,
  })
  t.equal(long.statusCode, 201, '32-char username, 128-char password')
  const dotted = await registerRaw(app, { username: 'a.b_c-D9', email: 'dotted@example.com', password: PASSWORD })
  t.equal(dotted.statusCode, 201, 'letters, digits, dot, underscore and dash are allowed')
  t.equal((await login(app, 'long@example.com', longest)).statusCode, 200, 'a 128-char password logs in')
})

t.test(
  'a password that is easy to guess is refused with 400 WEAK_PASSWORD saying why, and stores nothing',
  async (t) => {
    const app = await build(t)
    const cases: Array<[string, string, RegExp]> = [
      ['password', 'password', /common/],
      ['12345678', '12345678', /common/],
      ['a common one in capitals', 'PassWord1', /common/],
      ['a common one with spaces around', '  iloveyou  ', /common/],
      ['eight spaces', ' '.repeat(8), /whitespace|repeated/],
      ['whitespace only', ' \t \t \t \t', /whitespace/],
      ['one character repeated', 'zzzzzzzzzz', /repeated/],
      ['the username', 'weakling_9', /username or email/],
      ['the email', 'weakling_9@example.com', /username or email/],
    ]
    for (const [what, password, why] of cases) {
      const res = await registerRaw(app, { username: 'weakling_9', email: 'weakling_9@example.com', password })
      const body = refused(t, res, 400, 'WEAK_PASSWORD')
      t.match(body.error, why, `${what}: the message says why`)
    }
    t.equal((await login(app, 'weakling_9@example.com', 'password')).statusCode, 401, 'no account was created')
    const strong = await registerRaw(app, {
      username: 'weakling_9',
      email: 'weakling_9@example.com',
      password: 'plum tractor whistle',
    })
    t.equal(strong.statusCode, 201, 'a passphrase of unrelated words is accepted')
  },
)

t.test('registering without a field is refused and stores nothing', async (t) => {
  const app = await build(t)
  const watcher = await register(app, 'watcher')
  const full = { username: 'missing', email: 'missing@example.com', password: PASSWORD }
  for (const field of ['username', 'email', 'password'] as const) {
    const { [field]: _omitted, ...payload } = full
    const res = await registerRaw(app, payload)
    const body = refused(t, res, 400, 'VALIDATION_ERROR')
    t.match(body.error, new RegExp(field), `the message names ${field}`)
  }
  t.same(await search(app, watcher.auth, 'missing'), [], 'no account was created')
})

t.test('registering with a field of the wrong type is refused, not coerced', async (t) => {
  const app = await build(t)
  const watcher = await register(app, 'watcher')
  const cases: Array<[string, Record<string, unknown>]> = [
    ['username', { username: 12345, email: 'typed1@example.com', password: PASSWORD }],
    ['password', { username: 'typed2', email: 'typed2@example.com', password: true }],
    ['password', { username: 'typed3', email: 'typed3@example.com', password: 12345678 }],
    ['email', { username: 'typed4', email: ['typed4@example.com'], password: PASSWORD }],
  ]
  for (const [field, payload] of cases) {
    const body = refused(t, await registerRaw(app, payload), 400, 'VALIDATION_ERROR')
    t.match(body.error, new RegExp(`body/${field}`), `the message names ${field}`)
  }
  t.same(await search(app, watcher.auth, 'typed'), [], 'no account was created')
})

t.test('registering with an invalid email is refused', async (t) => {
  const app = await build(t)
  for (const email of ['not-an-email', 'a@', '@example.com', '']) {
    const body = refused(
      t,
      await registerRaw(app, { username: 'emailtest', email, password: PASSWORD }),
      400,
      'VALIDATION_ERROR',
    )
    t.match(body.error, /email/, `"${email}" is refused naming email`)
  }
  t.equal(
    (await registerRaw(app, { username: 'emailtest', email: 'ok@example.com', password: PASSWORD })).statusCode,
    201,
    'the username was not taken by a refused attempt',
  )
})

t.test('a password shorter than 8 or longer than 128 characters is refused', async (t) => {
  const app = await build(t)
  for (const password of ['1234567', 'p'.repeat(129)]) {
    const body = refused(
      t,
      await registerRaw(app, { username: 'pwtest', email: 'pw@example.com', password }),
      400,
      'VALIDATION_ERROR',
    )
    t.match(body.error, /password/, `a ${password.length}-char password is refused naming password`)
  }
  t.equal((await login(app, 'pw@example.com', '1234567')).statusCode, 401, 'no account was created')
})

t.test('a username that is too short, too long or has other characters is refused', async (t) => {
  const app = await build(t)
  const watcher = await register(app, 'watcher')
  for (const username of ['ab', 'u'.repeat(33), 'bad name', 'semi;colon', 'émile', 'a/b', '<script>']) {
    const body = refused(
      t,
      await registerRaw(app, { username, email: 'nametest@example.com', password: PASSWORD }),
      400,
      'VALIDATION_ERROR',
    )
    t.match(body.error, /username/, `"${username}" is refused naming username`)
  }
  t.same(await search(app, watcher.auth, 'nametest'), [], 'no account was created')
})

t.test('an email already registered in another case is refused with EMAIL_TAKEN', async (t) => {
  const app = await build(t)
  const first = await registerRaw(app, { username: 'first', email: 'Same@Example.com', password: PASSWORD })
  t.equal(first.statusCode, 201)
  const firstToken = { authorization: `Bearer ${first.json<SessionBody>().token}` }

  const res = await registerRaw(app, { username: 'second', email: 'sAME@example.COM', password: 'another password' })
  refused(t, res, 409, 'EMAIL_TAKEN')
  noSecrets(t, res)

  t.same(await search(app, firstToken, 'second'), [], 'the second account was not created')
  t.equal((await login(app, 'same@example.com', 'another password')).statusCode, 401, 'the password was not replaced')
  t.equal((await login(app, 'same@example.com', PASSWORD)).statusCode, 200, 'the first account still logs in')
})

t.test('a username already registered in another case is refused with USERNAME_TAKEN', async (t) => {
  const app = await build(t)
  const first = await registerRaw(app, { username: 'Charlie', email: 'charlie@example.com', password: PASSWORD })
  t.equal(first.statusCode, 201)
  const firstToken = { authorization: `Bearer ${first.json<SessionBody>().token}` }

  const res = await registerRaw(app, { username: 'cHARLIE', email: 'other@example.com', password: PASSWORD })
  refused(t, res, 409, 'USERNAME_TAKEN')

  const found = await search(app, firstToken, 'charlie')
  t.same(
    found.map((u) => u.username),
    ['Charlie'],
    'only the first account exists',
  )
  t.equal((await login(app, 'other@example.com', PASSWORD)).statusCode, 401, 'the refused email has no account')
})

t.test('a body that is not valid JSON is refused with INVALID_JSON', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/users/register',
    headers: { 'content-type': 'application/json' },
    payload: '{"username": "broken", "email": ',
  })
  refused(t, res, 400, 'INVALID_JSON')
})

t.test('a body over 64 KiB is refused with 413', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/users/register',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ username: 'huge', email: 'huge@example.com', password: 'x'.repeat(65 * 1024) }),
  })
  refused(t, res, 413, 'PAYLOAD_TOO_LARGE')
  t.equal((await login(app, 'huge@example.com', 'x'.repeat(65 * 1024))).statusCode, 413, 'login is limited too')
  t.equal(
    (await registerRaw(app, { username: 'huge', email: 'huge@example.com', password: PASSWORD })).statusCode,
    201,
    'nothing was stored by the refused request',
  )
})

t.test('a text/plain body is refused with 415', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/users/register',
    headers: { 'content-type': 'text/plain' },
    payload: JSON.stringify({ username: 'plain', email: 'plain@example.com', password: PASSWORD }),
  })
  refused(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE')
  t.equal((await login(app, 'plain@example.com', PASSWORD)).statusCode, 401, 'no account was created')
})

t.test('a body of another non-JSON type is refused with 415', async (t) => {
  const app = await build(t)
  for (const type of ['application/xml', 'application/x-www-form-urlencoded']) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/users/register',
      headers: { 'content-type': type },
      payload: JSON.stringify({ username: 'xml', email: 'xml@example.com', password: PASSWORD }),
    })
    refused(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE')
  }
  t.equal((await login(app, 'xml@example.com', PASSWORD)).statusCode, 401, 'no account was created')
})

// ---------------------------------------------------------------------------------------------
// Login

t.test('logging in returns a working token and the user, without any password hash', async (t) => {
  const app = await build(t)
  const account = await register(app, 'dana')
  const res = await login(app, `${account.username}@example.com`, PASSWORD)
  t.equal(res.statusCode, 200)
  const body = res.json<SessionBody>()
  t.match(body, { message: String, token: String, user: { id: account.id, username: account.username } })
  t.ok(Date.parse(body.expires_at) > Date.now(), 'token expires in the future')
  t.not(body.token, account.token, 'a new token')
  noSecrets(t, res)

  const me = await app.inject({
    method: 'GET',
    url: `/v1/users/${account.id}`,
    headers: { authorization: `Bearer ${body.token}` },
  })
  t.equal(me.statusCode, 200, 'the token opens a protected route')
})

t.test('logging in matches the email case-insensitively', async (t) => {
  const app = await build(t)
  const account = await register(app, 'erin')
  const res = await login(app, `${account.username.toUpperCase()}@EXAMPLE.com`, PASSWORD)
  t.equal(res.statusCode, 200)
  t.equal(res.json<SessionBody>().user.id, account.id)
})

t.test('a wrong password and an unknown email get the same 401', async (t) => {
  const app = await build(t)
  const account = await register(app, 'frank')
  const wrongPassword = await login(app, `${account.username}@example.com`, 'not the password')
  const unknownEmail = await login(app, 'nobody@example.com', PASSWORD)
  refused(t, wrongPassword, 401, 'INVALID_CREDENTIALS')
  refused(t, unknownEmail, 401, 'INVALID_CREDENTIALS')
  t.equal(wrongPassword.body, unknownEmail.body, 'identical bodies')
  t.notOk(wrongPassword.headers.authorization, 'no token given')
})

t.test('a login without a field or with a wrong type is refused', async (t) => {
  const app = await build(t)
  await register(app, 'gina')
  refused(
    t,
    await app.inject({ method: 'POST', url: '/v1/users/login', payload: { email: 'gina@example.com' } }),
    400,
    'VALIDATION_ERROR',
  )
  refused(
    t,
    await app.inject({ method: 'POST', url: '/v1/users/login', payload: { email: 'gina@example.com', password: 1 } }),
    400,
    'VALIDATION_ERROR',
  )
})

// ---------------------------------------------------------------------------------------------
// Listing and looking up users

t.test('listing users finds them by part of the username, case-insensitively', async (t) => {
  const app = await build(t)
  const zed = await register(app, 'zedd')
  const zara = await register(app, 'zara')
  const other = await register(app, 'quinn')

  const res = await app.inject({ method: 'GET', url: '/v1/users', headers: other.auth, query: { q: 'ZEDD' } })
  t.equal(res.statusCode, 200)
  const page = res.json<UserPage>()
  t.same(
    page.users.map((u) => u.id),
    [zed.id],
  )
  t.equal(page.count, 1)
  t.equal(page.has_more, false)
  t.equal(page.next_after_id, null)
  noSecrets(t, res)

  t.same(
    (await search(app, other.auth, 'z')).map((u) => u.id),
    [zed.id, zara.id],
    'a shared letter finds both, in id order',
  )
  t.same(await search(app, other.auth, `${zara.username}@EXAMPLE`), [], 'the email is not searched')
  t.same(await search(app, other.auth, 'nobody-has-this'), [], 'no match gives an empty list')

  const all = await app.inject({ method: 'GET', url: '/v1/users', headers: other.auth })
  t.same(
    all.json<UserPage>().users.map((u) => u.id),
    [zed.id, zara.id, other.id],
    'without q, everyone',
  )
  noSecrets(t, all)
})

t.test('search treats % and _ as plain text', async (t) => {
  const app = await build(t)
  const under = await register(app, 'under_score')
  await register(app, 'plain')
  t.same(
    (await search(app, under.auth, '_')).map((u) => u.id),
    [under.id],
    '_ matches only a name with an underscore',
  )
  t.same(await search(app, under.auth, '%'), [], '% matches nothing')
})

t.test('listing users pages with limit and after_id, each user on exactly one page', async (t) => {
  const app = await build(t)
  const accounts = []
  for (let i = 0; i < 5; i += 1) accounts.push(await register(app, 'pager'))
  const viewer = accounts[0]!
  const expected = accounts.map((a) => a.id)

  const seen: number[] = []
  const pages: UserPage[] = []
  let afterId: number | null = null
  for (let guard = 0; guard < 10; guard += 1) {
    const query: Record<string, string> = { limit: '2', q: 'pager' }
    if (afterId !== null) query.after_id = String(afterId)
    const res = await app.inject({ method: 'GET', url: '/v1/users', headers: viewer.auth, query })
    t.equal(res.statusCode, 200)
    const page = res.json<UserPage>()
    pages.push(page)
    t.equal(page.count, page.users.length, 'count is the page size')
    t.ok(page.users.length <= 2, 'no more than limit')
    seen.push(...page.users.map((u) => u.id))
    if (!page.has_more) {
      t.equal(page.next_after_id, null, 'the last page has no next_after_id')
      break
    }
    t.equal(page.next_after_id, page.users.at(-1)?.id, 'next_after_id is the last id on the page')
    afterId = page.next_after_id
  }
  t.same(
    pages.map((p) => p.users.length),
    [2, 2, 1],
    'three pages',
  )
  t.same(seen, expected, 'every user once, in order')
  t.equal(new Set(seen).size, seen.length, 'no user on two pages')
})

t.test('a page that ends exactly at the last user says there is no more', async (t) => {
  const app = await build(t)
  const a = await register(app, 'exact')
  const b = await register(app, 'exact')
  const res = await app.inject({ method: 'GET', url: '/v1/users', headers: a.auth, query: { limit: '2' } })
  const page = res.json<UserPage>()
  t.same(
    page.users.map((u) => u.id),
    [a.id, b.id],
  )
  t.equal(page.has_more, false)
  t.equal(page.next_after_id, null)

  const after = await app.inject({
    method: 'GET',
    url: '/v1/users',
    headers: a.auth,
    query: { after_id: String(b.id) },
  })
  t.same(after.json<UserPage>().users, [], 'nothing after the last user')
})

t.test('a limit outside 1-100 or not a number is refused', async (t) => {
  const app = await build(t)
  const viewer = await register(app, 'limits')
  for (const limit of ['0', '101', 'x', '-1', '1.5']) {
    const body = refused(
      t,
      await app.inject({ method: 'GET', url: '/v1/users', headers: viewer.auth, query: { limit } }),
      400,
      'VALIDATION_ERROR',
    )
    t.match(body.error, /limit/, `limit=${limit} is refused naming limit`)
  }
  for (const afterId of ['abc', '0', '-1']) {
    refused(
      t,
      await app.inject({ method: 'GET', url: '/v1/users', headers: viewer.auth, query: { after_id: afterId } }),
      400,
      'VALIDATION_ERROR',
    )
  }
  const edge = await app.inject({ method: 'GET', url: '/v1/users', headers: viewer.auth, query: { limit: '100' } })
  t.equal(edge.statusCode, 200, 'limit=100 is allowed')
})

t.test('a user is looked up by id', async (t) => {
  const app = await build(t)
  const viewer = await register(app, 'viewer')
  const target = await register(app, 'target')
  const res = await app.inject({ method: 'GET', url: `/v1/users/${target.id}`, headers: viewer.auth })
  t.equal(res.statusCode, 200)
  t.same(
    Object.keys(res.json<UserBody>()).sort(),
    ['created_at', 'email', 'id', 'username'],
    'the fields of the contract',
  )
  t.match(res.json(), { id: target.id, username: target.username, email: null })
  noSecrets(t, res)
  const self = await app.inject({ method: 'GET', url: `/v1/users/${viewer.id}`, headers: viewer.auth })
  t.match(self.json(), { id: viewer.id, email: `${viewer.username}@example.com` }, 'your own email, to you')
})

t.test('a user’s email is shown to that user only, on every route that returns users', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  await createGroup(app, ava, [mike])
  await app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${mike.id}`,
    headers: ava.auth,
    payload: { content: 'hi' },
  })
  const emailOf = (who: Account) => `${who.username}@example.com`
  const get = (url: string, who: Account) => app.inject({ method: 'GET', url, headers: who.auth })

  t.same(await search(app, mike.auth, '@'), [], 'searching for "@" finds nobody')
  t.same(await search(app, mike.auth, 'example.com'), [], 'nor does a mail domain')

  for (const url of ['/v1/users', '/v1/users/with-chat-info']) {
    const res = await get(`${url}?limit=100`, mike)
    t.equal(res.statusCode, 200, url)
    const emails = Object.fromEntries(res.json<UserPage>().users.map((user) => [user.id, user.email]))
    t.same(emails, { [ava.id]: null, [mike.id]: emailOf(mike) }, `${url}: only the caller’s own email`)
  }
  t.equal((await get(`/v1/users/${ava.id}`, mike)).json<UserBody>().email, null, 'GET /v1/users/:userID')
  t.equal((await get('/v1/users/me', ava)).json<UserBody>().email, emailOf(ava), 'GET /v1/users/me: your own')
  const login = await app.inject({
    method: 'POST',
    url: '/v1/users/login',
    payload: { email: emailOf(ava), password: PASSWORD },
  })
  t.equal(login.json<SessionBody>().user.email, emailOf(ava), 'login: your own')
  const everything = [
    (await get('/v1/users?limit=100', mike)).body,
    (await get('/v1/users/with-chat-info?limit=100', mike)).body,
    (await get(`/v1/users/${ava.id}`, mike)).body,
    (await get('/v1/groups', mike)).body,
    (await get('/v1/chats', mike)).body,
  ]
  for (const groupId of (await get('/v1/groups', mike)).json<{ groups: Array<{ id: number }> }>().groups) {
    everything.push((await get(`/v1/groups/${groupId.id}/members`, mike)).body)
  }
  t.notOk(
    everything.some((body) => body.includes(emailOf(ava))),
    'Ava’s email appears in nothing Mike reads',
  )
})

t.test('an unknown user id is 404 and a malformed one is 400', async (t) => {
  const app = await build(t)
  const viewer = await register(app, 'viewer')
  refused(t, await app.inject({ method: 'GET', url: '/v1/users/999999', headers: viewer.auth }), 404, 'USER_NOT_FOUND')
  for (const id of ['abc', '0', '-1', '1.5']) {
    refused(
      t,
      await app.inject({ method: 'GET', url: `/v1/users/${id}`, headers: viewer.auth }),
      400,
      'VALIDATION_ERROR',
    )
  }
})

t.test('listing and looking up users needs a token', async (t) => {
  const app = await build(t)
  const someone = await register(app, 'someone')
  refused(t, await app.inject({ method: 'GET', url: '/v1/users' }), 401, 'MISSING_TOKEN')
  refused(t, await app.inject({ method: 'GET', url: `/v1/users/${someone.id}` }), 401, 'MISSING_TOKEN')
})

// ---------------------------------------------------------------------------------------------
// Token refusals on a protected route

t.test('a protected route refuses every token that is not a valid, current one for a user', async (t) => {
  const app = await build(t)
  const account = await register(app, 'holder')
  const get = (authorization: string) => app.inject({ method: 'GET', url: '/v1/users', headers: { authorization } })
  const valid = { sub: String(account.id), username: account.username, jti: randomUUID() }

  const genuine = forgeToken({ ...valid, exp: nowSeconds() + 600 })
  t.equal((await get(`Bearer ${genuine}`)).statusCode, 200, 'a token forged with the real secret works (sanity)')

  t.test('no header', async (t) => {
    refused(t, await app.inject({ method: 'GET', url: '/v1/users' }), 401, 'MISSING_TOKEN')
  })
  t.test('a garbage token', async (t) => {
    refused(t, await get('Bearer not-a-jwt'), 401, 'INVALID_TOKEN')
    refused(t, await get('Bearer a.b.c'), 401, 'INVALID_TOKEN')
  })
  t.test('a header that is not Bearer', async (t) => {
    refused(t, await get('Basic xyz'), 401, 'INVALID_TOKEN')
    refused(t, await get(`Basic ${account.token}`), 401, 'INVALID_TOKEN')
    refused(t, await get(account.token), 401, 'INVALID_TOKEN')
    refused(t, await get('Bearer'), 401, 'INVALID_TOKEN')
  })
  t.test('a token signed with another secret', async (t) => {
    const foreign = forgeToken({ ...valid, exp: nowSeconds() + 600 }, 'another-secret-0123456789-abcdefghijklmnop')
    refused(t, await get(`Bearer ${foreign}`), 401, 'INVALID_TOKEN')
  })
  t.test('an unsigned token (alg none)', async (t) => {
    const none = forgeToken({ ...valid, exp: nowSeconds() + 600 }, TEST_SECRET, 'none')
    refused(t, await get(`Bearer ${none}`), 401, 'INVALID_TOKEN')
  })
  t.test('a real token whose payload was altered', async (t) => {
    const [head, , signature] = account.token.split('.')
    const other = await register(app, 'victim')
    const altered = `${head}.${b64url({ ...valid, sub: String(other.id), exp: nowSeconds() + 600 })}.${signature}`
    refused(t, await get(`Bearer ${altered}`), 401, 'INVALID_TOKEN')
  })
  t.test('an expired token', async (t) => {
    const expired = forgeToken({ ...valid, iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 })
    refused(t, await get(`Bearer ${expired}`), 401, 'TOKEN_EXPIRED')
  })
  t.test('a validly signed token whose user does not exist', async (t) => {
    const ghost = forgeToken({ sub: '999999', username: 'ghost', jti: randomUUID(), exp: nowSeconds() + 600 })
    refused(t, await get(`Bearer ${ghost}`), 401, 'INVALID_TOKEN')
    const notANumber = forgeToken({ sub: 'abc', username: 'ghost', jti: randomUUID(), exp: nowSeconds() + 600 })
    refused(t, await get(`Bearer ${notANumber}`), 401, 'INVALID_TOKEN')
  })
})
