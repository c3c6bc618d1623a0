import fp from 'fastify-plugin'
import type { DB } from '../../src/database.js'
import type { GroupStore, MessageStore, UserStore } from '../../src/domain/ports.js'
import '../types.js'
import { createGroupStore } from './groups.js'
import { createMessageStore } from './messages.js'
import { createUserStore } from './users.js'

/** The repositories the domain talks to, each a Kysely implementation of its port. */
export interface Stores {
  users: UserStore
  groups: GroupStore
  messages: MessageStore
}

export function createStores(db: DB): Stores {
  return { users: createUserStore(db), groups: createGroupStore(db), messages: createMessageStore(db) }
}

/** `fastify.store`: the repositories over `fastify.db`. */
export default fp(
  async (fastify) => {
    fastify.decorate('store', createStores(fastify.db))
  },
  { name: 'chatserver-store', dependencies: ['chatserver-db'] },
)
