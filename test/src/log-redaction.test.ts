import { connect } from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { redactUrl } from '../../src/redact.js'
import { build, listen, register, settle } from '../helpers.js'

/** Sends one raw HTTP/1.1 request line (so the URL reaches the server exactly as written) and returns the status. */
function rawGet(port: number, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
    })
    let response = ''
    socket.on('data', (chunk: Buffer) => (response += chunk.toString()))
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1] ?? 0)))
    socket.on('error', reject)
  })
}

t.test('the token stays out of the log however its name is spelled', async (t) => {
  const lines: string[] = []
  const stream = { write: (line: string) => void lines.push(line) }
  const app = await build(t, { logger: { level: 'info', stream } })
  const port = await listen(app)
  const ava = await register(app, 'ava')

  // Each of these names the token as far as the query parser is concerned: the socket route accepts it
  // (426 to a plain GET means the token was read and verified; without it the answer is 401).
  const spellings = [
    `/ws?token=${ava.token}`,
    `/ws?%74oken=${ava.token}`,
    `/ws?tok%65n=${ava.token}`,
    `/ws?%74%6F%6B%65%6E=${ava.token}`,
    `/ws?%74%6f%6b%65%6e=${ava.token}&x=1`,
    `/ws?x=1&%74oken=${ava.token}`,
    `/ws#token=${ava.token}`,
    `/ws#%74oken=${ava.token}`,
  ]
  for (const url of spellings) {
    t.equal(await rawGet(port, url), 426, `${url.slice(0, 22)}…: the server read the token`)
  }
  // And a socket that really opens with an encoded name.
  const encoded = new URL(`ws://127.0.0.1:${port}/ws`)
  encoded.search = `%74oken=${ava.token}`
  const socket = new WebSocket(encoded.toString())
  t.teardown(() => socket.terminate())
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })

  await settle(50)
  const log = lines.join('')
  t.ok(log.includes('/ws?%74oken=[REDACTED]'), 'the URL is logged as sent, with the value redacted')
  t.notOk(log.includes(ava.token), 'the token appears nowhere in the log')
  t.notOk(log.includes(ava.token.split('.')[2] ?? 'no-signature'), 'not even its signature')
})

t.test('redactUrl reads names as the query parser does', async (t) => {
  const cases: Array<[string, string]> = [
    ['/ws?token=abc&since=3', '/ws?token=[REDACTED]&since=3'],
    ['/ws?%74oken=abc', '/ws?%74oken=[REDACTED]'],
    ['/ws?tok%65n=abc', '/ws?tok%65n=[REDACTED]'],
    ['/ws?TOKEN=abc', '/ws?TOKEN=[REDACTED]'],
    ['/ws?+token+=abc', '/ws?+token+=[REDACTED]'],
    ['/ws?token=a&token=b', '/ws?token=[REDACTED]&token=[REDACTED]'],
    ['/ws?token=a=b', '/ws?token=[REDACTED]'],
    ['/ws#token=abc', '/ws#token=[REDACTED]'],
    ['/ws?x=1#token=abc', '/ws?x=1#token=[REDACTED]'],
    ['/ws;token=abc', '/ws;token=[REDACTED]'],
    ['/ws?x=%E0&ticket=abc', '/ws?x=%E0&ticket=[REDACTED]'],
    ['/ws?access_token=abc', '/ws?access_token=[REDACTED]'],
    ['/ws?tokens=abc&mytoken=def', '/ws?tokens=abc&mytoken=def'],
    ['/ping', '/ping'],
    ['/v1/users?q=token', '/v1/users?q=token'],
  ]
  for (const [url, expected] of cases) t.equal(redactUrl(url), expected, url)
})
