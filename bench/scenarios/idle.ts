import { round } from '../lib/histogram.js'
import { connectAll, Scope, startSocketClients, tokensFor, type BenchContext } from '../lib/context.js'
import { fdLimit, openFds, rssKiB, sleep } from '../lib/procs.js'
import { startChatServer, startFloor, type Listener } from '../lib/server.js'

/**
 * Scenario 3, idle sockets: a fresh server per size, then that many authenticated sockets opened from the
 * client processes at once (the tokens of `idle.users` users in no group, so no presence traffic: several
 * sockets per user). Server RSS from /proc before and after
 * gives KiB per socket. Floor: the raw `ws` server holding the same number of sockets.
 * A process cannot hold more sockets than its open-files limit: the size is capped (and says so) when the
 * limit (already raised to the hard limit by the bench) is too low.
 */

const SETTLE_MS = 3000
const FD_MARGIN = 64

interface Held {
  requested: number
  sockets: number
  capped_by?: string
  connect_ms: number
  connects_per_s: number
  rss_before_kib: number
  rss_after_kib: number
  kib_per_socket: number
  failed: number
}

async function hold(ctx: BenchContext, start: () => Promise<Listener>, requested: number): Promise<Held> {
  const scope = new Scope()
  try {
    const listener = await start()
    scope.add(() => listener.stop())
    const clients = startSocketClients(scope, ctx.config.idle.clientProcesses)
    await Promise.all(clients.map((client) => client.ready))
    await sleep(1000)
    const before = rssKiB(listener.pid)
    const limit = fdLimit(listener.pid)
    const room = limit - openFds(listener.pid) - FD_MARGIN
    const sockets = Math.min(requested, room)
    const tokens = tokensFor(ctx, ctx.layout.firstIdleUser, ctx.layout.lastIdleUser, sockets)
    const connected = await connectAll(clients, listener.wsUrl, tokens, 64)
    await sleep(SETTLE_MS)
    const after = rssKiB(listener.pid)
    return {
      requested,
      sockets: connected.opened,
      ...(sockets < requested ? { capped_by: `open-files limit ${limit} of the server process` } : {}),
      connect_ms: round(connected.ms, 0),
      connects_per_s: round(connected.opened / (connected.ms / 1000), 0),
      rss_before_kib: before,
      rss_after_kib: after,
      kib_per_socket: round((after - before) / Math.max(1, connected.opened), 2),
      failed: connected.failed,
    }
  } finally {
    await scope.close()
  }
}

export async function idle(ctx: BenchContext): Promise<void> {
  for (const requested of ctx.config.idle.steps) {
    const server = await hold(ctx, () => startChatServer({ dbFile: ctx.dbFile, workDir: ctx.workDir }), requested)
    const floor = await hold(ctx, () => startFloor('floors/ws-broadcast.js', [], ctx.workDir), requested)
    const ratio = floor.kib_per_socket > 0 ? round(server.kib_per_socket / floor.kib_per_socket) : null
    ctx.emit({
      scenario: 'idle_sockets',
      ...server,
      floor,
      // Memory ratio: lower is better, 1 = as lean as a bare `ws` server.
      ratio_to_floor: ratio,
      target: '<= 8 KiB server RSS per socket; 20,000 sockets on one process',
      meets_target: server.kib_per_socket <= 8 && server.failed === 0 && server.sockets === requested,
    })
  }
}
