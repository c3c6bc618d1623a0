import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and says where the time went: self time by function
 * and by package (a node_modules package, Node's internals, the server's own code, native/GC).
 */
interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

interface ProfileEntry {
  self_pct: number
  name: string
}

export interface ProfileSummary {
  total_ms: number
  /** Share of the profile the process was idle (waiting on I/O); the percentages below are of the busy rest. */
  idle_pct: number
  top_functions: ProfileEntry[]
  by_package: ProfileEntry[]
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (modules?.[1]) return modules[1]
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const own = /\/dist\/(src|plugins|routes|migrations)\//.exec(url)
  if (own?.[1]) return `server ${own[1]}/`
  return url
}

const top = (totals: Map<string, number>, all: number, n: number): ProfileEntry[] =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, time]) => ({ self_pct: Math.round((time / all) * 1000) / 10, name }))

export function summarizeProfile(file: string, n = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let all = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    const frame = byId.get(id)?.callFrame
    if (!frame) return
    if (frame.functionName === '(idle)') {
      idle += delta
      return
    }
    all += delta
    const where = frame.url ? ` ${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}` : ''
    const name = `${frame.functionName || '(anonymous)'}${where}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta)
    const pkg = packageOf(frame.url, frame.functionName)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta)
  })
  return {
    total_ms: Math.round((all + idle) / 1000),
    idle_pct: Math.round((idle / (all + idle)) * 1000) / 10,
    top_functions: top(byFunction, all, n),
    by_package: top(byPackage, all, n),
  }
}

// `node dist/bench/lib/profile.js <file.cpuprofile>` prints the summary of any profile.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2]
  if (!file) throw new Error('usage: node dist/bench/lib/profile.js <file.cpuprofile>')
  console.log(JSON.stringify(summarizeProfile(file, 25), null, 2))
}
