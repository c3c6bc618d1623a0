import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { addReaction, deleteMessage, editMessage, removeReaction } from '../../src/domain/message-actions.js'
import { MessageDeletedOut, MessageUpdatedOut, ReactionOut } from '../../src/schemas/frames/index.js'
import * as schemas from './schemas.js'

/** What happens to a message after it is stored: edit, delete, react. */
const messageActions: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  const { store, hub } = fastify
  const ports = { groups: store.groups, messages: store.messages, reactions: store.reactions, hub }
  fastify.realtime.sends(MessageUpdatedOut, MessageDeletedOut, ReactionOut)

  fastify.patch('/v1/messages/:messageID', { schema: schemas.editMessage }, async (request) =>
    editMessage(ports, request.chatUser.id, request.params.messageID, request.body.content),
  )

  fastify.delete('/v1/messages/:messageID', { schema: schemas.deleteMessage }, async (request) => {
    const { messageID } = request.params
    const { deleted } = await deleteMessage(ports, request.chatUser.id, messageID)
    return { message: deleted ? 'Message deleted' : 'Message was already deleted; nothing changed', id: messageID }
  })

  fastify.post('/v1/messages/:messageID/reactions', { schema: schemas.addReaction }, async (request, reply) => {
    const { maxReactionsPerMessage } = fastify.chatConfig
    const { messageID } = request.params
    const result = await addReaction(ports, request.chatUser.id, messageID, request.body.emoji, maxReactionsPerMessage)
    return reply.code(result.action === 'added' ? 201 : 200).send(result)
  })

  fastify.delete('/v1/messages/:messageID/reactions/:emoji', { schema: schemas.removeReaction }, async (request) =>
    removeReaction(ports, request.chatUser.id, request.params.messageID, request.params.emoji),
  )
}

export default messageActions
