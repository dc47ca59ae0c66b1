// What the browser tests share: the child processes they start and stop,
// failing with the server's log, waiting, free ports, the test SMTP server
// and the Chromium they drive.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits are hang guards, not performance assertions: stretched by
// MAILER_TEST_TIMEOUT_SCALE (default 3) as tests/lib/mailertest.py stretches
// its waits and tests/CMakeLists.txt the tests' TIMEOUT.
export const TIMEOUT_SCALE = Number(process.env.MAILER_TEST_TIMEOUT_SCALE || 3);

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

// One test's processes and its way of failing: `log()` gives the text to
// print after a failure (the server's log); `t.browser` is closed on failure.
export function harness(log = () => '') {
  const t = { children: [], browser: null };
  t.cleanup = () => {
    for (const c of t.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  t.fail = (msg) => {
    console.error('FAIL: ' + msg);
    const l = log();
    if (l) console.error(l.slice(-3000));
    if (t.browser) t.browser.close().catch(() => {});
    t.cleanup();
    process.exit(1);
  };
  t.check = (cond, msg) => {
    if (!cond) t.fail(msg);
  };
  t.waitFor = async (pred, what, ms = 30000) => {
    const end = Date.now() + ms * TIMEOUT_SCALE;
    while (Date.now() < end) {
      const v = await pred();
      if (v) return v;
      await sleep(150);
    }
    t.fail('timed out waiting for ' + what);
  };
  process.on('exit', t.cleanup);
  for (const ev of ['uncaughtException', 'unhandledRejection'])
    process.on(ev, (e) => t.fail(String(e && e.stack ? e.stack : e)));
  return t;
}

// Starts tests/smtpd/smtpd.py storing into `store`; resolves to its port.
export async function startSmtpd(t, python, source, store, ...flags) {
  const p = spawn(python, [path.join(source, 'tests/smtpd/smtpd.py'), '--store', store, ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.children.push(p);
  const port = await new Promise((resolve) => {
    const rl = readline.createInterface({ input: p.stdout });
    rl.once('line', (line) => resolve(Number((line.match(/^PORT (\d+)/) || [])[1])));
  });
  t.check(port > 0, 'smtpd.py did not start');
  return port;
}
