// The package's public surface: the plugin, the app builder, and the types a client needs.
export { chatServer, chatServer as default } from './plugin.js'
export { buildApp, requestIdOf, type BuildAppOptions } from './app.js'
export type { ChatServerOptions, ChatServerConfig } from './options.js'
export type { Database } from './database.js'
export type { Hub, HubConnection, OutgoingFrame } from './domain/ports.js'
export type { User } from './schemas/user.js'
export type { Group, GroupMember, Role } from './schemas/group.js'
export type { Message, MessageKind } from './schemas/message.js'
