import { FormatRegistry } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { ErrorBody } from '../../src/schemas/common.js'
import { GroupDeletedOut, GroupUpdatedOut, MemberAddedOut, MemberRemovedOut } from '../../src/schemas/frames/index.js'
import { build, Client, createGroup, listen, register, settle, testDb, type Account, type Frame } from '../helpers.js'

type TestDb = Awaited<ReturnType<typeof buildWithDb>>['db']
type Reply = { statusCode: number; json<T>(): T }

const UNKNOWN_ID = 999_999
const MEMBERSHIP_FRAMES = new Set(['member_added', 'member_removed', 'group_updated', 'group_deleted'])

// TypeBox's compiler knows no formats by itself; the frames carry ISO times.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value))
}
const checkers = {
  member_added: TypeCompiler.Compile(MemberAddedOut),
  member_removed: TypeCompiler.Compile(MemberRemovedOut),
  group_updated: TypeCompiler.Compile(GroupUpdatedOut),
  group_deleted: TypeCompiler.Compile(GroupDeletedOut),
}

function refused(t: Test, res: Reply, status: number, code: string, what: string) {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  const body = res.json<ErrorBody>()
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.statusCode, status, `${what}: statusCode in body`)
  t.type(body.error, 'string', `${what}: has an error sentence`)
}

/** An app on a database the test opened itself, so it can read the rows behind the API. */
async function buildWithDb(t: Test) {
  const db = await testDb(t)
  const app = await build(t, { db })
  t.teardown(async () => {
    await app.close()
    await db.destroy()
  })
  return { app, db }
}

/** Everything stored about a group, read straight from the database. */
async function snapshot(db: TestDb, groupId: number) {
  const group = await db.selectFrom('groups').selectAll().where('id', '=', groupId).executeTakeFirst()
  const members = await db
    .selectFrom('group_members')
    .selectAll()
    .where('group_id', '=', groupId)
    .orderBy('user_id')
    .execute()
  const messages = await db.selectFrom('messages').select('id').where('group_id', '=', groupId).execute()
  return { group, members, messageCount: messages.length }
}

async function rolesOf(db: TestDb, groupId: number): Promise<Record<number, string>> {
  const { members } = await snapshot(db, groupId)
  return Object.fromEntries(members.map((m) => [m.user_id, m.role]))
}

/** Membership frames a socket received, each checked against its documented schema. */
function membershipFrames(t: Test, client: Client): Frame[] {
  const frames = client.frames.filter((f) => MEMBERSHIP_FRAMES.has(f.type))
  for (const frame of frames) {
    const checker = checkers[frame.type as keyof typeof checkers]
    t.ok(checker.Check(frame), `${frame.type} frame matches its schema: ${JSON.stringify(frame)}`)
  }
  return frames
}

function rename(app: FastifyInstance, who: Account, groupId: number | string, payload: unknown) {
  return app.inject({
    method: 'PATCH',
    url: `/v1/groups/${groupId}`,
    headers: who.auth,
    payload: payload as Record<string, unknown>,
  })
}

function deleteGroup(app: FastifyInstance, who: Account, groupId: number | string) {
  return app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}`, headers: who.auth })
}

function setRole(
  app: FastifyInstance,
  who: Account,
  groupId: number | string,
  userId: number | string,
  payload: unknown,
) {
  return app.inject({
    method: 'PATCH',
    url: `/v1/groups/${groupId}/members/${userId}`,
    headers: who.auth,
    payload: payload as Record<string, unknown>,
  })
}

function removeMember(app: FastifyInstance, who: Account, groupId: number | string, userId: number | string) {
  return app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}/members/${userId}`, headers: who.auth })
}

function post(
  app: FastifyInstance,
  who: Account,
  groupId: number,
  content: string,
  extra: Record<string, unknown> = {},
) {
  return app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: who.auth,
    payload: { content, ...extra },
  })
}

function history(app: FastifyInstance, who: Account, groupId: number) {
  return app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: who.auth })
}

/**
 * A group owned by ava with mike as admin and zoe as a plain member; bob is registered but outside.
 * Everyone has a socket open, ava two.
 */
async function setup(t: Test) {
  const { app, db } = await buildWithDb(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const bob = await register(app, 'bob')
  const groupId = await createGroup(app, ava, [mike, zoe], 'crew')
  const promoted = await setRole(app, ava, groupId, mike.id, { role: 'admin' })
  if (promoted.statusCode !== 200) throw new Error(`promote failed: ${promoted.body}`)
  const sockets = {
    ava: await Client.connect(t, port, ava.token),
    avaLaptop: await Client.connect(t, port, ava.token),
    mike: await Client.connect(t, port, mike.token),
    zoe: await Client.connect(t, port, zoe.token),
    bob: await Client.connect(t, port, bob.token),
  }
  return { app, db, port, ava, mike, zoe, bob, groupId, sockets }
}

type Setup = Awaited<ReturnType<typeof setup>>

/** Asserts that no socket received a membership frame (after giving stray frames time to arrive). */
async function noMembershipFrames(t: Test, sockets: Setup['sockets'], what: string) {
  await settle()
  for (const [name, client] of Object.entries(sockets)) {
    t.same(membershipFrames(t, client), [], `${what}: ${name} got no membership frame`)
  }
}

t.test('the owner renames the group and every member’s sockets get group_updated', async (t) => {
  const { app, ava, mike, zoe, bob, groupId, sockets } = await setup(t)

  const res = await rename(app, ava, groupId, { name: '  Renamed crew ' })
  t.equal(res.statusCode, 200)
  const group = res.json<Record<string, unknown>>()
  t.match(group, {
    id: groupId,
    group_id: groupId,
    name: 'Renamed crew',
    owner_id: ava.id,
    member_count: 3,
    role: 'owner',
  })

  for (const name of ['ava', 'avaLaptop', 'mike', 'zoe'] as const) {
    const frame = await sockets[name].waitFor((f) => f.type === 'group_updated')
    t.match(frame, { type: 'group_updated', id: groupId, group_id: groupId, name: 'Renamed crew', owner_id: ava.id })
    t.notOk('role' in frame, `${name}: the frame carries no per-viewer role`)
    t.notOk('roles' in frame, `${name}: a rename lists no role changes`)
    t.equal(membershipFrames(t, sockets[name]).length, 1, `${name}: exactly one frame`)
  }
  await settle()
  t.same(sockets.bob.frames, [], 'a non-member hears nothing')

  for (const who of [mike, zoe]) {
    const mine = await app.inject({ method: 'GET', url: '/v1/groups', headers: who.auth })
    t.equal(
      mine.json<{ groups: Array<{ name: string }> }>().groups[0]?.name,
      'Renamed crew',
      'members see the new name',
    )
  }
  t.ok(bob, 'bob exists')
})

t.test('only the owner renames; refusals change nothing and send nothing', async (t) => {
  const { app, db, ava, mike, zoe, bob, groupId, sockets } = await setup(t)
  const before = await snapshot(db, groupId)

  refused(t, await rename(app, mike, groupId, { name: 'admin was here' }), 403, 'NOT_GROUP_OWNER', 'admin renaming')
  refused(t, await rename(app, zoe, groupId, { name: 'member was here' }), 403, 'NOT_GROUP_OWNER', 'member renaming')
  refused(t, await rename(app, bob, groupId, { name: 'outsider' }), 403, 'NOT_A_MEMBER', 'non-member renaming')
  refused(t, await rename(app, ava, UNKNOWN_ID, { name: 'nowhere' }), 404, 'GROUP_NOT_FOUND', 'unknown group')
  const badBodies: Array<[string, unknown]> = [
    ['missing name', {}],
    ['empty name', { name: '' }],
    ['blank name', { name: '   ' }],
    ['101-character name', { name: 'x'.repeat(101) }],
    ['numeric name', { name: 42 }],
    ['null name', { name: null }],
  ]
  for (const [what, payload] of badBodies) {
    const res = await rename(app, ava, groupId, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, /name/, `${what}: names the field`)
  }
  for (const bad of ['abc', '0', '-1', '1.5']) {
    refused(t, await rename(app, ava, bad, { name: 'ok' }), 400, 'VALIDATION_ERROR', `group id ${bad}`)
  }
  refused(
    t,
    await app.inject({ method: 'PATCH', url: `/v1/groups/${groupId}`, payload: { name: 'x' } }),
    401,
    'MISSING_TOKEN',
    'no token',
  )

  t.same(await snapshot(db, groupId), before, 'group, members and messages unchanged')
  await noMembershipFrames(t, sockets, 'after refused renames')
})

t.test('the owner deletes the group: members, messages, replies and reactions go with it', async (t) => {
  const { app, db, ava, mike, zoe, bob, groupId, sockets } = await setup(t)
  const otherGroup = await createGroup(app, mike, [zoe], 'other')
  const first = (await post(app, zoe, groupId, 'first')).json<{ id: number }>()
  const reply = await post(app, mike, groupId, 'a reply', { reply_to_id: first.id })
  t.equal(reply.statusCode, 201)
  const kept = (await post(app, zoe, otherGroup, 'in another group')).json<{ id: number }>()
  const now = new Date().toISOString()
  await db
    .insertInto('reactions')
    .values([
      { message_id: first.id, user_id: mike.id, emoji: '👍', created_at: now },
      { message_id: kept.id, user_id: mike.id, emoji: '👍', created_at: now },
    ])
    .execute()
  await db.updateTable('group_members').set({ last_read_id: first.id }).where('group_id', '=', groupId).execute()

  const res = await deleteGroup(app, ava, groupId)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'Group deleted', group_id: groupId })

  for (const name of ['ava', 'avaLaptop', 'mike', 'zoe'] as const) {
    const frame = await sockets[name].waitFor((f) => f.type === 'group_deleted')
    t.same(frame, { type: 'group_deleted', group_id: groupId }, `${name} is told`)
    membershipFrames(t, sockets[name])
  }
  await settle()
  t.same(sockets.bob.frames, [], 'a non-member hears nothing')

  const after = await snapshot(db, groupId)
  t.same(after, { group: undefined, members: [], messageCount: 0 }, 'the group, its members and messages are gone')
  const reactions = await db.selectFrom('reactions').select('message_id').execute()
  t.same(reactions, [{ message_id: kept.id }], 'the group’s reactions are gone; another group’s stay')
  t.equal((await snapshot(db, otherGroup)).messageCount, 1, 'another group keeps its messages')

  refused(t, await history(app, ava, groupId), 404, 'GROUP_NOT_FOUND', 'history after delete')
  refused(t, await post(app, mike, groupId, 'anyone?'), 404, 'GROUP_NOT_FOUND', 'posting after delete')
  refused(
    t,
    await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/members`, headers: zoe.auth }),
    404,
    'GROUP_NOT_FOUND',
    'members after delete',
  )
  refused(t, await deleteGroup(app, ava, groupId), 404, 'GROUP_NOT_FOUND', 'deleting twice')
  const zoes = await app.inject({ method: 'GET', url: '/v1/groups', headers: zoe.auth })
  t.same(
    zoes.json<{ groups: Array<{ id: number }> }>().groups.map((g) => g.id),
    [otherGroup],
    'the group left every member’s list',
  )
  t.ok(bob)
})

t.test('only the owner deletes; refusals change nothing and send nothing', async (t) => {
  const { app, db, ava, mike, zoe, bob, groupId, sockets } = await setup(t)
  await post(app, zoe, groupId, 'keep me')
  const before = await snapshot(db, groupId)

  refused(t, await deleteGroup(app, mike, groupId), 403, 'NOT_GROUP_OWNER', 'admin deleting')
  refused(t, await deleteGroup(app, zoe, groupId), 403, 'NOT_GROUP_OWNER', 'member deleting')
  refused(t, await deleteGroup(app, bob, groupId), 403, 'NOT_A_MEMBER', 'non-member deleting')
  refused(t, await deleteGroup(app, ava, UNKNOWN_ID), 404, 'GROUP_NOT_FOUND', 'unknown group')
  for (const bad of ['abc', '0', '-1', '1.5']) {
    refused(t, await deleteGroup(app, ava, bad), 400, 'VALIDATION_ERROR', `group id ${bad}`)
  }
  refused(t, await app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}` }), 401, 'MISSING_TOKEN', 'no token')

  t.same(await snapshot(db, groupId), before, 'group, members and messages unchanged')
  t.equal(before.messageCount, 1)
  // group_message frames from the post above are expected; membership frames are not.
  await noMembershipFrames(t, sockets, 'after refused deletes')
})

t.test('the owner promotes and demotes; each change is announced with the roles that changed', async (t) => {
  const { app, db, ava, mike, zoe, groupId, sockets } = await setup(t)

  const promote = await setRole(app, ava, groupId, zoe.id, { role: 'admin' })
  t.equal(promote.statusCode, 200)
  t.same(promote.json(), {
    message: 'Role changed to admin',
    group_id: groupId,
    user_id: zoe.id,
    role: 'admin',
    previous_role: 'member',
    changed: true,
    owner_id: ava.id,
  })
  t.same(await rolesOf(db, groupId), { [ava.id]: 'owner', [mike.id]: 'admin', [zoe.id]: 'admin' })
  for (const name of ['ava', 'avaLaptop', 'mike', 'zoe'] as const) {
    const frame = await sockets[name].waitFor((f) => f.type === 'group_updated')
    t.match(frame, {
      type: 'group_updated',
      id: groupId,
      owner_id: ava.id,
      roles: [{ user_id: zoe.id, role: 'admin' }],
    })
  }

  const again = await setRole(app, ava, groupId, zoe.id, { role: 'admin' })
  t.equal(again.statusCode, 200)
  t.match(
    again.json(),
    { changed: false, role: 'admin', previous_role: 'admin' },
    'the same role again changes nothing',
  )

  const demote = await setRole(app, ava, groupId, mike.id, { role: 'member' })
  t.equal(demote.statusCode, 200)
  t.match(demote.json(), { user_id: mike.id, role: 'member', previous_role: 'admin', changed: true })
  const demoted = await sockets.mike.waitFor(
    (f) => f.type === 'group_updated' && JSON.stringify(f.roles).includes('"member"'),
  )
  t.same(demoted.roles, [{ user_id: mike.id, role: 'member' }])

  const ownerAgain = await setRole(app, ava, groupId, ava.id, { role: 'owner' })
  t.equal(ownerAgain.statusCode, 200)
  t.match(ownerAgain.json(), { changed: false, role: 'owner' }, 'the owner asking to be owner changes nothing')

  await settle()
  for (const name of ['ava', 'avaLaptop', 'mike', 'zoe'] as const) {
    t.equal(membershipFrames(t, sockets[name]).length, 2, `${name}: one frame per real change, none for no-ops`)
  }
  t.same(sockets.bob.frames, [], 'a non-member hears nothing')

  const members = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/members`, headers: zoe.auth })
  const roles = Object.fromEntries(
    members
      .json<{ member_details: Array<{ user_id: number; role: string }> }>()
      .member_details.map((m) => [m.user_id, m.role]),
  )
  t.same(roles, { [ava.id]: 'owner', [mike.id]: 'member', [zoe.id]: 'admin' }, 'the members list shows the roles')
})

t.test('only the owner changes roles; refusals change nothing and send nothing', async (t) => {
  const { app, db, ava, mike, zoe, bob, groupId, sockets } = await setup(t)
  const before = await snapshot(db, groupId)

  refused(t, await setRole(app, mike, groupId, zoe.id, { role: 'admin' }), 403, 'NOT_GROUP_OWNER', 'admin promoting')
  refused(
    t,
    await setRole(app, mike, groupId, mike.id, { role: 'owner' }),
    403,
    'NOT_GROUP_OWNER',
    'admin taking ownership',
  )
  refused(
    t,
    await setRole(app, mike, groupId, ava.id, { role: 'member' }),
    403,
    'NOT_GROUP_OWNER',
    'admin demoting the owner',
  )
  refused(
    t,
    await setRole(app, zoe, groupId, zoe.id, { role: 'admin' }),
    403,
    'NOT_GROUP_OWNER',
    'member promoting self',
  )
  refused(t, await setRole(app, bob, groupId, bob.id, { role: 'admin' }), 403, 'NOT_A_MEMBER', 'non-member')
  refused(t, await setRole(app, ava, UNKNOWN_ID, zoe.id, { role: 'admin' }), 404, 'GROUP_NOT_FOUND', 'unknown group')
  refused(
    t,
    await setRole(app, ava, groupId, bob.id, { role: 'admin' }),
    404,
    'MEMBER_NOT_FOUND',
    'a user outside the group',
  )
  refused(
    t,
    await setRole(app, ava, groupId, bob.id, { role: 'owner' }),
    404,
    'MEMBER_NOT_FOUND',
    'ownership to an outsider',
  )
  refused(
    t,
    await setRole(app, ava, groupId, UNKNOWN_ID, { role: 'admin' }),
    404,
    'MEMBER_NOT_FOUND',
    'an unknown user',
  )
  for (const role of ['admin', 'member'] as const) {
    refused(
      t,
      await setRole(app, ava, groupId, ava.id, { role }),
      409,
      'OWNER_MUST_TRANSFER',
      `owner stepping down to ${role}`,
    )
  }
  const badBodies: Array<[string, unknown]> = [
    ['missing role', {}],
    ['unknown role', { role: 'superuser' }],
    ['upper-case role', { role: 'ADMIN' }],
    ['numeric role', { role: 1 }],
    ['null role', { role: null }],
  ]
  for (const [what, payload] of badBodies) {
    const res = await setRole(app, ava, groupId, zoe.id, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, /role/, `${what}: names the field`)
  }
  for (const bad of ['abc', '0', '-1', '1.5']) {
    refused(t, await setRole(app, ava, bad, zoe.id, { role: 'admin' }), 400, 'VALIDATION_ERROR', `group id ${bad}`)
    refused(t, await setRole(app, ava, groupId, bad, { role: 'admin' }), 400, 'VALIDATION_ERROR', `user id ${bad}`)
  }
  refused(
    t,
    await app.inject({ method: 'PATCH', url: `/v1/groups/${groupId}/members/${zoe.id}`, payload: { role: 'admin' } }),
    401,
    'MISSING_TOKEN',
    'no token',
  )

  t.same(await snapshot(db, groupId), before, 'group, members and roles unchanged')
  await noMembershipFrames(t, sockets, 'after refused role changes')
})

t.test('role owner transfers ownership in one step; the old owner becomes an admin', async (t) => {
  const { app, db, ava, mike, zoe, groupId, sockets } = await setup(t)

  const res = await setRole(app, ava, groupId, zoe.id, { role: 'owner' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    message: 'Role changed to owner',
    group_id: groupId,
    user_id: zoe.id,
    role: 'owner',
    previous_role: 'member',
    changed: true,
    owner_id: zoe.id,
  })
  const after = await snapshot(db, groupId)
  t.equal(after.group?.owner_id, zoe.id, 'groups.owner_id moved')
  t.same(await rolesOf(db, groupId), { [ava.id]: 'admin', [mike.id]: 'admin', [zoe.id]: 'owner' })

  for (const name of ['ava', 'avaLaptop', 'mike', 'zoe'] as const) {
    const frame = await sockets[name].waitFor((f) => f.type === 'group_updated')
    t.match(frame, { type: 'group_updated', id: groupId, owner_id: zoe.id })
    t.same(
      frame.roles,
      [
        { user_id: zoe.id, role: 'owner' },
        { user_id: ava.id, role: 'admin' },
      ],
      `${name}: both changed roles are listed`,
    )
  }

  const listed = await app.inject({ method: 'GET', url: '/v1/groups', headers: zoe.auth })
  t.match(listed.json<{ groups: unknown[] }>().groups[0], { id: groupId, owner_id: zoe.id, role: 'owner' })

  // The powers moved with it.
  refused(t, await rename(app, ava, groupId, { name: 'mine again' }), 403, 'NOT_GROUP_OWNER', 'the old owner renaming')
  refused(
    t,
    await setRole(app, ava, groupId, ava.id, { role: 'owner' }),
    403,
    'NOT_GROUP_OWNER',
    'the old owner taking it back',
  )
  refused(t, await removeMember(app, zoe, groupId, zoe.id), 409, 'OWNER_CANNOT_LEAVE', 'the new owner leaving')
  t.equal((await rename(app, zoe, groupId, { name: 'zoe’s crew' })).statusCode, 200, 'the new owner renames')

  const left = await removeMember(app, ava, groupId, ava.id)
  t.equal(left.statusCode, 200, 'the old owner, now an admin, may leave')
  t.match(left.json(), { group_id: groupId, user_id: ava.id, left: true })
  t.same(await rolesOf(db, groupId), { [mike.id]: 'admin', [zoe.id]: 'owner' })
})

t.test('an admin removes a member: the removed user’s sockets stop receiving the group at once', async (t) => {
  const { app, db, port, ava, mike, zoe, bob, groupId, sockets } = await setup(t)
  const zoePhone = await Client.connect(t, port, zoe.token)

  const res = await removeMember(app, mike, groupId, zoe.id)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'Member removed', group_id: groupId, user_id: zoe.id, left: false })
  t.same(await rolesOf(db, groupId), { [ava.id]: 'owner', [mike.id]: 'admin' })

  const expected = { type: 'member_removed', group_id: groupId, user_id: zoe.id }
  for (const [name, client] of Object.entries({ ...sockets, zoePhone })) {
    if (name === 'bob') continue
    t.same(await client.waitFor((f) => f.type === 'member_removed'), expected, `${name} is told`)
    membershipFrames(t, client)
  }

  // A message after the removal, over REST and over a socket, reaches the rest but not zoe.
  const rest = await post(app, ava, groupId, 'after zoe left')
  t.equal(rest.statusCode, 201)
  const ack = await sockets.mike.request({ type: 'group_message', group_id: groupId, content: 'also after' })
  t.equal(ack.type, 'ack')
  for (const name of ['ava', 'avaLaptop', 'mike'] as const) {
    await sockets[name].waitFor((f) => f.type === 'group_message' && f.content === 'also after')
    await sockets[name].waitFor((f) => f.type === 'group_message' && f.content === 'after zoe left')
  }
  await settle()
  for (const client of [sockets.zoe, zoePhone]) {
    t.same(
      client.frames.filter((f) => f.type === 'group_message'),
      [],
      'zoe’s sockets get no more group messages',
    )
  }
  t.same(sockets.bob.frames, [], 'a non-member hears nothing')

  refused(t, await history(app, zoe, groupId), 403, 'NOT_A_MEMBER', 'the removed member reading history')
  refused(t, await post(app, zoe, groupId, 'let me back'), 403, 'NOT_A_MEMBER', 'the removed member posting')
  const viaSocket = await sockets.zoe.request({ type: 'group_message', group_id: groupId, content: 'socket?' })
  t.match(viaSocket, { type: 'error', code: 'NOT_A_MEMBER' }, 'the removed member posting over the socket')
  refused(
    t,
    await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/members`, headers: zoe.auth }),
    403,
    'NOT_A_MEMBER',
    'the removed member listing members',
  )
  const zoes = await app.inject({ method: 'GET', url: '/v1/groups', headers: zoe.auth })
  t.equal(zoes.json<{ count: number }>().count, 0, 'the group left zoe’s list')
  t.ok(bob)
})

t.test('the owner removes an admin and a member; a member leaves', async (t) => {
  const { app, db, ava, mike, zoe, groupId, sockets } = await setup(t)
  const extra = await register(app, 'extra')
  await app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: ava.auth,
    payload: { user_id: extra.id },
  })

  const removedAdmin = await removeMember(app, ava, groupId, mike.id)
  t.equal(removedAdmin.statusCode, 200, 'the owner removes an admin')
  t.same(await sockets.mike.waitFor((f) => f.type === 'member_removed'), {
    type: 'member_removed',
    group_id: groupId,
    user_id: mike.id,
  })

  const removedMember = await removeMember(app, ava, groupId, extra.id)
  t.equal(removedMember.statusCode, 200, 'the owner removes a member')

  const left = await removeMember(app, zoe, groupId, zoe.id)
  t.equal(left.statusCode, 200)
  t.same(left.json(), { message: 'You left the group', group_id: groupId, user_id: zoe.id, left: true })
  t.same(
    await sockets.zoe.waitFor((f) => f.type === 'member_removed' && f.user_id === zoe.id),
    {
      type: 'member_removed',
      group_id: groupId,
      user_id: zoe.id,
    },
    'the leaver’s own sockets are told',
  )
  t.same(await rolesOf(db, groupId), { [ava.id]: 'owner' })

  await settle()
  const avaRemovals = membershipFrames(t, sockets.ava).filter((f) => f.type === 'member_removed')
  t.same(
    avaRemovals.map((f) => f.user_id),
    [mike.id, extra.id, zoe.id],
    'the owner heard every removal once, in order',
  )
  const mikeRemovals = membershipFrames(t, sockets.mike).filter((f) => f.type === 'member_removed')
  t.same(
    mikeRemovals.map((f) => f.user_id),
    [mike.id],
    'a removed user hears only of their own removal',
  )
  refused(t, await removeMember(app, zoe, groupId, zoe.id), 403, 'NOT_A_MEMBER', 'leaving twice')
})

t.test('removal refusals: wrong role, the owner, unknown members; nothing changes', async (t) => {
  const { app, db, ava, mike, zoe, bob, groupId, sockets } = await setup(t)
  const otherAdmin = await register(app, 'admin2')
  await app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: ava.auth,
    payload: { user_id: otherAdmin.id },
  })
  await setRole(app, ava, groupId, otherAdmin.id, { role: 'admin' })
  await settle()
  for (const client of Object.values(sockets)) client.frames.length = 0
  const before = await snapshot(db, groupId)

  refused(
    t,
    await removeMember(app, mike, groupId, otherAdmin.id),
    403,
    'NOT_GROUP_OWNER',
    'an admin removing an admin',
  )
  refused(t, await removeMember(app, mike, groupId, ava.id), 403, 'CANNOT_REMOVE_OWNER', 'an admin removing the owner')
  refused(t, await removeMember(app, zoe, groupId, mike.id), 403, 'NOT_GROUP_ADMIN', 'a member removing an admin')
  refused(t, await removeMember(app, zoe, groupId, ava.id), 403, 'NOT_GROUP_ADMIN', 'a member removing the owner')
  refused(t, await removeMember(app, zoe, groupId, bob.id), 403, 'NOT_GROUP_ADMIN', 'a member removing an outsider')
  refused(t, await removeMember(app, bob, groupId, zoe.id), 403, 'NOT_A_MEMBER', 'an outsider removing a member')
  refused(t, await removeMember(app, bob, groupId, bob.id), 403, 'NOT_A_MEMBER', 'an outsider leaving')
  refused(t, await removeMember(app, ava, groupId, ava.id), 409, 'OWNER_CANNOT_LEAVE', 'the owner leaving')
  refused(t, await removeMember(app, ava, groupId, bob.id), 404, 'MEMBER_NOT_FOUND', 'removing an outsider')
  refused(t, await removeMember(app, mike, groupId, UNKNOWN_ID), 404, 'MEMBER_NOT_FOUND', 'removing an unknown user')
  refused(t, await removeMember(app, ava, UNKNOWN_ID, zoe.id), 404, 'GROUP_NOT_FOUND', 'unknown group')
  for (const bad of ['abc', '0', '-1', '1.5']) {
    refused(t, await removeMember(app, ava, bad, zoe.id), 400, 'VALIDATION_ERROR', `group id ${bad}`)
    refused(t, await removeMember(app, ava, groupId, bad), 400, 'VALIDATION_ERROR', `user id ${bad}`)
  }
  refused(
    t,
    await app.inject({ method: 'DELETE', url: `/v1/groups/${groupId}/members/${zoe.id}` }),
    401,
    'MISSING_TOKEN',
    'no token',
  )

  t.same(await snapshot(db, groupId), before, 'group, members and roles unchanged')
  await noMembershipFrames(t, sockets, 'after refused removals')
})

t.test('adding a member announces member_added to every member, the new one included', async (t) => {
  const { app, port, ava, mike, zoe, bob, groupId, sockets } = await setup(t)
  const bobPhone = await Client.connect(t, port, bob.token)

  const res = await app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: mike.auth,
    payload: { user_id: bob.id },
  })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { added: true })
  const expected = { type: 'member_added', group_id: groupId, user_id: bob.id }
  for (const [name, client] of Object.entries({ ...sockets, bobPhone })) {
    t.same(await client.waitFor((f) => f.type === 'member_added'), expected, `${name} is told`)
  }

  // From now on the new member's open sockets get the group's messages.
  await post(app, zoe, groupId, 'welcome bob')
  for (const client of [sockets.bob, bobPhone]) {
    t.match(await client.waitFor((f) => f.type === 'group_message'), { group_id: groupId, content: 'welcome bob' })
  }

  const again = await app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: ava.auth,
    payload: { user_id: bob.id },
  })
  t.match(again.json(), { added: false })
  const refusedAdd = await app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: zoe.auth,
    payload: { user_id: mike.id },
  })
  t.equal(refusedAdd.statusCode, 403)
  await settle()
  for (const [name, client] of Object.entries({ ...sockets, bobPhone })) {
    t.equal(membershipFrames(t, client).length, 1, `${name}: no frame for a re-add or a refused add`)
  }
})

t.test('a removed member can be added back and hears the group again', async (t) => {
  const { app, db, ava, zoe, groupId, sockets } = await setup(t)
  t.equal((await removeMember(app, ava, groupId, zoe.id)).statusCode, 200)
  await post(app, ava, groupId, 'while zoe was away')
  const back = await app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: ava.auth,
    payload: { user_id: zoe.id },
  })
  t.match(back.json(), { added: true })
  t.same(await sockets.zoe.waitFor((f) => f.type === 'member_added'), {
    type: 'member_added',
    group_id: groupId,
    user_id: zoe.id,
  })
  await post(app, ava, groupId, 'welcome back')
  await sockets.zoe.waitFor((f) => f.type === 'group_message' && f.content === 'welcome back')
  t.same(
    sockets.zoe.frames.filter((f) => f.type === 'group_message').map((f) => f.content),
    ['welcome back'],
    'nothing from the time she was out was pushed to her',
  )
  t.equal((await rolesOf(db, groupId))[zoe.id], 'member', 'back as a plain member')
  t.equal((await history(app, zoe, groupId)).statusCode, 200, 'she reads history again')
})

t.test('concurrent removals of the same member: one succeeds, the other is refused cleanly', async (t) => {
  const { app, db, ava, mike, zoe, groupId, sockets } = await setup(t)
  const [a, b] = await Promise.all([removeMember(app, ava, groupId, zoe.id), removeMember(app, mike, groupId, zoe.id)])
  const statuses = [a.statusCode, b.statusCode].sort()
  t.equal(statuses[0], 200, 'one removal succeeds')
  t.ok([404, 409].includes(statuses[1] ?? 0), `the other is refused with a 4xx (${statuses[1]})`)
  await settle()
  t.equal(
    membershipFrames(t, sockets.ava).filter((f) => f.type === 'member_removed').length,
    1,
    'the removal is announced once',
  )
  t.same(await rolesOf(db, groupId), { [ava.id]: 'owner', [mike.id]: 'admin' })
})
