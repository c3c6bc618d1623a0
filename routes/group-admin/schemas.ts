import { Type } from '@sinclair/typebox'
import { errorResponses, Id } from '../../src/schemas/common.js'
import { Group, Role } from '../../src/schemas/group.js'
import { createGroup } from '../groups/schemas.js'

const bearer = [{ bearerAuth: [] }]
const GroupParams = Type.Object({ groupID: Id() })
const MemberParams = Type.Object({ groupID: Id(), userID: Id() })

export const renameGroup = {
  tags: ['groups'],
  summary: 'Rename a group',
  operationId: 'renameGroup',
  description: 'Owner only (403 `NOT_GROUP_OWNER`). Every member’s sockets get a `group_updated` frame.',
  security: bearer,
  params: GroupParams,
  body: Type.Object({ name: createGroup.body.properties.name }),
  response: { 200: Group, ...errorResponses(400, 401, 403, 404, 413, 415) },
}

export const deleteGroup = {
  tags: ['groups'],
  summary: 'Delete a group',
  operationId: 'deleteGroup',
  description:
    'Owner only (403 `NOT_GROUP_OWNER`). Its members, messages and reactions go with it. Every member’s ' +
    'sockets get a `group_deleted` frame.',
  security: bearer,
  params: GroupParams,
  response: { 200: Type.Object({ message: Type.String(), group_id: Id() }), ...errorResponses(400, 401, 403, 404) },
}

export const changeRole = {
  tags: ['groups'],
  summary: 'Promote, demote or make owner',
  operationId: 'setMemberRole',
  description:
    'Owner only (403 `NOT_GROUP_OWNER`). `admin` or `member` sets another member’s role; `owner` transfers ' +
    'ownership and the old owner becomes an admin, in one transaction. Setting the role a member already has ' +
    'answers `changed: false` and changes nothing. The owner’s own role changes only by a transfer (409 ' +
    '`OWNER_MUST_TRANSFER`); a user who is not a member is 404 `MEMBER_NOT_FOUND`. Every member’s sockets get ' +
    'a `group_updated` frame with `roles`, the members whose role changed.',
  security: bearer,
  params: MemberParams,
  body: Type.Object({ role: Role }),
  response: {
    200: Type.Object({
      message: Type.String(),
      group_id: Id(),
      user_id: Id(),
      role: Role,
      previous_role: Role,
      changed: Type.Boolean(),
      owner_id: Id('The group’s owner after the change.'),
    }),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
}

export const removeMember = {
  tags: ['groups'],
  summary: 'Remove a member, or leave',
  operationId: 'removeGroupMember',
  description:
    'The owner removes admins and members; an admin removes members (403 `NOT_GROUP_OWNER` for another admin, ' +
    '403 `CANNOT_REMOVE_OWNER` for the owner); a plain member removes nobody else (403 `NOT_GROUP_ADMIN`). ' +
    'Anyone may remove themselves, which is leaving, except the owner (409 `OWNER_CANNOT_LEAVE`: transfer ' +
    'ownership first). A user who is not a member is 404 `MEMBER_NOT_FOUND`. The remaining members and the ' +
    'removed user get a `member_removed` frame; from then on the removed user neither receives the group’s ' +
    'frames nor reads its history.',
  security: bearer,
  params: MemberParams,
  response: {
    200: Type.Object({
      message: Type.String(),
      group_id: Id(),
      user_id: Id(),
      left: Type.Boolean({ description: 'True when the caller removed themselves.' }),
    }),
    ...errorResponses(400, 401, 403, 404, 409),
  },
}
