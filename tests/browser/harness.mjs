// What the browser tests share: a `mailer serve` on a random loopback port
// with its own folder, config and database, Debian's Chromium driven by
// playwright-core (headless, JavaScript off: the pages must work without
// it), checks that stop the test at the first failure, SQL on the test's
// database, and screenshots under $MAILER_BUILD_DIR/artifacts/.
//
//   import { Harness } from './harness.mjs';
//   const h = await Harness.start('browser.errors', { smtpPort, limits: {...} });
//   const page = await h.page({ width: 390, height: 844 });
//   ... h.check(cond, msg); h.sql('SELECT ...'); await h.shot(page, 'name');
//   await h.stop();
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MAILER = process.env.MAILER_BIN;
export const SOURCE = process.env.MAILER_SOURCE_DIR || path.resolve(here, '../..');
export const BUILD = process.env.MAILER_BUILD_DIR || os.tmpdir();
export const PYTHON = process.env.PYTHON || '/usr/bin/python3';
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.join(BUILD, 'artifacts');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];
// Waits are hang guards, not performance assertions: stretched by
// MAILER_TEST_TIMEOUT_SCALE (default 3) as tests/lib/mailertest.py stretches
// its waits and tests/CMakeLists.txt the tests' TIMEOUT.
export const TIMEOUT_SCALE = Number(process.env.MAILER_TEST_TIMEOUT_SCALE || 3);

export let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('playwright-core is not installed: run scripts/setup.sh (npm install in tests/browser)');
  process.exit(1);
}
if (!MAILER || !fs.existsSync(CHROMIUM)) {
  console.error('MAILER_BIN or ' + CHROMIUM + ' missing');
  process.exit(1);
}

const children = [];
let current = null;
// Kills the children still running (also run on exit, however the test ends).
export function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', cleanup);
for (const ev of ['uncaughtException', 'unhandledRejection'])
  process.on(ev, (e) => {
    console.error('FAIL:', e);
    cleanup();
    process.exit(1);
  });

// What a test opened itself (a browser of its own) and wants closed when it fails.
const onFail = [];
export function closeOnFail(fn) {
  onFail.push(fn);
}

export function fail(msg) {
  console.error('FAIL: ' + msg);
  if (current && current.context) current.context.close().catch(() => {});
  for (const fn of onFail) fn();
  cleanup();
  process.exit(1);
}
export function check(cond, msg) {
  if (!cond) fail(msg);
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

// Spawns a child that is killed when the test ends, however it ends.
export function child(cmd, args, opts) {
  const c = spawn(cmd, args, opts);
  children.push(c);
  return c;
}

// Starts tests/smtpd/smtpd.py storing into `store`; resolves to its port.
export async function startSmtpd(store, ...flags) {
  const p = child(PYTHON, [path.join(SOURCE, 'tests/smtpd/smtpd.py'), '--store', store, ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve) => {
    const rl = readline.createInterface({ input: p.stdout });
    rl.once('line', (line) => resolve(Number((line.match(/^PORT (\d+)/) || [])[1])));
  });
  check(port > 0, 'smtpd.py did not start');
  return port;
}

export class Harness {
  // name: the test folder under testtmp; opts.smtpPort: deliver there (else the
  // dir transport); opts.limits / opts.extra: more config.
  static async start(name, opts = {}) {
    const h = new Harness();
    current = h;
    h.dir = path.join(BUILD, 'testtmp', name + '.' + process.pid);
    fs.rmSync(h.dir, { recursive: true, force: true });
    fs.mkdirSync(h.dir, { recursive: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    h.port = await freePort();
    h.base = `http://127.0.0.1:${h.port}`;
    h.db = path.join(h.dir, 'mailer.db');
    h.config = path.join(h.dir, 'mailer.ini');
    h.logPath = path.join(h.dir, 'serve.log');
    const limits = Object.entries(opts.limits || {})
      .map(([k, v]) => `${k} = ${v}\n`)
      .join('');
    fs.writeFileSync(
      h.config,
      `[site]
name = Cổng Thông tin điện tử tỉnh Hà Giang
base_url = ${h.base}
timezone = Asia/Ho_Chi_Minh
[database]
path = ${h.db}
[mail]
from_address = tin-tuc@hagiang.example
from_name = Cổng TTĐT Hà Giang
secret = browser-test-secret-0123456789
[delivery]
transport = ${opts.smtpPort ? 'smtp://127.0.0.1:' + opts.smtpPort : 'dir:' + path.join(h.dir, 'out')}
${opts.smtpPort ? '[smtp]\ntls = none\nhelo = mailer.test.example\n' : ''}[http]
listen = 127.0.0.1:${h.port}
[limits]
${limits}[media]
root = ${path.join(SOURCE, 'examples/articles')}
${opts.extra || ''}`,
    );
    h.mailer('init');
    return h;
  }

  mailer(...args) {
    return execFileSync(MAILER, ['--config', this.config, ...args], { encoding: 'utf8' });
  }

  log() {
    return fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, 'utf8') : '';
  }

  async waitFor(pred, what, ms = 30000) {
    const end = Date.now() + ms * TIMEOUT_SCALE;
    while (Date.now() < end) {
      const v = await pred();
      if (v) return v;
      await sleep(150);
    }
    fail('timed out waiting for ' + what + '\n' + this.log().slice(-3000));
  }

  async serve() {
    const logFd = fs.openSync(this.logPath, 'w');
    this.server = child(MAILER, ['--config', this.config, 'serve'], { stdio: ['ignore', logFd, logFd] });
    await this.waitFor(async () => {
      try {
        return (await fetch(this.base + '/healthz')).ok;
      } catch {
        return false;
      }
    }, 'mailer serve');
  }

  // One row per line, columns tab-separated, from the test's database.
  sql(query, ...params) {
    const out = execFileSync(
      PYTHON,
      [
        '-c',
        'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); ' +
          'print("\\n".join("\\t".join(str(x) for x in r) for r in c.execute(sys.argv[2], sys.argv[3:])))',
        this.db,
        query,
        ...params.map(String),
      ],
      { encoding: 'utf8' },
    );
    return out.replace(/\n$/, '');
  }

  // A fresh browser context of its own (profile, viewport), JavaScript off.
  async page(viewport = { width: 390, height: 844 }) {
    if (this.context) await this.context.close();
    const profile = fs.mkdtempSync(path.join(this.dir, 'chromium-profile-'));
    this.context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      deviceScaleFactor: 1,
      locale: 'vi-VN',
      javaScriptEnabled: false,
    });
    return this.context.pages()[0] || (await this.context.newPage());
  }

  async shot(page, name, fullPage = true) {
    await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage });
  }

  async stop() {
    if (this.context) await this.context.close();
    this.context = null;
    if (this.server) {
      this.server.kill('SIGTERM');
      await new Promise((r) => (this.server.exitCode !== null ? r() : this.server.once('exit', r)));
      check(this.server.exitCode === 0, 'mailer serve exit code ' + this.server.exitCode);
    }
    cleanup();
  }
}
