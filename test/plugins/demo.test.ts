import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp, type BuildAppOptions } from '../../src/app.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import { register, tempDir, TEST_SECRET } from '../helpers.js'

interface Session {
  token: string
  user: { id: number; username: string; email: string }
}

interface UsersPage {
  users: Array<{ id: number; username: string; email: string | null }>
  count: number
  has_more: boolean
}

interface MembersBody {
  group_id: number
  members: number[]
  member_details: Array<{ user_id: number; username: string; role: string }>
  count: number
}

interface GroupsBody {
  groups: Array<{ id: number; name: string; owner_id: number; role?: string }>
  count: number
}

const GROUP_ID = 1

/** A ready app on `dbFile`; closed at the end of the test unless closed before. */
async function start(t: Test, dbFile: string, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp({ dbFile, env: {}, jwtSecret: TEST_SECRET, demoData: true, ...options })
  let closed = false
  app.addHook('onClose', async () => {
    closed = true
  })
  t.teardown(async () => {
    if (!closed) await app.close()
  })
  await app.ready()
  return app
}

function assertNoSecrets(t: Test, body: string, what: string) {
  t.notOk(body.includes('$argon2'), `${what}: no password hash`)
  t.notOk(/"password(_hash)?"\s*:/.test(body), `${what}: no password key`)
}

async function login(
  t: Test,
  app: FastifyInstance,
  email: string,
): Promise<Session & { auth: { authorization: string } }> {
  const res = await app.inject({ method: 'POST', url: '/v1/users/login', payload: { email, password: 'password' } })
  t.equal(res.statusCode, 200, `${email} logs in with the demo password`)
  assertNoSecrets(t, res.body, `login of ${email}`)
  const body = res.json<Session>()
  return { ...body, auth: { authorization: `Bearer ${body.token}` } }
}

async function allUsers(t: Test, app: FastifyInstance, auth: { authorization: string }): Promise<UsersPage> {
  const res = await app.inject({ method: 'GET', url: '/v1/users?limit=100', headers: auth })
  t.equal(res.statusCode, 200, 'users list readable')
  assertNoSecrets(t, res.body, 'users list')
  return res.json<UsersPage>()
}

async function membersOfDemoGroup(
  t: Test,
  app: FastifyInstance,
  auth: { authorization: string },
): Promise<MembersBody> {
  const res = await app.inject({ method: 'GET', url: `/v1/groups/${GROUP_ID}/members`, headers: auth })
  t.equal(res.statusCode, 200, 'group 1 members readable')
  return res.json<MembersBody>()
}

async function groupsOf(t: Test, app: FastifyInstance, auth: { authorization: string }): Promise<GroupsBody> {
  const res = await app.inject({ method: 'GET', url: '/v1/groups', headers: auth })
  t.equal(res.statusCode, 200, 'groups list readable')
  return res.json<GroupsBody>()
}

t.test('demo data: Ava and Mike can log in and share group 1 "General" owned by Ava', async (t) => {
  const dbFile = join(tempDir(t), 'demo.db')
  const app = await start(t, dbFile)

  const ava = await login(t, app, 'ava@temp.com')
  const mike = await login(t, app, 'mike@temp.com')
  t.equal(ava.user.username, 'Ava')
  t.equal(mike.user.username, 'Mike')
  t.not(ava.user.id, mike.user.id)

  const avaGroups = await groupsOf(t, app, ava.auth)
  t.equal(avaGroups.count, 1, 'Ava is in one group')
  t.match(avaGroups.groups[0], { id: GROUP_ID, name: 'General', owner_id: ava.user.id, role: 'owner' })

  const mikeGroups = await groupsOf(t, app, mike.auth)
  t.equal(mikeGroups.count, 1, 'Mike is in one group')
  t.match(mikeGroups.groups[0], { id: GROUP_ID, name: 'General', owner_id: ava.user.id, role: 'member' })

  const members = await membersOfDemoGroup(t, app, mike.auth)
  t.same(
    [...members.members].sort((a, b) => a - b),
    [ava.user.id, mike.user.id].sort((a, b) => a - b),
    'members are exactly Ava and Mike',
  )
  t.equal(members.count, 2)
  const roles = Object.fromEntries(members.member_details.map((m) => [m.username, m.role]))
  t.same(roles, { Ava: 'owner', Mike: 'member' })

  const users = await allUsers(t, app, ava.auth)
  t.equal(users.count, 2, 'exactly two users exist')
  t.same(
    users.users.map((u) => [u.username, u.email]),
    [
      ['Ava', 'ava@temp.com'],
      ['Mike', null],
    ],
    'Ava sees her own email only',
  )
})

t.test('the demo users keep their password "password"; a new account may not choose it', async (t) => {
  const app = await start(t, join(tempDir(t), 'demo.db'))
  await login(t, app, 'ava@temp.com')
  const res = await app.inject({
    method: 'POST',
    url: '/v1/users/register',
    payload: { username: 'copycat', email: 'copycat@temp.com', password: 'password' },
  })
  t.equal(res.statusCode, 400)
  t.equal(res.json<ErrorBody>().code, 'WEAK_PASSWORD', 'only the seeded data is exempt')
})

t.test('a restart on the same file neither duplicates nor resets the demo data', async (t) => {
  const dbFile = join(tempDir(t), 'demo.db')
  const first = await start(t, dbFile)
  const ava1 = await login(t, first, 'ava@temp.com')
  const mike1 = await login(t, first, 'mike@temp.com')
  await first.close()

  const second = await start(t, dbFile)
  const ava2 = await login(t, second, 'ava@temp.com')
  const mike2 = await login(t, second, 'mike@temp.com')
  t.equal(ava2.user.id, ava1.user.id, 'Ava keeps her id')
  t.equal(mike2.user.id, mike1.user.id, 'Mike keeps his id')

  const users = await allUsers(t, second, ava2.auth)
  t.equal(users.count, 2, 'still exactly two users')
  t.equal(users.has_more, false)
  const groups = await groupsOf(t, second, ava2.auth)
  t.equal(groups.count, 1, 'still one group')
  t.match(groups.groups[0], { id: GROUP_ID, name: 'General', owner_id: ava1.user.id })
  const members = await membersOfDemoGroup(t, second, ava2.auth)
  t.equal(members.count, 2, 'still two members')

  // A third start is no different.
  await second.close()
  const third = await start(t, dbFile)
  const ava3 = await login(t, third, 'ava@temp.com')
  t.equal((await allUsers(t, third, ava3.auth)).count, 2, 'two users after a third start')
  t.equal((await groupsOf(t, third, ava3.auth)).count, 1, 'one group after a third start')
})

t.test('changes made to the demo data survive a restart', async (t) => {
  const dbFile = join(tempDir(t), 'demo.db')
  const first = await start(t, dbFile)
  const ava = await login(t, first, 'ava@temp.com')
  const zoe = await register(first, 'zoe')
  const added = await first.inject({
    method: 'POST',
    url: `/v1/groups/${GROUP_ID}/members`,
    headers: ava.auth,
    payload: { user_id: zoe.id },
  })
  t.equal(added.statusCode, 200)
  t.equal(added.json<{ added: boolean }>().added, true, 'Zoe added to General')
  const posted = await first.inject({
    method: 'POST',
    url: `/v1/messages/group/${GROUP_ID}`,
    headers: ava.auth,
    payload: { content: 'before the restart' },
  })
  t.equal(posted.statusCode, 201)
  const messageId = posted.json<{ id: number }>().id
  await first.close()

  const second = await start(t, dbFile)
  const ava2 = await login(t, second, 'ava@temp.com')
  const mike2 = await login(t, second, 'mike@temp.com')
  const members = await membersOfDemoGroup(t, second, ava2.auth)
  t.same(
    [...members.members].sort((a, b) => a - b),
    [ava2.user.id, mike2.user.id, zoe.id].sort((a, b) => a - b),
    'Zoe is still a member: the group was not reset',
  )
  const history = await second.inject({ method: 'GET', url: `/v1/groups/${GROUP_ID}/messages`, headers: mike2.auth })
  t.equal(history.statusCode, 200)
  const messages = history.json<{ messages: Array<{ id: number; content: string }> }>().messages
  t.same(
    messages.map((m) => ({ id: m.id, content: m.content })),
    [{ id: messageId, content: 'before the restart' }],
    'the message is kept',
  )
  const users = await allUsers(t, second, ava2.auth)
  t.equal(users.count, 3, 'Ava, Mike and Zoe: nobody duplicated')
  t.equal((await groupsOf(t, second, ava2.auth)).count, 1, 'no second demo group')
})

t.test('with demoData false there is no Ava and no group 1', async (t) => {
  const dbFile = join(tempDir(t), 'plain.db')
  const app = await start(t, dbFile, { demoData: false })

  const res = await app.inject({
    method: 'POST',
    url: '/v1/users/login',
    payload: { email: 'ava@temp.com', password: 'password' },
  })
  t.equal(res.statusCode, 401)
  t.equal(res.json<ErrorBody>().code, 'INVALID_CREDENTIALS')

  const someone = await register(app, 'someone')
  const group = await app.inject({ method: 'GET', url: `/v1/groups/${GROUP_ID}/members`, headers: someone.auth })
  t.equal(group.statusCode, 404)
  t.equal(group.json<ErrorBody>().code, 'GROUP_NOT_FOUND')
  const users = await allUsers(t, app, someone.auth)
  t.same(
    users.users.map((u) => u.id),
    [someone.id],
    'the only user is the one just registered',
  )
})

t.test('production with a strong secret and no demoData option creates no demo users', async (t) => {
  const dbFile = join(tempDir(t), 'prod.db')
  const app = await buildApp({ dbFile, env: {}, jwtSecret: TEST_SECRET, nodeEnv: 'production' })
  t.teardown(() => app.close())
  await app.ready()

  for (const email of ['ava@temp.com', 'mike@temp.com']) {
    const res = await app.inject({ method: 'POST', url: '/v1/users/login', payload: { email, password: 'password' } })
    t.equal(res.statusCode, 401, `${email} does not exist`)
    t.equal(res.json<ErrorBody>().code, 'INVALID_CREDENTIALS')
  }
  const someone = await register(app, 'someone')
  const group = await app.inject({ method: 'GET', url: `/v1/groups/${GROUP_ID}/members`, headers: someone.auth })
  t.equal(group.statusCode, 404)
  t.equal(group.json<ErrorBody>().code, 'GROUP_NOT_FOUND')
  t.equal((await allUsers(t, app, someone.auth)).count, 1, 'only the user just registered')
})
