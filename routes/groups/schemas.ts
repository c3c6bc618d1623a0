import { Type } from '@sinclair/typebox'
import { errorResponses, Id } from '../../src/schemas/common.js'
import { Group, GroupMember } from '../../src/schemas/group.js'

const bearer = [{ bearerAuth: [] }]
export const GroupParams = Type.Object({ groupID: Id() })

export const createGroup = {
  tags: ['groups'],
  summary: 'Create a group',
  operationId: 'createGroup',
  description:
    'The caller becomes its owner and first member. A user who already owns `maxOwnedGroups` groups ' +
    '(default 1,000) is refused with 409 `TOO_MANY_GROUPS`.',
  security: bearer,
  body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }) }),
  response: { 201: Group, ...errorResponses(400, 401, 409, 413, 415) },
}

export const listGroups = {
  tags: ['groups'],
  summary: 'List my groups',
  operationId: 'listGroups',
  description: 'Every group the caller is a member of, with the caller’s role.',
  security: bearer,
  response: { 200: Type.Object({ groups: Type.Array(Group), count: Type.Integer() }), ...errorResponses(401) },
}

export const listMembers = {
  tags: ['groups'],
  summary: 'List a group’s members',
  operationId: 'listGroupMembers',
  description: '`members` lists user ids; `member_details` adds names and roles. Members only.',
  security: bearer,
  params: GroupParams,
  response: {
    200: Type.Object({
      group_id: Id(),
      members: Type.Array(Id()),
      member_details: Type.Array(GroupMember),
      count: Type.Integer(),
    }),
    ...errorResponses(400, 401, 403, 404),
  },
}

export const addMember = {
  tags: ['groups'],
  summary: 'Add a member',
  operationId: 'addGroupMember',
  description:
    'Owner or admin only (403 otherwise). Adding someone who is already a member answers 200 with `added: false` and changes nothing. A full group (`maxGroupMembers`, default 10,000) refuses anyone new with 409 `GROUP_FULL`. One user can be added to groups by others at most 30 times a minute (`RATE_LIMIT_MEMBER_ADDS`): past it 429 `RATE_LIMITED` with `Retry-After`.',
  security: bearer,
  params: GroupParams,
  body: Type.Object({ user_id: Id() }),
  response: {
    200: Type.Object({ message: Type.String(), group_id: Id(), user_id: Id(), added: Type.Boolean() }),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
  },
}
