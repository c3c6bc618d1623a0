import fp from 'fastify-plugin'
import type { DB } from '../../src/database.js'
import type {
  BacklogStore,
  ChatStore,
  DirectStore,
  GroupStore,
  MessageStore,
  ReactionStore,
  UserStore,
} from '../../src/domain/ports.js'
import { createBacklogStore } from './backlog.js'
import { createChatStore } from './chats.js'
import { createDirectStore } from './direct.js'
import { createGroupStore } from './groups.js'
import { createMessageStore } from './messages.js'
import { createReactionStore } from './reactions.js'
import { createUserStore } from './users.js'

/** The repositories the domain talks to, each a Kysely implementation of its port. */
export interface Stores {
  users: UserStore
  groups: GroupStore
  messages: MessageStore
  chats: ChatStore
  reactions: ReactionStore
  direct: DirectStore
  backlog: BacklogStore
}

export interface StoreOptions {
  /**
   * Keep group member ids in memory between reads (SQLite only; see member-cache.ts). Only when every
   * write to the tables goes through these stores or another connection: not when the database handle
   * is shared with code that may write the members itself.
   */
  cacheMembers?: boolean
}

export function createStores(db: DB, options: StoreOptions = {}): Stores {
  return {
    users: createUserStore(db),
    groups: createGroupStore(db, { cacheMembers: options.cacheMembers ?? false }),
    messages: createMessageStore(db),
    chats: createChatStore(db),
    reactions: createReactionStore(db),
    direct: createDirectStore(db),
    backlog: createBacklogStore(db),
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The repositories the domain talks to. */
    store: Stores
  }
}

/** `fastify.store`: the repositories over `fastify.db`. */
export default fp<StoreOptions>(
  async (fastify, options) => {
    fastify.decorate('store', createStores(fastify.db, options))
  },
  { name: 'chatserver-store', dependencies: ['chatserver-db'] },
)
