import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { groupHistory, postGroupMessage } from '../../src/domain/messages.js'
import { GroupMessageIn, GroupMessageOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** Messages: send to a group (persist, then publish through the hub) and read its history. */
const messages: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const ports = { groups: fastify.store.groups, messages: fastify.store.messages, hub: fastify.hub }

  const sendOptions = { schema: schemas.postGroupMessage, ...fastify.chatRateLimits.send }
  fastify.post('/v1/messages/group/:groupID', sendOptions, async (request, reply) => {
    const { message, created } = await postGroupMessage(
      ports,
      request.chatUser.id,
      request.params.groupID,
      request.body,
    )
    if (created) fastify.chatMetrics.messageStored('group')
    else reply.header('idempotent-replayed', 'true')
    return reply.code(201).send(message)
  })

  fastify.get('/v1/groups/:groupID/messages', { schema: schemas.groupHistory }, async (request) => {
    const { groupID } = request.params
    const page = await groupHistory(ports, request.chatUser.id, groupID, request.query)
    return { group_id: groupID, ...page }
  })

  fastify.realtime.sends(GroupMessageOut)
  fastify.realtime.frame('group_message', GroupMessageIn, async (frame, connection) => {
    const { type: _frameType, ref: _ref, group_id, ...input } = frame
    await fastify.chatRateLimits.sendBudget.charge(connection.userId) // the same budget as REST sends
    const { message, created } = await postGroupMessage(ports, connection.userId, group_id, input)
    if (created) fastify.chatMetrics.messageStored('group')
    return { type: 'ack', message, duplicate: !created }
  })
}

export default messages
