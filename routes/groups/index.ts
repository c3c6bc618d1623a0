import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { addMember, createGroup, listGroups, listMembers } from '../../src/domain/groups.js'
import { MemberAddedOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** Groups: create, list mine, list and add members. */
const groups: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const { store } = fastify
  const ports = {
    groups: store.groups,
    users: store.users,
    hub: fastify.hub,
    memberAdds: fastify.chatRateLimits.memberAdds,
  }
  fastify.realtime.sends(MemberAddedOut)

  fastify.post('/v1/groups', { schema: schemas.createGroup }, async (request, reply) => {
    const group = await createGroup(
      store.groups,
      request.chatUser.id,
      request.body.name,
      fastify.chatConfig.maxOwnedGroups,
    )
    return reply.code(201).send(group)
  })

  fastify.get('/v1/groups', { schema: schemas.listGroups }, async (request) => {
    const mine = await listGroups(store.groups, request.chatUser.id)
    return { groups: mine, count: mine.length }
  })

  fastify.get('/v1/groups/:groupID/members', { schema: schemas.listMembers }, async (request) => {
    const { groupID } = request.params
    const details = await listMembers(store.groups, request.chatUser.id, groupID)
    return { group_id: groupID, members: details.map((m) => m.user_id), member_details: details, count: details.length }
  })

  fastify.post('/v1/groups/:groupID/members', { schema: schemas.addMember }, async (request) => {
    const { groupID } = request.params
    const { user_id } = request.body
    const { added } = await addMember(ports, request.chatUser.id, groupID, user_id, fastify.chatConfig.maxGroupMembers)
    return {
      message: added ? 'Member added' : 'User is already a member; nothing changed',
      group_id: groupID,
      user_id,
      added,
    }
  })
}

export default groups
