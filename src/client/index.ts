// `chatserver/client`: a typed client for the chat server's REST API and socket, for Node 20 and browsers.
// Plain ES modules that import only each other at run time, so a browser loads them without a bundler.
export { ChatClient, type ChatClientOptions, type FetchLike } from './rest.js'
export {
  ChatSocket,
  DEFAULT_RECONNECT,
  type ChatSocketOptions,
  type ConnectionEvent,
  type ReadMarker,
  type ReconnectOptions,
  type SocketState,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.js'
export { ChatApiError, ChatSocketError } from './errors.js'
export type * from './types.js'
