import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { changeRole, deleteGroup, removeMember, renameGroup } from '../../src/domain/membership.js'
import { GroupDeletedOut, GroupUpdatedOut, MemberRemovedOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** Group management: rename and delete (owner), roles and ownership (owner), remove members and leave. */
const groupAdmin: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const ports = { groups: fastify.store.groups, hub: fastify.hub }
  fastify.realtime.sends(GroupUpdatedOut, GroupDeletedOut, MemberRemovedOut)

  fastify.patch('/v1/groups/:groupID', { schema: schemas.renameGroup }, async (request) =>
    renameGroup(ports, request.chatUser.id, request.params.groupID, request.body.name),
  )

  fastify.delete('/v1/groups/:groupID', { schema: schemas.deleteGroup }, async (request) => {
    const { groupID } = request.params
    await deleteGroup(ports, request.chatUser.id, groupID)
    return { message: 'Group deleted', group_id: groupID }
  })

  fastify.patch('/v1/groups/:groupID/members/:userID', { schema: schemas.changeRole }, async (request) => {
    const { groupID, userID } = request.params
    const change = await changeRole(ports, request.chatUser.id, groupID, userID, request.body.role)
    return {
      message: change.changed ? `Role changed to ${change.role}` : 'The member already has that role; nothing changed',
      group_id: groupID,
      ...change,
    }
  })

  fastify.delete('/v1/groups/:groupID/members/:userID', { schema: schemas.removeMember }, async (request) => {
    const { groupID, userID } = request.params
    const { left } = await removeMember(ports, request.chatUser.id, groupID, userID)
    return { message: left ? 'You left the group' : 'Member removed', group_id: groupID, user_id: userID, left }
  })
}

export default groupAdmin
