// The client as `npm run build` emits it (the same compiler and tsconfig.build.json, into a temporary folder):
// at run time it imports nothing but its own relative files, so a browser loads it as plain ES modules without a
// bundler, and the emitted module works against the real server. The package's `chatserver/client` export points
// at the same files in `dist/`.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import ts from 'typescript'
import WebSocket from 'ws'
import type * as Client from '../../../src/client/index.js'
import { build, createGroup, listen, register, tempDir } from '../../helpers.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const clientDir = join(root, 'src', 'client')

/** Compiles the client with the build's settings into `outDir`; returns the emitted JavaScript files. */
function emitClient(outDir: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    { outDir },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
      },
    },
  )
  if (!config) throw new Error('tsconfig.build.json could not be read')
  const options = { ...config.options, declaration: false, sourceMap: false }
  const program = ts.createProgram([join(clientDir, 'index.ts')], options)
  const emitted: string[] = []
  for (const source of program.getSourceFiles()) {
    if (!resolve(source.fileName).startsWith(`${clientDir}/`)) continue
    const result = program.emit(source, (fileName, text) => {
      ts.sys.writeFile(fileName, text)
      if (fileName.endsWith('.js')) emitted.push(resolve(fileName))
    })
    const errors = [...ts.getPreEmitDiagnostics(program, source), ...result.diagnostics]
    if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, ts.createCompilerHost(options)))
  }
  return emitted
}

/** Every module specifier a JavaScript file loads: static imports and re-exports, side-effect and dynamic imports. */
function specifiersOf(code: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ]
  return patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1]!))
}

t.test('the emitted client loads only its own relative files, and no Node built-in', async (t) => {
  const outDir = tempDir(t)
  const files = emitClient(outDir)
  const emittedDir = join(outDir, 'src', 'client')
  t.same(
    files.map((file) => relative(emittedDir, file)).sort(),
    ['errors.js', 'index.js', 'rest.js', 'socket.js', 'types.js'],
    'one module per client file',
  )
  for (const file of files) {
    const name = relative(emittedDir, file)
    const code = readFileSync(file, 'utf8')
    for (const specifier of specifiersOf(code)) {
      t.match(specifier, /^\.\/[\w-]+\.js$/, `${name} imports ${specifier}: relative`)
      t.ok(files.includes(resolve(dirname(file), specifier)), `${name} imports ${specifier}: a client file`)
    }
    t.notMatch(code, /\brequire\s*\(|\bprocess\.|\bBuffer\b|['"]node:/, `${name} uses no Node-only global`)
  }
  t.same(specifiersOf(readFileSync(join(emittedDir, 'types.js'), 'utf8')), [], 'the types load nothing at all')
  t.ok(specifiersOf(readFileSync(join(emittedDir, 'index.js'), 'utf8')).length > 0, 'the scan finds imports')

  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, { types: string; default: string }>
  }
  t.same(
    manifest.exports['./client'],
    { types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' },
    'chatserver/client is the emitted index in dist/',
  )
  t.match(JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')), { extends: './tsconfig.json' })
  const tsconfig = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path)).config as {
    compilerOptions: { outDir: string }
  }
  t.equal(tsconfig.compilerOptions.outDir, 'dist')
})

t.test(
  'the emitted module, loaded as plain JavaScript, logs in, sends and receives against the real server',
  async (t) => {
    const outDir = tempDir(t)
    emitClient(outDir)
    writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }))
    const { ChatClient } = (await import(
      pathToFileURL(join(outDir, 'src', 'client', 'index.js')).href
    )) as typeof Client

    const app = await build(t)
    const baseUrl = `http://127.0.0.1:${await listen(app)}`
    const ava = await register(app, 'ava')
    const mike = await register(app, 'mike')
    const groupId = await createGroup(app, ava, [mike])

    const client = new ChatClient({ baseUrl, WebSocket })
    const session = await client.login({ email: `${ava.username}@example.com`, password: 'correct horse battery' })
    t.equal(session.user.id, ava.id)
    const socket = client.connect()
    t.teardown(() => socket.close())
    const received = new Promise<string>((resolve) => socket.on('group_message', (frame) => resolve(frame.content)))
    const sent = await socket.sendGroupMessage(groupId, 'from the built client')
    t.equal(sent.sender_id, ava.id)
    t.equal(await received, 'from the built client')
  },
)
