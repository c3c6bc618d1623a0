import type { HttpLoadApi, LoadResult } from '../clients/http-load.js'
import { alternate, bestOf, Scope, type BenchContext } from '../lib/context.js'
import { round } from '../lib/histogram.js'
import type { IpcClient } from '../lib/ipc.js'
import { startChatServer, startFloor, type Listener } from '../lib/server.js'
import { startLoad } from './send.js'

/**
 * Scenario 4, history on the pre-filled database (1,000,000 messages over 1,000 groups by default):
 * `GET /v1/groups/:id/messages?before_id=` for a random group and a random cursor, by a member of every
 * group. Latency with one connection (service time, no queueing), throughput at the bench concurrency.
 * Floor: the same page from one prepared better-sqlite3 select in a bare Fastify route; floor and server
 * alternate, best round of each. Then `GET /v1/chats` for a user in `chatListGroups` conversations
 * (each with its share of the messages, all unread), skipped while the route does not exist.
 */

interface Figures {
  latency: LoadResult['latency']
  rps_single_connection: number
  rps: number
  latency_at_concurrency: LoadResult['latency']
  non_2xx: number
}

const figures = (single: LoadResult, many: LoadResult): Figures => ({
  latency: single.latency,
  rps_single_connection: round(single.rps, 0),
  rps: round(many.rps, 0),
  latency_at_concurrency: many.latency,
  non_2xx: single.requests - single.ok + many.requests - many.ok,
})

async function pages(ctx: BenchContext, load: IpcClient<HttpLoadApi>, listener: Listener): Promise<Figures> {
  const { layout, config } = ctx
  const args = {
    url: listener.url,
    method: 'GET' as const,
    path: '/',
    headers: { authorization: `Bearer ${ctx.tokens.get(layout.readerId)}` },
    seconds: config.history.seconds,
    randomHistory: {
      firstGroup: layout.firstHistoryGroup,
      lastGroup: layout.lastHistoryGroup,
      maxId: layout.maxMessageId,
    },
  }
  const single = await load.call('run', { ...args, connections: 1 })
  const many = await load.call('run', { ...args, connections: config.concurrency })
  return figures(single, many)
}

export async function history(ctx: BenchContext): Promise<void> {
  const { config, layout } = ctx
  const scope = new Scope()
  try {
    const floorServer = await startFloor('floors/fastify-sqlite.js', ['-', ctx.dbFile], ctx.workDir)
    scope.add(() => floorServer.stop())
    const server = await startChatServer({ dbFile: ctx.dbFile, workDir: ctx.workDir })
    scope.add(() => server.stop())
    const floorLoad = startLoad(scope, 'http-load-floor')
    const load = startLoad(scope)
    // Warm-up: JIT and the SQLite page cache of both.
    await pages(ctx, floorLoad, floorServer)
    await pages(ctx, load, server)
    const runs = await alternate(
      config.rounds,
      () => pages(ctx, floorLoad, floorServer),
      () => pages(ctx, load, server),
    )
    const s = bestOf(runs.server, (run) => -run.latency.p99_ms)
    const floor = bestOf(runs.floor, (run) => -run.latency.p99_ms)
    const ratio = floor.latency.p99_ms > 0 ? round(s.latency.p99_ms / floor.latency.p99_ms) : null
    ctx.emit({
      scenario: 'history',
      messages: config.history.messages,
      groups: config.history.groups,
      page_size: 50,
      concurrency: config.concurrency,
      rounds: runs.server.length,
      ...s,
      rounds_p99_ms: runs.server.map((run) => run.latency.p99_ms),
      floor: { ...floor, rounds_p99_ms: runs.floor.map((run) => run.latency.p99_ms) },
      // Latency ratio: lower is better, 1 = as fast as the bare prepared select.
      ratio_to_floor: ratio,
      target: 'page p99 <= 2 ms (one connection)',
      meets_target: s.latency.p99_ms <= 2 && runs.server.every((run) => run.non_2xx === 0),
    })

    // The chat list: detect the route first, so this starts measuring once it lands.
    const auth = { authorization: `Bearer ${ctx.tokens.get(layout.listerId)}` }
    const probe = await fetch(`${server.url}/v1/chats`, { headers: auth })
    const probeBody = await probe.text()
    if (probe.status === 404) {
      ctx.emit({ scenario: 'chat_list', skipped: 'route not present' })
      return
    }
    if (!probe.ok) throw new Error(`GET /v1/chats answered ${probe.status}: ${probeBody.slice(0, 200)}`)
    const chats = (JSON.parse(probeBody) as { count?: number }).count
    const args = {
      url: server.url,
      method: 'GET' as const,
      path: '/v1/chats',
      headers: auth,
      seconds: config.history.seconds,
    }
    await load.call('run', { ...args, connections: 1 })
    const lists = []
    for (let i = 0; i < Math.max(1, config.rounds); i++) {
      const single = await load.call('run', { ...args, connections: 1 })
      const many = await load.call('run', { ...args, connections: config.concurrency })
      lists.push(figures(single, many))
    }
    const c = bestOf(lists, (run) => -run.latency.p99_ms)
    ctx.emit({
      scenario: 'chat_list',
      conversations: chats,
      messages_per_conversation: Math.round(config.history.messages / config.history.groups),
      concurrency: config.concurrency,
      rounds: lists.length,
      ...c,
      rounds_p99_ms: lists.map((run) => run.latency.p99_ms),
      target: 'p99 <= 10 ms (one connection)',
      meets_target: c.latency.p99_ms <= 10 && lists.every((run) => run.non_2xx === 0),
    })
  } finally {
    await scope.close()
  }
}
