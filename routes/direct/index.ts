import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { deliverPending, directHistory, postDirectMessage } from '../../src/domain/direct.js'
import { DirectMessageIn, DirectMessageOut, MessageStatusOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/**
 * Direct messages: send to one user (persist, then push through the hub), read the conversation,
 * the `direct_message` socket frame, and delivery of pending messages when the recipient connects.
 */
const direct: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const { store, hub, realtime } = fastify
  const ports = { users: store.users, messages: store.messages, direct: store.direct, hub }

  const sendOptions = { schema: schemas.postDirectMessage, ...fastify.chatRateLimits.send }
  fastify.post('/v1/messages/p2p/:recipientID', sendOptions, async (request, reply) => {
    const { message, created } = await postDirectMessage(
      ports,
      request.chatUser.id,
      request.params.recipientID,
      request.body,
    )
    if (created) fastify.chatMetrics.messageStored('direct')
    else reply.header('idempotent-replayed', 'true')
    return reply.code(201).send(message)
  })

  fastify.get('/v1/messages/history/:recipientID', { schema: schemas.directHistory }, async (request) => {
    const { recipientID } = request.params
    const page = await directHistory(ports, request.chatUser.id, recipientID, request.query)
    return { user_id: recipientID, ...page }
  })

  realtime.sends(DirectMessageOut, MessageStatusOut)
  realtime.frame('direct_message', DirectMessageIn, async (frame, connection) => {
    const { type: _frameType, ref: _ref, recipient_id, ...input } = frame
    await fastify.chatRateLimits.sendBudget.charge(connection.userId) // the same budget as REST sends
    const { message, created } = await postDirectMessage(ports, connection.userId, recipient_id, input, connection)
    if (created) fastify.chatMetrics.messageStored('direct')
    return { type: 'ack', message, duplicate: !created }
  })

  realtime.onConnect(async (connection) => {
    await deliverPending(ports, connection.userId, (frame) => connection.send(frame))
  })
}

export default direct
