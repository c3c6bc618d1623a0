import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { parseEnvironment, readEnvironment, serverSettings } from './config.js'

/** The `npm start` entry point: configuration from the environment (and `.env`), then listen. */
async function main(): Promise<void> {
  const env = readEnvironment()
  const { port, host, logLevel } = serverSettings(parseEnvironment(env))
  const app = await buildApp({ env, logger: { level: logLevel } })

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info(`${signal} received, shutting down`)
    await app.close()
  })

  await app.listen({ port, host })
  const address = app.server.address()
  const boundPort = typeof address === 'object' && address ? address.port : port
  app.log.info(`🚀 Server running on http://localhost:${boundPort}`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
