import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { SenderApi, SendResult } from '../clients/sender.js'
import {
  connectAll,
  resultsDir,
  Scope,
  startSocketClients,
  tokensFor,
  type BenchContext,
  type SocketClients,
} from '../lib/context.js'
import { Histogram, round, type LatencySummary } from '../lib/histogram.js'
import type { IpcClient } from '../lib/ipc.js'
import { summarizeProfile, type ProfileSummary } from '../lib/profile.js'
import { cpuSeconds, machineBusySeconds, sleep, startClient, stopProcess } from '../lib/procs.js'
import { startChatServer, startFloor, type Listener } from '../lib/server.js'

/**
 * Scenario 1, group fan-out. One group, `members` sockets (one per member, spread over the client
 * processes); a sender process posts over REST at the bench concurrency. The real server and the floor (the
 * raw `ws` broadcaster) are both up, each with its own sockets, and measured in alternating rounds so that
 * noise from other work on the machine hits both alike:
 * - closed loop: a fixed count as fast as answers come back → deliveries/s (best round of each);
 * - paced: a fixed rate (half what the slower of the two sustained) → end-to-end latency at a sustainable rate.
 * Every run also records the CPU seconds of each process: the server's CPU per delivery against the floor's
 * is the figure least disturbed by a busy machine.
 */

export interface RunFigures {
  messages: number
  deliveries: number
  deliveries_per_s: number
  messages_per_s: number
  latency: LatencySummary
  lost: number
  duplicates: number
  non_2xx: number
  send_errors: number
  http_p99_ms: number
  sender_max_behind_ms?: number
  /** CPU seconds during the run: the measured process, the socket clients, the sender, anything else. */
  cpu_s: { target: number; clients: number; sender: number; other: number; wall: number }
  /** CPU of the measured process per delivery, in µs. */
  cpu_us_per_delivery: number
}

/** What a fan-out run drives: where the sender posts, the processes whose CPU is measured, the receivers. */
export interface Target {
  name: string
  /** The server the sender posts to. */
  url: string
  /** The server processes measured (one instance, or every instance of a scaled-out run). */
  pids: number[]
  clients: SocketClients
  sender: IpcClient<SenderApi>
  sockets: number
  connect_ms: number
}

async function setUp(
  ctx: BenchContext,
  scope: Scope,
  kind: 'server' | 'floor',
  profileDir?: string,
): Promise<{ target: Target; listener: Listener }> {
  const listener =
    kind === 'server'
      ? await startChatServer({
          dbFile: ctx.dbFile,
          workDir: ctx.workDir,
          ...(profileDir ? { cpuProfDir: profileDir } : {}),
        })
      : await startFloor('floors/ws-broadcast.js', [], ctx.workDir)
  scope.add(() => listener.stop())
  const clients = startSocketClients(scope, ctx.config.clientProcesses)
  const sender = startClient<SenderApi>(`sender-${kind}`, 'clients/sender.js')
  scope.add(() => stopProcess(sender.child, 5000))
  const members = ctx.config.fanout.members
  const connected = await connectAll(clients, listener.wsUrl, tokensFor(ctx, 1, members, members))
  if (connected.failed > 0) throw new Error(`${kind}: ${connected.failed} sockets failed: ${connected.firstError}`)
  const target = {
    name: listener.name,
    url: listener.url,
    pids: [listener.pid],
    clients,
    sender,
    sockets: connected.opened,
    connect_ms: round(connected.ms, 0),
  }
  return { target, listener }
}

const sendArgs = (ctx: BenchContext, target: Target) => ({
  url: target.url,
  path: `/v1/messages/group/${ctx.layout.fanGroupId}`,
  token: ctx.tokens.get(1)!,
  concurrency: ctx.config.concurrency,
})

/** Unmeasured messages (JIT, pools), then waits until every socket has all of them. */
export async function warmUp(ctx: BenchContext, target: Target): Promise<void> {
  const warm = await target.sender.call('run', {
    ...sendArgs(ctx, target),
    count: ctx.config.fanout.warmup,
    marker: 'w',
  })
  for (let waited = 0; waited < 30_000; waited += 100) {
    const counts = await Promise.all(target.clients.map((client) => client.call('frames', undefined)))
    if (counts.every((c) => c.perSocketMin >= warm.ok)) return
    await sleep(100)
  }
  throw new Error(`${target.name}: warm-up frames did not all arrive`)
}

/** One closed-loop (`count`) or paced (`rate` for `seconds`) run, with its figures. */
export async function runOnce(
  ctx: BenchContext,
  target: Target,
  run: { count: number } | { rate: number; seconds: number },
): Promise<RunFigures> {
  const { clients, sender } = target
  const maxSeq = 'count' in run ? run.count : Math.ceil(run.rate * run.seconds) + 1
  await Promise.all(clients.map((client) => client.call('track', { maxSeq })))
  const cpu = () => ({
    target: target.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    clients: clients.reduce((sum, client) => sum + cpuSeconds(client.child.pid!), 0),
    sender: cpuSeconds(sender.child.pid!),
    machine: machineBusySeconds(),
    wall: performance.now() / 1000,
  })
  const before = cpu()
  const sent: SendResult = await sender.call('run', { ...sendArgs(ctx, target), marker: 'b', ...run })
  const collected = await Promise.all(
    clients.map((client) => client.call('collect', { expected: sent.ok, idleMs: 3000, maxWaitMs: 120_000 })),
  )
  const after = cpu()
  const latency = new Histogram()
  for (const part of collected) latency.merge(part.latency)
  const unique = collected.reduce((sum, part) => sum + part.unique, 0)
  const lastAt = Math.max(...collected.map((part) => part.lastAt))
  const used = (key: 'target' | 'clients' | 'sender' | 'machine' | 'wall') => after[key] - before[key]
  const non2xx = Object.entries(sent.statuses)
    .filter(([status]) => !status.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0)
  return {
    messages: sent.ok,
    deliveries: unique,
    deliveries_per_s: round(unique / ((lastAt - sent.firstSendAt) / 1000), 0),
    messages_per_s: round(sent.ok / ((sent.lastAnswerAt - sent.firstSendAt) / 1000), 1),
    latency: latency.summary(),
    lost: collected.reduce((sum, part) => sum + part.lost + part.stray, 0),
    duplicates: collected.reduce((sum, part) => sum + part.duplicates, 0),
    non_2xx: non2xx,
    send_errors: sent.errors,
    http_p99_ms: sent.http.p99_ms,
    ...('rate' in run ? { sender_max_behind_ms: round(sent.maxBehindMs) } : {}),
    cpu_s: {
      target: round(used('target'), 2),
      clients: round(used('clients'), 2),
      sender: round(used('sender'), 2),
      other: round(Math.max(0, used('machine') - used('target') - used('clients') - used('sender')), 2),
      wall: round(used('wall'), 2),
    },
    cpu_us_per_delivery: round((used('target') / Math.max(1, unique)) * 1e6, 2),
  }
}

export const ratio = (a: number, b: number) => (b > 0 ? round(a / b) : null)
export const best = (runs: RunFigures[]) => runs.reduce((a, b) => (b.deliveries_per_s > a.deliveries_per_s ? b : a))
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

export async function fanout(ctx: BenchContext): Promise<void> {
  const { config } = ctx
  let profileDir: string | undefined
  if (config.cpuProfile) {
    profileDir = join(resultsDir, 'profiles', new Date().toISOString().replace(/[:.]/g, '-'))
    mkdirSync(profileDir, { recursive: true })
  }

  const scope = new Scope()
  const serverRuns: RunFigures[] = []
  const floorRuns: RunFigures[] = []
  let server: Target
  let floor: Target
  let serverListener: Listener
  let serverPaced: RunFigures & { rate: number; seconds: number }
  let floorPaced: RunFigures
  let warnings: number
  try {
    ;({ target: server, listener: serverListener } = await setUp(ctx, scope, 'server', profileDir))
    ;({ target: floor } = await setUp(ctx, scope, 'floor'))
    await warmUp(ctx, server)
    await warmUp(ctx, floor)

    const rounds = Math.max(1, config.fanout.rounds)
    const count = Math.ceil(config.fanout.messages / rounds)
    for (let round = 0; round < rounds; round++) {
      serverRuns.push(await runOnce(ctx, server, { count }))
      floorRuns.push(await runOnce(ctx, floor, { count }))
    }

    // Paced: the same rate for both, half of what the slower of the two sustained closed-loop (or
    // BENCH_FANOUT_RATE): a rate both the server and the receiving clients keep up with.
    const sustained = Math.min(best(serverRuns).messages_per_s, best(floorRuns).messages_per_s)
    const rate = config.fanout.pacedRate || Math.max(1, Math.floor(sustained / 2))
    const paced = { rate, seconds: config.fanout.pacedSeconds }
    serverPaced = { ...(await runOnce(ctx, server, paced)), ...paced }
    floorPaced = await runOnce(ctx, floor, paced)
    warnings = serverListener.warnings()
  } finally {
    await scope.close() // stops the server too, which writes its CPU profile
  }

  let profile: ({ file: string } & ProfileSummary) | undefined
  if (profileDir) {
    const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'))
    if (file) profile = { file: join(profileDir, file), ...summarizeProfile(join(profileDir, file), 15) }
  }

  const s = best(serverRuns)
  const f = best(floorRuns)
  const problems = serverRuns.reduce((sum, run) => sum + run.lost + run.duplicates + run.non_2xx + run.send_errors, 0)
  const satRatio = ratio(s.deliveries_per_s, f.deliveries_per_s)
  const serverCpu = median(serverRuns.map((run) => run.cpu_us_per_delivery))
  const floorCpu = median(floorRuns.map((run) => run.cpu_us_per_delivery))
  ctx.emit({
    scenario: 'fanout',
    members: config.fanout.members,
    sockets: server.sockets,
    concurrency: config.concurrency,
    client_processes: config.clientProcesses,
    rounds: serverRuns.length,
    // The best round; every round's deliveries/s below.
    ...s,
    lost: serverRuns.reduce((sum, run) => sum + run.lost, 0),
    rounds_deliveries_per_s: serverRuns.map((run) => run.deliveries_per_s),
    median_cpu_us_per_delivery: serverCpu,
    connect_ms: server.connect_ms,
    server_log_warnings: warnings,
    floor: {
      ...f,
      rounds_deliveries_per_s: floorRuns.map((run) => run.deliveries_per_s),
      median_cpu_us_per_delivery: floorCpu,
      sockets: floor.sockets,
      connect_ms: floor.connect_ms,
    },
    ratio_to_floor: satRatio,
    // Floor CPU per delivery ÷ server CPU per delivery: 1 = the server spends no more than a bare broadcaster.
    cpu_efficiency_vs_floor: ratio(floorCpu, serverCpu),
    target: 'deliveries/s >= 0.8 x floor, lost = 0',
    meets_target: satRatio !== null && satRatio >= 0.8 && problems === 0,
    ...(profile ? { profiled: true, profile } : {}),
  })

  const p = serverPaced
  ctx.emit({
    scenario: 'fanout_paced',
    members: config.fanout.members,
    sockets: server.sockets,
    concurrency: config.concurrency,
    client_processes: config.clientProcesses,
    ...p,
    floor: floorPaced,
    // Latency ratios: lower is better, 1 = as fast as the raw broadcaster at the same rate.
    ratio_to_floor: {
      p50: ratio(p.latency.p50_ms, floorPaced.latency.p50_ms),
      p99: ratio(p.latency.p99_ms, floorPaced.latency.p99_ms),
    },
    target: 'e2e p99 <= 20 ms at a sustained rate, lost = 0',
    meets_target: p.latency.p99_ms <= 20 && p.lost + p.duplicates + p.non_2xx + p.send_errors === 0,
    ...(profile ? { profiled: true } : {}),
  })
}
