// Headless Chromium for the demo page's end-to-end test and its screenshot: Debian's `chromium` package
// (`apt-get install chromium`), driven by playwright-core, which downloads no browser of its own.
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

const CHROMIUM_PATH = '/usr/bin/chromium'

/**
 * Running as root needs `--no-sandbox`; there is no GPU. Chromium's own background traffic (updates, sync,
 * QUIC probes) goes nowhere on a closed network and only slows the start, so it is turned off.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
]

/** Why Chromium cannot run here, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium)`
}

/**
 * Starts headless Chromium. Playwright gives each launch a new, empty profile directory (`--user-data-dir`)
 * and removes it when the browser closes, so nothing carries over between runs.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 })
}
