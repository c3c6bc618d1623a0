import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { ChatServerOptions } from '../../src/options.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import {
  build,
  type Account,
  Client,
  createGroup,
  freshSchema,
  listen,
  register,
  settle,
  TEST_DATABASE_URL,
  TEST_ON_POSTGRES,
  tempDir,
} from '../helpers.js'

// Who may post to a group and who receives its messages follows every change of its members at once,
// also a change made by another server process on the same database.

/** One database for two server processes side by side: a SQLite file, or a PostgreSQL schema. */
function sharedDatabase(t: Test): ChatServerOptions {
  return TEST_ON_POSTGRES
    ? { databaseUrl: TEST_DATABASE_URL, databaseSchema: freshSchema(t) }
    : { dbFile: join(tempDir(t), 'shared.db') }
}

const post = (app: FastifyInstance, groupId: number, account: Account, content: string) =>
  app.inject({ method: 'POST', url: `/v1/messages/group/${groupId}`, headers: account.auth, payload: { content } })

t.test('a member removed or added through another process can post, and receives, accordingly', async (t) => {
  const database = sharedDatabase(t)
  const a = await build(t, database)
  const b = await build(t, database)
  const port = await listen(a)
  const [ava, mike] = [await register(a, 'ava'), await register(a, 'mike')]
  const groupId = await createGroup(a, ava, [mike])
  const mikeSocket = await Client.connect(t, port, mike.token)

  t.equal((await post(a, groupId, ava, 'before')).statusCode, 201, 'the group is in use on A')
  await mikeSocket.waitFor((f) => f.content === 'before')

  const removed = await b.inject({
    method: 'DELETE',
    url: `/v1/groups/${groupId}/members/${mike.id}`,
    headers: ava.auth,
  })
  t.equal(removed.statusCode, 200, 'B removes Mike')
  const refused = await post(a, groupId, mike, 'still here?')
  t.equal(refused.statusCode, 403, 'A refuses his post at once')
  t.equal(refused.json<ErrorBody>().code, 'NOT_A_MEMBER')
  t.equal((await post(a, groupId, ava, 'after removal')).statusCode, 201)
  await post(a, groupId, ava, 'marker')
  await settle()
  t.notOk(
    mikeSocket.frames.some((f) => f.type === 'group_message' && f.content === 'after removal'),
    'and no longer delivers the group to him',
  )

  const added = await b.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: ava.auth,
    payload: { user_id: mike.id },
  })
  t.equal(added.statusCode, 200, 'B adds him back')
  t.equal((await post(a, groupId, mike, 'back')).statusCode, 201, 'A lets him post again')
  await post(a, groupId, ava, 'welcome back')
  await mikeSocket.waitFor((f) => f.content === 'welcome back')
  t.pass('and delivers to him again')
})

t.test('a member removed or added on the same server takes effect on the next send', async (t) => {
  const app = await build(t)
  const [ava, mike] = [await register(app, 'ava'), await register(app, 'mike')]
  const groupId = await createGroup(app, ava, [mike])
  t.equal((await post(app, groupId, mike, 'one')).statusCode, 201)
  await app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}/members/${mike.id}`, headers: mike.auth })
  t.equal((await post(app, groupId, mike, 'two')).statusCode, 403, 'after leaving')
  await app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: ava.auth,
    payload: { user_id: mike.id },
  })
  t.equal((await post(app, groupId, mike, 'three')).statusCode, 201, 'after being added back')
})

t.test('a group created after a send to its id was refused is usable at once', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const first = await createGroup(app, ava)
  const next = first + 1
  const early = await post(app, next, ava, 'too early')
  t.equal(early.statusCode, 404, 'no such group yet')
  const created = await createGroup(app, ava)
  t.equal(created, next, 'the next group takes that id')
  t.equal((await post(app, created, ava, 'now')).statusCode, 201, 'and its owner can post to it')
})

t.test('a deleted group refuses posts', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  t.equal((await post(app, groupId, ava, 'hello')).statusCode, 201)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}`, headers: ava.auth })).statusCode, 200)
  t.equal((await post(app, groupId, ava, 'anyone?')).statusCode, 404)
})
