import { join } from 'node:path'
import type { HttpLoadApi, LoadResult } from '../clients/http-load.js'
import {
  alternate,
  bestOf,
  connectAll,
  Scope,
  startSocketClients,
  tokensFor,
  type BenchContext,
  type SocketClients,
} from '../lib/context.js'
import { round } from '../lib/histogram.js'
import type { IpcClient } from '../lib/ipc.js'
import { sleep, startClient, stopProcess } from '../lib/procs.js'
import { copySchema } from '../lib/seed.js'
import { startChatServer, startFloor, type Listener } from '../lib/server.js'

/**
 * Scenario 2, send throughput: autocannon posting `POST /v1/messages/group/:id` at the bench concurrency to
 * a group whose members have no socket open, then to one with `listeners` open sockets (each of which must
 * receive every message). Floor: a bare Fastify route with one prepared better-sqlite3 insert into a copy
 * of the server's schema. Floor and server alternate, `rounds` times each; the best round of each is reported.
 */

const BODY = JSON.stringify({ content: 'A message of a typical length for a chat, sent by the benchmark.' })

export function startLoad(scope: Scope, name = 'http-load'): IpcClient<HttpLoadApi> {
  const load = startClient<HttpLoadApi>(name, 'clients/http-load.js')
  scope.add(() => stopProcess(load.child, 5000))
  return load
}

function post(ctx: BenchContext, load: IpcClient<HttpLoadApi>, listener: Listener, seconds: number) {
  return load.call('run', {
    url: listener.url,
    method: 'POST',
    path: `/v1/messages/group/${listener.name === 'server' ? ctx.layout.sendGroupId : 1}`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.tokens.get(1)}` },
    body: BODY,
    connections: ctx.config.concurrency,
    seconds,
  })
}

const figures = (result: LoadResult) => ({
  rps: round(result.rps, 0),
  requests: result.requests,
  non_2xx: result.requests - result.ok,
  errors: result.errors + result.timeouts,
  latency: result.latency,
})

/** One measured server round; with listeners, also how many of the 201s each listener received. */
async function serverRound(
  ctx: BenchContext,
  load: IpcClient<HttpLoadApi>,
  server: Listener,
  clients: SocketClients,
): Promise<ReturnType<typeof figures> & { listener_lost: number }> {
  const client = clients[0]
  const before = client ? await client.call('frames', undefined) : undefined
  const result = await post(ctx, load, server, ctx.config.send.seconds)
  let lost = 0
  if (client && before) {
    await sleep(1000) // let the last frames arrive
    const after = await client.call('frames', undefined)
    // In-flight requests when autocannon stops may still be delivered: more frames than 201s is fine.
    lost = Math.max(0, result.ok - (after.perSocketMin - before.perSocketMin))
  }
  return { ...figures(result), listener_lost: lost }
}

export async function send(ctx: BenchContext): Promise<void> {
  const { config } = ctx
  const scope = new Scope()
  try {
    const floorDb = join(ctx.workDir, 'floor-insert.db')
    copySchema(ctx.dbFile, floorDb)
    const floorServer = await startFloor('floors/fastify-sqlite.js', [floorDb, '-'], ctx.workDir)
    scope.add(() => floorServer.stop())
    const server = await startChatServer({ dbFile: ctx.dbFile, workDir: ctx.workDir })
    scope.add(() => server.stop())
    const floorLoad = startLoad(scope, 'http-load-floor')
    const load = startLoad(scope)
    const warmSeconds = Math.max(1, Math.round(config.send.seconds / 5))
    await post(ctx, floorLoad, floorServer, warmSeconds)

    for (const listeners of [0, config.send.listeners]) {
      const clients = listeners > 0 ? startSocketClients(scope, 1) : []
      if (listeners > 0) {
        // Users 2..listeners+1 are the group's other members.
        const opened = await connectAll(clients, server.wsUrl, tokensFor(ctx, 2, listeners + 1, listeners))
        if (opened.failed) throw new Error(`${opened.failed} listener sockets failed: ${opened.firstError}`)
      }
      await post(ctx, load, server, warmSeconds)
      await sleep(500)
      const runs = await alternate(
        config.rounds,
        async () => figures(await post(ctx, floorLoad, floorServer, config.send.seconds)),
        () => serverRound(ctx, load, server, clients),
      )
      await Promise.all(clients.map((client) => client.call('close', undefined)))
      const s = bestOf(runs.server, (run) => run.rps)
      const floor = bestOf(runs.floor, (run) => run.rps)
      const lost = runs.server.reduce((sum, run) => sum + run.listener_lost, 0)
      const ratio = floor.rps > 0 ? round(s.rps / floor.rps) : null
      ctx.emit({
        scenario: 'send',
        listeners,
        concurrency: config.concurrency,
        seconds: config.send.seconds,
        rounds: runs.server.length,
        ...s,
        listener_lost: lost,
        rounds_rps: runs.server.map((run) => run.rps),
        floor: { ...floor, rounds_rps: runs.floor.map((run) => run.rps) },
        ratio_to_floor: ratio,
        target: 'rps >= 0.7 x floor',
        meets_target: ratio !== null && ratio >= 0.7 && s.non_2xx === 0 && lost === 0,
      })
    }
    const warnings = server.warnings()
    if (warnings) console.error(`bench: the server logged ${warnings} warnings during the send scenario`)
  } finally {
    await scope.close()
  }
}
