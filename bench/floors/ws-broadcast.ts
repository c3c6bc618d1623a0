import { createServer } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

/**
 * Floor for fan-out and idle sockets: the least a Node process can do to broadcast over `ws`. Any socket may
 * connect (no auth); `POST /v1/messages/group/:id` serializes one frame shaped like the server's
 * `group_message` once and writes that buffer to every open socket, then answers 201. No database.
 */
const port = Number(process.env.PORT)
const sockets = new Set<WebSocket>()
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 })
const TEXT = { binary: false } as const
let nextId = 1

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/ping') {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"pong"}')
    return
  }
  const match = request.method === 'POST' ? /^\/v1\/messages\/group\/(\d+)$/.exec(request.url ?? '') : null
  if (!match) {
    response.writeHead(404).end()
    return
  }
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { content: string }
    const message = {
      id: nextId++,
      group_id: Number(match[1]),
      sender_id: 1,
      content: body.content,
      timestamp: new Date().toISOString(),
      kind: 'text',
      media_url: null,
      reply_to_id: null,
      client_msg_id: null,
      edited_at: null,
      deleted: false,
    }
    const frame = Buffer.from(JSON.stringify({ type: 'group_message', ...message }))
    for (const socket of sockets) socket.send(frame, TEXT)
    response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(message))
  })
})

server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => {
    sockets.add(ws)
    ws.on('close', () => sockets.delete(ws))
    ws.on('error', () => ws.terminate())
  })
})

server.listen(port, '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
