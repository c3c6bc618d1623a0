import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { ErrorBody } from '../../src/schemas/common.js'
import type { Group as GroupBody, GroupMember as MemberDetail } from '../../src/schemas/group.js'
import { build, createGroup, register, type Account } from '../helpers.js'

interface MembersBody {
  group_id: number
  members: number[]
  member_details: MemberDetail[]
  count: number
}

const UNKNOWN_ID = 999_999

function listMine(app: FastifyInstance, who: Account) {
  return app.inject({ method: 'GET', url: '/v1/groups', headers: who.auth })
}

function members(app: FastifyInstance, who: Account, groupId: number | string) {
  return app.inject({ method: 'GET', url: `/v1/groups/${groupId}/members`, headers: who.auth })
}

/** The members list as the given member reads it; fails the test if it cannot be read. */
async function membersOf(t: Test, app: FastifyInstance, who: Account, groupId: number): Promise<MembersBody> {
  const res = await members(app, who, groupId)
  t.equal(res.statusCode, 200, 'members list readable')
  return res.json<MembersBody>()
}

function addMember(app: FastifyInstance, who: Account, groupId: number | string, payload: unknown) {
  return app.inject({
    method: 'POST',
    url: `/v1/groups/${groupId}/members`,
    headers: who.auth,
    payload: payload as Record<string, unknown>,
  })
}

function refused(t: Test, res: { statusCode: number; json<T>(): T }, status: number, code: string, what: string) {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  const body = res.json<ErrorBody>()
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.statusCode, status, `${what}: statusCode in body`)
  t.type(body.error, 'string', `${what}: has an error sentence`)
}

t.test('creating a group makes the caller its owner and only member', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')

  const res = await app.inject({ method: 'POST', url: '/v1/groups', headers: ava.auth, payload: { name: 'Crew' } })
  t.equal(res.statusCode, 201)
  const group = res.json<GroupBody>()
  t.ok(Number.isInteger(group.id) && group.id > 0, 'has an id')
  t.equal(group.group_id, group.id, 'group_id repeats id')
  t.equal(group.name, 'Crew')
  t.equal(group.owner_id, ava.id)
  t.equal(group.member_count, 1)
  t.equal(group.role, 'owner')
  t.ok(!Number.isNaN(Date.parse(group.created_at)), 'has an ISO created_at')

  const list = await membersOf(t, app, ava, group.id)
  t.equal(list.group_id, group.id)
  t.same(list.members, [ava.id])
  t.equal(list.count, 1)
  t.equal(list.member_details.length, 1)
  t.match(list.member_details[0], { user_id: ava.id, username: ava.username, role: 'owner' })
})

t.test('a group name that is missing, blank, too long or not a string is refused', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')

  const cases: Array<[string, Record<string, unknown>]> = [
    ['missing name', {}],
    ['empty name', { name: '' }],
    ['blank name', { name: '   ' }],
    ['101-character name', { name: 'x'.repeat(101) }],
    ['numeric name', { name: 123 }],
  ]
  for (const [what, payload] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/groups', headers: ava.auth, payload })
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, /name/, `${what}: the message names the field`)
  }

  const mine = await listMine(app, ava)
  t.equal(mine.statusCode, 200)
  t.same(mine.json<{ groups: GroupBody[]; count: number }>(), { groups: [], count: 0 }, 'no group was created')

  const longest = await app.inject({
    method: 'POST',
    url: '/v1/groups',
    headers: ava.auth,
    payload: { name: 'y'.repeat(100) },
  })
  t.equal(longest.statusCode, 201, 'a 100-character name is accepted')
})

t.test('listing groups shows only the groups I am in, each with my role', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const shared = await createGroup(app, ava, [mike], 'shared')
  const mikes = await createGroup(app, mike, [], 'mikes')
  const zoes = await createGroup(app, zoe, [], 'zoes')

  const forAva = await listMine(app, ava)
  t.equal(forAva.statusCode, 200)
  const avaBody = forAva.json<{ groups: GroupBody[]; count: number }>()
  t.equal(avaBody.count, 1)
  t.same(
    avaBody.groups.map((g) => g.id),
    [shared],
    'ava sees only the group she is in',
  )
  t.match(avaBody.groups[0], { id: shared, name: 'shared', owner_id: ava.id, member_count: 2, role: 'owner' })

  const forMike = await listMine(app, mike)
  t.equal(forMike.statusCode, 200)
  const mikeBody = forMike.json<{ groups: GroupBody[]; count: number }>()
  t.equal(mikeBody.count, 2)
  const byId = new Map(mikeBody.groups.map((g) => [g.id, g]))
  t.same(
    [...byId.keys()].sort((a, b) => a - b),
    [shared, mikes].sort((a, b) => a - b),
  )
  t.equal(byId.get(shared)?.role, 'member', 'mike is a plain member of the shared group')
  t.equal(byId.get(mikes)?.role, 'owner', 'mike owns his own group')
  t.notOk(byId.has(zoes), "zoe's group is not in mike's list")
})

t.test('the members list gives ids and each member’s role', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])

  for (const reader of [ava, mike]) {
    const res = await members(app, reader, groupId)
    t.equal(res.statusCode, 200, `${reader.username} may read it`)
    t.notMatch(res.body, /\$argon2/, 'no password hash')
    t.notMatch(res.body, /"password/, 'no password field')
    const body = res.json<MembersBody>()
    t.equal(body.group_id, groupId)
    t.equal(body.count, 2)
    t.same(
      [...body.members].sort((a, b) => a - b),
      [ava.id, mike.id].sort((a, b) => a - b),
    )
    const roles = Object.fromEntries(body.member_details.map((m) => [m.user_id, m.role]))
    t.same(roles, { [ava.id]: 'owner', [mike.id]: 'member' })
    const names = Object.fromEntries(body.member_details.map((m) => [m.user_id, m.username]))
    t.same(names, { [ava.id]: ava.username, [mike.id]: mike.username })
    for (const detail of body.member_details) {
      t.ok(!Number.isNaN(Date.parse(detail.joined_at)), 'joined_at is a time')
    }
  }
})

t.test('a non-member cannot read the members list', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const zoe = await register(app, 'zoe')
  const groupId = await createGroup(app, ava)

  refused(t, await members(app, zoe, groupId), 403, 'NOT_A_MEMBER', 'non-member')
})

t.test('the members list of an unknown group is 404 and a bad id is 400', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  await createGroup(app, ava)

  refused(t, await members(app, ava, UNKNOWN_ID), 404, 'GROUP_NOT_FOUND', 'unknown group')
  for (const bad of ['abc', '0', '-1', '1.5']) {
    refused(t, await members(app, ava, bad), 400, 'VALIDATION_ERROR', `group id ${bad}`)
  }
})

t.test('the owner adds a member, who can then post and read the group', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava)

  const before = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: mike.auth,
    payload: { content: 'let me in' },
  })
  refused(t, before, 403, 'NOT_A_MEMBER', 'posting before being added')

  const res = await addMember(app, ava, groupId, { user_id: mike.id })
  t.equal(res.statusCode, 200)
  const body = res.json<{ message: string; group_id: number; user_id: number; added: boolean }>()
  t.equal(body.group_id, groupId)
  t.equal(body.user_id, mike.id)
  t.equal(body.added, true)
  t.type(body.message, 'string')

  const list = await membersOf(t, app, ava, groupId)
  t.same(
    [...list.members].sort((a, b) => a - b),
    [ava.id, mike.id].sort((a, b) => a - b),
  )
  t.equal(list.member_details.find((m) => m.user_id === mike.id)?.role, 'member', 'added as a plain member')

  const post = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: mike.auth,
    payload: { content: 'thanks for having me' },
  })
  t.equal(post.statusCode, 201, 'the new member can post')
  const messageId = post.json<{ id: number }>().id

  const history = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: mike.auth })
  t.equal(history.statusCode, 200, 'the new member can read')
  t.same(
    history.json<{ messages: Array<{ id: number }> }>().messages.map((m) => m.id),
    [messageId],
  )

  const mikesGroups = await listMine(app, mike)
  t.same(
    mikesGroups.json<{ groups: GroupBody[] }>().groups.map((g) => [g.id, g.role, g.member_count]),
    [[groupId, 'member', 2]],
    'the group now appears in the new member’s list',
  )
})

t.test('adding someone who is already a member answers added:false and changes nothing', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const before = await membersOf(t, app, ava, groupId)

  const again = await addMember(app, ava, groupId, { user_id: mike.id })
  t.equal(again.statusCode, 200)
  t.match(again.json(), { group_id: groupId, user_id: mike.id, added: false })

  const self = await addMember(app, ava, groupId, { user_id: ava.id })
  t.equal(self.statusCode, 200)
  t.match(self.json(), { group_id: groupId, user_id: ava.id, added: false }, 'the owner re-adding herself')

  const after = await membersOf(t, app, ava, groupId)
  t.same(after, before, 'members, roles and join times are unchanged')
  t.equal(after.member_details.find((m) => m.user_id === ava.id)?.role, 'owner', 'the owner is still the owner')
})

t.test('a plain member cannot add members', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const groupId = await createGroup(app, ava, [mike])
  const before = await membersOf(t, app, ava, groupId)

  refused(t, await addMember(app, mike, groupId, { user_id: zoe.id }), 403, 'NOT_GROUP_ADMIN', 'plain member adding')

  t.same(await membersOf(t, app, ava, groupId), before, 'members unchanged')
  refused(t, await members(app, zoe, groupId), 403, 'NOT_A_MEMBER', 'zoe is still not a member')
})

t.test('a non-member cannot add members, not even themselves', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const groupId = await createGroup(app, ava)
  const before = await membersOf(t, app, ava, groupId)

  refused(t, await addMember(app, zoe, groupId, { user_id: mike.id }), 403, 'NOT_A_MEMBER', 'non-member adding other')
  refused(t, await addMember(app, zoe, groupId, { user_id: zoe.id }), 403, 'NOT_A_MEMBER', 'non-member adding self')

  t.same(await membersOf(t, app, ava, groupId), before, 'members unchanged')
})

t.test('adding to an unknown group is 404 GROUP_NOT_FOUND', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  await createGroup(app, ava)

  refused(t, await addMember(app, ava, UNKNOWN_ID, { user_id: mike.id }), 404, 'GROUP_NOT_FOUND', 'unknown group')
  refused(t, await addMember(app, ava, 'abc', { user_id: mike.id }), 400, 'VALIDATION_ERROR', 'group id abc')
  const mikes = await listMine(app, mike)
  t.equal(mikes.json<{ count: number }>().count, 0, 'mike is in no group')
})

t.test('adding an unknown user is 404 USER_NOT_FOUND and changes nothing', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const before = await membersOf(t, app, ava, groupId)

  refused(t, await addMember(app, ava, groupId, { user_id: UNKNOWN_ID }), 404, 'USER_NOT_FOUND', 'unknown user')

  t.same(await membersOf(t, app, ava, groupId), before, 'members unchanged')
})

t.test('a user_id that is missing, not a positive integer, or a string is refused', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava)
  const before = await membersOf(t, app, ava, groupId)

  const cases: Array<[string, Record<string, unknown>]> = [
    ['missing user_id', {}],
    ['user_id "x"', { user_id: 'x' }],
    ['user_id 0', { user_id: 0 }],
    ['user_id -1', { user_id: -1 }],
    ['user_id 1.5', { user_id: 1.5 }],
    // A real user's id, but as a string: bodies are not coerced.
    ['user_id as a numeric string', { user_id: String(mike.id) }],
  ]
  for (const [what, payload] of cases) {
    const res = await addMember(app, ava, groupId, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, /user_id/, `${what}: the message names the field`)
  }

  t.same(await membersOf(t, app, ava, groupId), before, 'members unchanged')
})

t.test('every group route needs a token', async (t) => {
  const app = await build(t)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava)

  const requests = [
    { method: 'POST' as const, url: '/v1/groups', payload: { name: 'sneaky' } },
    { method: 'GET' as const, url: '/v1/groups' },
    { method: 'GET' as const, url: `/v1/groups/${groupId}/members` },
    { method: 'POST' as const, url: `/v1/groups/${groupId}/members`, payload: { user_id: mike.id } },
  ]
  for (const request of requests) {
    refused(t, await app.inject(request), 401, 'MISSING_TOKEN', `${request.method} ${request.url}`)
  }

  const list = await membersOf(t, app, ava, groupId)
  t.same(list.members, [ava.id], 'nobody was added')
  t.equal((await listMine(app, mike)).json<{ count: number }>().count, 0, 'mike is in no group')
})
